"""Every identity's IBM Cloud instance CRN, derived from its hub/group/project.

``crn:v1:prefect-ibmq:local:quantum-computing:<region>:a/<account>:<instance>::`` where
``region`` is the instance's (IBM's location field: ``us-east`` unless configured), and
``account`` is the first 32 hex digits of SHA-256("prefect-ibmq:" + hub) and
``instance`` a UUID-5 of "hub/group/project": the same on every server, across
restarts, and shared by every token of the same project (an IBM instance is a
project's, not a user's). Each part is percent-escaped first ("/" and "%"), so
no two projects share a name or a CRN (hub ``x``, group ``y/z``, project ``w``
is ``x/y%2Fz/w``, not ``x/y/z/w``); a part without either character reads as
it is, so those CRNs are what they always were.
"""

from __future__ import annotations

import hashlib
import uuid

from prefect_ibmq.wire import Identity

from .settings import DEFAULT_REGION

#: Namespace of the instance UUIDs (a UUID-5 of our project URL).
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://github.com/prefect-ibmq/prefect-ibmq/instances")
#: The Global Catalog plan every local instance has.
PLAN_ID = "prefect-ibmq-local-plan"
PLAN_NAME = "Local"


def instance_crn(identity: Identity, region: str = DEFAULT_REGION) -> str:
    """The instance CRN of ``identity``'s hub/group/project, in ``region``."""
    account = hashlib.sha256(f"prefect-ibmq:{identity.hub}".encode()).hexdigest()[:32]
    instance = uuid.uuid5(_NAMESPACE, instance_name(identity))
    return f"crn:v1:prefect-ibmq:local:quantum-computing:{region}:a/{account}:{instance}::"


def instance_name(identity: Identity) -> str:
    """The instance of ``identity`` as ``hub/group/project``, each part escaped (see the module)."""
    return "/".join(_escaped(part) for part in (identity.hub, identity.group, identity.project))


def _escaped(part: str) -> str:
    # Only "%" (first) and "/": any other character stays, so the names of plain parts do not change.
    return part.replace("%", "%25").replace("/", "%2F")

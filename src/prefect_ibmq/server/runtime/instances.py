"""Each project's IBM Quantum instance: its CRN (with its region), name and plan limit, from the config."""

from __future__ import annotations

from dataclasses import dataclass

from prefect_ibmq.wire import Identity

from .crn import instance_crn, instance_name
from .settings import RuntimeSettings


@dataclass(frozen=True)
class Instance:
    """One project's instance as the runtime API shows it."""

    crn: str
    #: The UUID part of the CRN (the Resource Controller's ``guid``).
    guid: str
    name: str
    region: str
    #: Quantum seconds per period; None: unlimited.
    usage_limit_s: float | None


def _guid(crn: str) -> str:
    """The CRN's service-instance field (``...:a/<account>:<guid>::``)."""
    return crn.split(":")[7]


class Instances:
    """The instances of the configured projects (any other project gets the defaults)."""

    def __init__(self, settings: RuntimeSettings) -> None:
        self._settings = settings
        self._specs = {spec.project: spec for spec in settings.instances}

    def of(self, identity: Identity) -> Instance:
        """The instance of ``identity``'s project."""
        project = instance_name(identity)
        spec = self._specs.get(project)
        region = (spec.region if spec else None) or self._settings.default_region
        limit = spec.usage_limit_s if spec and spec.usage_limit_s is not None else self._settings.default_usage_limit_s
        crn = instance_crn(identity, region)
        return Instance(crn=crn, guid=_guid(crn), name=(spec.name if spec else None) or project, region=region,
                        usage_limit_s=limit)

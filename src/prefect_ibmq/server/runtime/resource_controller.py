"""IBM Cloud Resource Controller, as far as quantum instances go: find an instance by name, read it by id.

``GET /v2/resource_instances?name=<name>`` and ``GET /v2/resource_instances/{crn or guid}``,
answered as ``ibm_platform_services.ResourceControllerV2`` reads them (and
``qiskit_ibm_runtime``'s ``Account.resolve_crn``). Each token sees its own project's one
instance; any other name or id is not found. Point the SDK at it with
``RESOURCE_CONTROLLER_URL=<base>`` (``local_runtime_service`` sets it while it builds).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from prefect_ibmq.wire import Identity

from .crn import PLAN_ID
from .deps import runtime_identity, runtime_jobs
from .errors import not_found
from .instances import Instance
from .service import RuntimeJobs

#: IBM Cloud's resource id of the Quantum Computing service (what its instances' ``resource_id`` is).
QUANTUM_RESOURCE_ID = "b6049020-80f4-11eb-a0f7-e35ec9b4054f"
PREFIX = "/v2/resource_instances"
#: The instances' creation time (they exist as long as their project's tokens do).
CREATED = "2024-01-01T00:00:00Z"

router = APIRouter(prefix=PREFIX, tags=["runtime: resource controller"])


def resource(instance: Instance) -> dict[str, Any]:
    """The instance as a Resource Controller resource instance."""
    limit = None if instance.usage_limit_s is None else int(instance.usage_limit_s)
    return {
        "id": instance.crn,
        "guid": instance.guid,
        "crn": instance.crn,
        "url": f"{PREFIX}/{instance.guid}",
        "name": instance.name,
        "region_id": instance.region,
        "account_id": instance.crn.split(":")[6].removeprefix("a/"),
        "resource_id": QUANTUM_RESOURCE_ID,
        "resource_plan_id": PLAN_ID,
        "resource_group_id": "default",
        "state": "active",
        "type": "service_instance",
        "created_at": CREATED,
        "updated_at": CREATED,
        "extensions": {"instance_limit_seconds": limit, "usage_allocation_seconds": limit, "backends": ["ANY"]},
        "parameters": {},
    }


@router.get("")
def list_instances(
    name: str | None = None,
    guid: str | None = None,
    resource_id: str | None = None,
    who: Identity = Depends(runtime_identity),
    runtime: RuntimeJobs = Depends(runtime_jobs),
) -> dict[str, Any]:
    """The caller's instance, if it matches every filter given."""
    instance = runtime.instance(who)
    matches = (
        (name is None or name == instance.name)
        and (guid is None or guid == instance.guid)
        and (resource_id is None or resource_id == QUANTUM_RESOURCE_ID)
    )
    found = [resource(instance)] if matches else []
    return {"rows_count": len(found), "next_url": None, "resources": found}


@router.get("/{instance_id:path}")
def get_instance(
    instance_id: str, who: Identity = Depends(runtime_identity), runtime: RuntimeJobs = Depends(runtime_jobs)
) -> dict[str, Any]:
    """The caller's instance by its CRN or guid; 404 for any other."""
    instance = runtime.instance(who)
    if instance_id not in (instance.crn, instance.guid):
        raise not_found(f"resource instance {instance_id!r}")
    return resource(instance)

"""``/api/v1/backends`` and ``/api/v1/instances/usage``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from prefect_ibmq.wire import Identity

from . import backend_info
from .crn import instance_crn
from .deps import runtime_identity, runtime_service
from .errors import not_found
from .service import RuntimeService

router = APIRouter(tags=["runtime: backends"], dependencies=[Depends(runtime_identity)])


def _simulator(runtime: RuntimeService, name: str) -> Any:
    simulator = runtime.jobs.simulators.get(name)
    if simulator is None:
        raise not_found(f"backend {name!r}")
    return simulator


@router.get("/backends")
def backends(runtime: RuntimeService = Depends(runtime_service)) -> dict[str, Any]:
    """Every backend as a device entry, with its pending jobs."""
    pending = runtime.store.pending_counts()
    return {
        "devices": [
            backend_info.device_entry(sim, pending.get(name, 0)) for name, sim in runtime.jobs.simulators.items()
        ]
    }


@router.get("/backends/{name}/configuration")
def configuration(name: str, runtime: RuntimeService = Depends(runtime_service)) -> dict[str, Any]:
    """One backend's configuration as IBM Quantum Platform writes it."""
    return backend_info.configuration(_simulator(runtime, name))


@router.get("/backends/{name}/properties")
def properties(name: str, runtime: RuntimeService = Depends(runtime_service)) -> dict[str, Any]:
    """One backend's properties (its qubits' and gates' calibration data)."""
    return backend_info.properties(_simulator(runtime, name))


@router.get("/backends/{name}/status")
def status(name: str, runtime: RuntimeService = Depends(runtime_service)) -> dict[str, Any]:
    """One backend's status, with its pending jobs."""
    simulator = _simulator(runtime, name)
    return backend_info.status(simulator, runtime.store.pending_counts().get(name, 0))


@router.get("/instances/usage")
def usage(who: Identity = Depends(runtime_identity)) -> dict[str, Any]:
    """Local instances have no usage limit."""
    return {
        "instance_id": instance_crn(who),
        "usage_consumed_seconds": 0,
        "usage_limit_seconds": None,
        "usage_limit_reached": False,
        "usage_remaining_seconds": None,
    }

"""``/api/v1/backends`` (devices and their mock twins) and ``/api/v1/instances/usage``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from prefect_ibmq.wire import Identity

from ..simulators import Simulator
from . import backend_info
from .deps import runtime_identity, runtime_jobs
from .errors import not_found
from .mock_backends import MOCK_CLASS
from .service import RuntimeJobs
from .usage import usage as instance_usage

router = APIRouter(tags=["runtime: backends"], dependencies=[Depends(runtime_identity)])


def _simulator(runtime: RuntimeJobs, name: str, calibration_id: str | None = None) -> Simulator:
    """The simulator behind device ``name`` (a backend or its mock twin); 404 for others and other calibrations."""
    real = runtime.mocks.get(name, name)
    simulator = runtime.jobs.simulators.get(real)
    if simulator is None:
        raise not_found(f"backend {name!r}")
    if calibration_id is not None and calibration_id != backend_info.calibration_id(simulator):
        raise not_found(f"calibration {calibration_id!r} of backend {name!r}")
    return simulator


@router.get("/backends")
def backends(include_mocks: bool = False, runtime: RuntimeJobs = Depends(runtime_jobs)) -> dict[str, Any]:
    """Every backend as a device entry, with its pending jobs (and, asked for, each mock twin)."""
    pending = runtime.store.pending_counts()
    devices = [
        backend_info.device_entry(sim, pending.get(name, 0)) for name, sim in runtime.jobs.simulators.items()
    ]
    if include_mocks:
        devices += [
            backend_info.device_entry(runtime.jobs.simulators[real], 0, name=mock, kind=MOCK_CLASS)
            for mock, real in runtime.mocks.items()
        ]
    return {"devices": devices}


@router.get("/backends/{name}/configuration")
def configuration(
    name: str, calibration_id: str | None = None, runtime: RuntimeJobs = Depends(runtime_jobs)
) -> dict[str, Any]:
    """One backend's configuration as IBM Quantum Platform writes it; 404 for an unknown calibration."""
    return backend_info.configuration(_simulator(runtime, name, calibration_id), name=name)


@router.get("/backends/{name}/properties")
def properties(
    name: str, calibration_id: str | None = None, runtime: RuntimeJobs = Depends(runtime_jobs)
) -> dict[str, Any]:
    """One backend's properties (its qubits' and gates' calibration data); 404 for an unknown calibration."""
    return backend_info.properties(_simulator(runtime, name, calibration_id), name=name)


@router.get("/backends/{name}/status")
def status(name: str, runtime: RuntimeJobs = Depends(runtime_jobs)) -> dict[str, Any]:
    """One backend's status, with its pending jobs."""
    simulator = _simulator(runtime, name)
    return backend_info.status(simulator, runtime.store.pending_counts().get(simulator.spec.name, 0))


@router.get("/instances/usage")
def usage(
    who: Identity = Depends(runtime_identity), runtime: RuntimeJobs = Depends(runtime_jobs)
) -> dict[str, Any]:
    """The instance's quantum seconds in its plan period, and its limit."""
    return instance_usage(runtime.store, who, runtime.instance(who), runtime.settings.usage_period_days)

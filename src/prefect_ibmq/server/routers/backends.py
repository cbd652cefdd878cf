"""``/v1/backends``: what the server can run jobs on."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from prefect_ibmq.wire import BackendConfiguration, BackendStatus, ErrorBody

from ..auth import current_identity
from ..service import JobBook
from .deps import job_book

router = APIRouter(
    prefix="/backends",
    tags=["backends"],
    dependencies=[Depends(current_identity)],
    # Declared so the OpenAPI document lists every answer the routes give (schemathesis checks it).
    responses={code: {"model": ErrorBody} for code in (401, 404, 422, 429, 503)},
)


@router.get("", response_model=list[BackendConfiguration])
def list_backends(service: JobBook = Depends(job_book)) -> list[BackendConfiguration]:
    """The configuration of every backend."""
    return service.backends()


@router.get("/{name}", response_model=BackendConfiguration)
def get_backend(name: str, service: JobBook = Depends(job_book)) -> BackendConfiguration:
    """One backend's configuration."""
    return service.backend(name)


@router.get("/{name}/status", response_model=BackendStatus)
def backend_status(name: str, service: JobBook = Depends(job_book)) -> BackendStatus:
    """One backend's status, with how many jobs are pending on it."""
    return service.backend_status(name)

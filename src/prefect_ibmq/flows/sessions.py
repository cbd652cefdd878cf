"""Execution modes of a flow's jobs: one by one (``job``), in a ``batch``, or in a dedicated ``session``.

Batches and sessions exist on IBM Quantum Platform only: a flow opens one on
its backend before submitting, every submit task joins it by id (through
``RuntimeOptions``), and the flow closes it when done (its jobs still run). On a
prefect-ibmq job service every job runs on its own, so only ``job`` is accepted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Literal, cast

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE

from prefect_ibmq.blocks import IBMQuantumPlatformCredentials
from prefect_ibmq.runtime.options import RuntimeOptions
from prefect_ibmq.tasks import API_ERROR_RETRIES

MODES = ("job", "batch", "session")
Mode = Literal["job", "batch", "session"]


@task(task_run_name="open-{mode}-{backend_name}", cache_policy=NO_CACHE, **API_ERROR_RETRIES)
def open_session(backend_name: str, mode: str, service: IBMQuantumPlatformCredentials) -> str | None:
    """Open a batch or session on the backend; its id (None when the platform opened none)."""
    session_id = service.get_client().open_session(backend_name, mode)
    get_run_logger().info("Opened %s %s on %s", mode, session_id, backend_name)
    return session_id


@task(task_run_name="close-{session_id}", cache_policy=NO_CACHE, **API_ERROR_RETRIES)
def close_session(session_id: str, service: IBMQuantumPlatformCredentials) -> None:
    """Stop the batch or session accepting jobs (the jobs in it still run)."""
    service.get_client().close_session(session_id)


def runtime_arguments(runtime: RuntimeOptions | None) -> dict[str, Any]:
    """``submit_job``'s keyword for these options: none at all on the job service."""
    return {} if runtime is None else {"runtime": runtime}


@contextmanager
def execution_mode(service: Any, backend_name: str, mode: str | None, default: str = "job",
                   **runtime: Any) -> Iterator[RuntimeOptions | None]:
    """Run the body's jobs in ``mode`` (``default`` when None); yields what ``submit_job(runtime=...)`` takes.

    ``runtime`` holds further ``RuntimeOptions`` fields (program, precision, ...).

    Raises:
        ValueError: An unknown mode, a batch or session on the job service, or runtime options there.
    """
    if mode is not None and mode not in MODES:
        raise ValueError(f"mode={mode!r} is not known; use one of {list(MODES)}")
    if not isinstance(service, IBMQuantumPlatformCredentials):
        if mode not in (None, "job") or runtime:
            raise ValueError(
                f"mode={mode!r} and {sorted(runtime)} need service=IBMQuantumPlatformCredentials(...); "
                "a prefect-ibmq job service runs every job on its own (mode 'job')"
            )
        yield None
        return
    chosen = cast(Mode, mode or default)  # one of MODES: checked above (default is the caller's)
    session_id = open_session(backend_name, chosen, service) if chosen != "job" else None
    try:
        yield RuntimeOptions(session_id=session_id, mode=chosen if session_id else "job", **runtime)
    finally:
        if session_id is not None:
            close_session(session_id, service)

"""Execution modes of a flow's jobs: one by one (``job``), in a ``batch``, or in a dedicated ``session``.

A flow opens the batch or session on its backend before submitting (a task run:
``open-<mode>-<backend>``), every submit task joins it by id (through
``RuntimeOptions``), and the flow closes it when done (its jobs still run). Which
modes and programs there are is the platform's to say (``JobPlatform.modes``,
``.programs``): a prefect-ibmq job service runs every job on its own, IBM Quantum
Platform has batches and sessions too.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prefect import get_run_logger
from prefect.cache_policies import NO_CACHE

from prefect_ibmq.arguments import check_choice
from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.platforms import MODES, JobPlatform, resolve_platform
from prefect_ibmq.runtime.options import RuntimeOptions
from prefect_ibmq.syncable import io_task
from prefect_ibmq.tasks import API_ERROR_RETRIES


@io_task(task_run_name="open-{mode}-{backend_name}", cache_policy=NO_CACHE, **API_ERROR_RETRIES)
async def open_session(backend_name: str, mode: str, service: Any = None) -> str | None:
    """Open a batch or session on the backend; its id (None when the platform opened none).

    Args:
        backend_name: The backend the session runs on.
        mode: ``batch`` or ``session``.
        service: The platform's credentials (see ``resolve_platform``).

    Returns:
        The session's id, or None.

    Raises:
        IBMQValueError: If the platform has no such mode.
    """
    session_id = await resolve_platform(service).open_session(backend_name, mode)
    get_run_logger().info("Opened %s %s on %s", mode, session_id, backend_name)
    return session_id


@io_task(task_run_name="close-{session_id}", cache_policy=NO_CACHE, **API_ERROR_RETRIES)
async def close_session(session_id: str, service: Any = None) -> None:
    """Stop the batch or session accepting jobs (the jobs in it still run).

    Args:
        session_id: The session ``open_session`` opened.
        service: The platform's credentials (see ``resolve_platform``).
    """
    await resolve_platform(service).close_session(session_id)


def check_mode(mode: str | None) -> None:
    """None or one of ``MODES``.

    Raises:
        IBMQValueError: Naming the modes there are.
    """
    if mode is not None:
        check_choice("mode", mode, MODES)


@asynccontextmanager
async def execution_mode(platform: JobPlatform, service: Any, backend_name: str, mode: str | None,
                         default: str = "job", program: str = "sampler",
                         **options: Any) -> AsyncIterator[RuntimeOptions | None]:
    """Run the body's jobs in ``mode`` (``default`` where the platform has it, else ``job``).

    Yields what ``submit_job(runtime=...)`` takes: None when the jobs need nothing but the
    platform's defaults (every job on its own, the sampler, no options).
    ``options`` are further ``RuntimeOptions`` fields (precision, optimization_level).

    Raises:
        IBMQValueError: An unknown mode, a mode or program the platform does not have.
    """
    check_mode(mode)
    if program not in platform.programs:
        raise IBMQValueError(
            f"program {program!r} does not run on {await platform.identity()}; it runs {list(platform.programs)}."
        )
    chosen = mode or (default if default in platform.modes else "job")
    session_id = await open_session(backend_name, chosen, service) if chosen != "job" else None
    try:
        if session_id is None and program == "sampler" and not options:
            yield None
        else:
            yield RuntimeOptions(session_id=session_id, mode=chosen if session_id else "job", program=program,
                                 **options)
    finally:
        if session_id is not None:
            await close_session(session_id, service)

"""Execution modes of a flow's jobs: one by one (``job``), in a ``batch``, or in a dedicated ``session``.

A flow opens the batch or session on its backend before submitting (a task run:
``open-<mode>-<backend>``), every submit task joins it by id (through
``RuntimeOptions``), and the flow closes it when done (its jobs still run). Which
modes and programs there are is the platform's to say (``JobPlatform.modes``,
``.programs``): a prefect-ibmq job service runs every job on its own, IBM Quantum
Platform has batches and sessions too.

A batch or session lives at most its ``max_time`` (IBM: 8 h by default); then it
takes no more jobs and IBM cancels those still queued in it. :class:`ExecutionMode`
is what the flow holds for it: its ``runtime`` options, and ``reopen(error, used)``,
which opens the next batch when a job's batch ended under it, so the job set's
engine resubmits that job there (see :mod:`prefect_ibmq.flows.jobset.runner`).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prefect import get_run_logger
from prefect.cache_policies import NO_CACHE

from prefect_ibmq.arguments import check_choice
from prefect_ibmq.exceptions import IBMQSessionClosedError, IBMQValueError
from prefect_ibmq.flows.job import JobStageError
from prefect_ibmq.platforms import MODES, JobPlatform, resolve_platform
from prefect_ibmq.runtime.options import RuntimeOptions
from prefect_ibmq.runtime.programs import check_primitive
from prefect_ibmq.runtime.records import expired_before_running
from prefect_ibmq.syncable import io_task
from prefect_ibmq.tasks import API_ERROR_RETRIES
from prefect_ibmq.wire import JobRecord


@io_task(task_run_name="open-{mode}-{backend_name}", cache_policy=NO_CACHE, **API_ERROR_RETRIES)
async def open_session(backend_name: str, mode: str, service: Any = None, max_time: int | None = None) -> str | None:
    """Open a batch or session on the backend; its id (None when the platform opened none).

    Args:
        backend_name: The backend the session runs on.
        mode: ``batch`` or ``session``.
        service: The platform's credentials (see ``resolve_platform``).
        max_time: Its maximum time to live in seconds (the platform's default when None).

    Returns:
        The session's id, or None.

    Raises:
        IBMQValueError: If the platform has no such mode.
    """
    session_id = await resolve_platform(service).open_session(backend_name, mode, max_time)
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


def session_ended(error: JobStageError | JobRecord) -> bool:
    """Whether a job failed only because its batch or session ended: a submit refused, or cancelled unrun."""
    if isinstance(error, JobRecord):
        return expired_before_running(error)
    return error.stage == "submit" and isinstance(error.error, IBMQSessionClosedError)


class ExecutionMode:
    """A flow's execution mode: the ``runtime`` options its jobs take, and the batches it opened."""

    def __init__(self, backend_name: str, service: Any, runtime: RuntimeOptions | None,
                 max_time: int | None = None) -> None:
        self.backend_name, self.service, self.max_time = backend_name, service, max_time
        #: What ``submit_job(runtime=...)`` takes now (its ``session_id`` the latest batch's).
        self.runtime = runtime
        #: Every batch or session opened, in order (the first is the flow's, the others replaced one that ended).
        self.session_ids: list[str] = [runtime.session_id] if runtime is not None and runtime.session_id else []
        self._lock = asyncio.Lock()

    async def reopen(self, error: JobStageError | JobRecord, used: Any) -> RuntimeOptions | None:
        """Options to submit the job again with, when ``error`` says its batch ended; None otherwise.

        ``used``: the options the failed attempt was submitted with. Jobs of one batch that
        end together open one new batch: the first opens it, the others are given it.
        """
        used_session = error.session_id if isinstance(error, JobRecord) else getattr(used, "session_id", None)
        if self.runtime is None or used_session is None or not session_ended(error):
            return None
        async with self._lock:
            if self.runtime.session_id == used_session:
                mode = self.runtime.mode
                session_id = await open_session(self.backend_name, mode, self.service, self.max_time)
                if session_id is None:
                    return None
                get_run_logger().warning("%s %s ended before all its jobs ran (%s); their jobs go to %s %s",
                                         mode, used_session, _why(error), mode, session_id)
                self.session_ids.append(session_id)
                self.runtime = self.runtime.model_copy(update={"session_id": session_id})
            return self.runtime


def _why(error: JobStageError | JobRecord) -> str:
    if isinstance(error, JobRecord):
        return f"job {error.job_id} cancelled: {error.error.message if error.error else 'expired'}"
    return error.message


@asynccontextmanager
async def execution_mode(platform: JobPlatform, service: Any, backend_name: str, mode: str | None,
                         default: str = "job", program: str = "sampler", max_time: int | None = None,
                         primitive: str = "sampler", **options: Any) -> AsyncIterator[ExecutionMode]:
    """Run the body's jobs in ``mode`` (``default`` where the platform has it, else ``job``).

    Yields an :class:`ExecutionMode` whose ``runtime`` is what ``submit_job(runtime=...)``
    takes: None when the jobs need nothing but the platform's defaults (every job on its
    own, the default program, no options). ``max_time``: each batch's or session's maximum time
    to live in seconds; ``primitive``: what the body's jobs use ``program`` as (``sampler``
    or ``estimator``; ``executor`` runs both). ``options`` are further ``RuntimeOptions`` fields (precision,
    optimization_level). Every batch opened is closed when the body ends.

    Raises:
        IBMQValueError: An unknown mode, a mode or program the platform does not have, a program
            that runs no ``primitive``.
    """
    check_mode(mode)
    if program not in platform.programs:
        raise IBMQValueError(
            f"program {program!r} does not run on {await platform.identity()}; it runs {list(platform.programs)}."
        )
    check_primitive(program, primitive)
    chosen = mode or (default if default in platform.modes else "job")
    session_id = await open_session(backend_name, chosen, service, max_time) if chosen != "job" else None
    runtime = None
    if session_id is not None or program != RuntimeOptions().program or options:
        runtime = RuntimeOptions(session_id=session_id, mode=chosen if session_id else "job", program=program,
                                 **options)
    execution = ExecutionMode(backend_name, service, runtime, max_time)
    try:
        yield execution
    finally:
        for opened in execution.session_ids:
            await close_session(opened, service)

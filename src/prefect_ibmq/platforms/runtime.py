"""The tasks' operations on IBM Quantum Platform (``IBMQuantumPlatformCredentials``), over ``qiskit-ibm-runtime``.

The stock client is synchronous, so each remote call runs in a worker thread
(``abandon_on_cancel``: Prefect's ``timeout_seconds`` stops the task at once).
IBM's API has no long-poll: ``wait`` reads the job's status at growing intervals
(0.1 s up to 5 s) and reports each change; there are no queue positions to report.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial as bind
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
from qiskit.providers import JobStatus

from prefect_ibmq.exceptions import IBMQJobApiError, IBMQJobInvalidStateError, IBMQJobTimeoutError
from prefect_ibmq.platforms.base import Report
from prefect_ibmq.wire import JobRecord

if TYPE_CHECKING:
    from prefect_ibmq.blocks import IBMQuantumPlatformCredentials
    from prefect_ibmq.runtime.platform import RuntimePlatform

T = TypeVar("T")

#: Seconds between status reads while waiting: brisk at first, then backing off (real jobs wait long).
FIRST_POLL_S, MAX_POLL_S = 0.1, 5.0
#: How long a wait rides out a platform it cannot reach before giving up.
WAIT_OUTAGE_TOLERANCE_S = 60.0
IBM_JOBS_PAGE = "https://quantum.cloud.ibm.com/jobs/"


async def _in_thread(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await anyio.to_thread.run_sync(bind(call, *args, **kwargs), abandon_on_cancel=True)


class RuntimeJobPlatform:
    """IBM Quantum Platform as the tasks see it (see ``platforms/base.py``)."""

    def __init__(self, credentials: IBMQuantumPlatformCredentials) -> None:
        self.credentials = credentials

    def job_link(self, job_id: str) -> str:
        """IBM's job page, or the job's document on a local prefect-ibmq service."""
        if self.credentials.url_resolver == "prefect-ibmq":
            return f"{self.credentials.url}/api/v1/jobs/{job_id}"
        return IBM_JOBS_PAGE + job_id

    async def _platform(self) -> RuntimePlatform:
        return await _in_thread(self.credentials.get_service)

    async def submit(self, circuits: Sequence[Any], backend_name: str, idempotency_key: str,
                     runtime: Any = None, **options: Any) -> str:
        """Submit one job (looked up first by its idempotency tag); ``runtime`` is a ``RuntimeOptions``."""
        from prefect_ibmq.runtime.options import RuntimeOptions

        platform = await self._platform()
        backend = await _in_thread(platform.backend, backend_name)
        extra = (runtime or RuntimeOptions()).run_arguments()
        job = await _in_thread(backend.run, list(circuits), idempotency_key=idempotency_key, **options, **extra)
        return job.job_id()

    async def wait(self, job_id: str, timeout: float | None, report: Report) -> JobRecord:
        """Poll until the job is final, reporting every record read; IBMQJobTimeoutError after ``timeout``."""
        platform = await self._platform()
        job = await _in_thread(platform.job, job_id)
        report(job.record, None)
        deadline = None if timeout is None else anyio.current_time() + timeout
        pause, outage_since = FIRST_POLL_S, None
        while not job.record.status.is_final:
            if deadline is not None and anyio.current_time() >= deadline:
                raise IBMQJobTimeoutError(
                    f"Job {job_id} is still {job.record.status.value} after {timeout} s. Wait again, or cancel it."
                )
            await anyio.sleep(pause if deadline is None else max(0.0, min(pause, deadline - anyio.current_time())))
            pause = min(pause * 1.5, MAX_POLL_S)
            try:
                await _in_thread(job.refresh)
            except IBMQJobApiError:  # waiting only reads: ride out short outages
                outage_since = outage_since or anyio.current_time()
                if anyio.current_time() - outage_since >= WAIT_OUTAGE_TOLERANCE_S:
                    raise
                continue
            outage_since = None
            report(job.record, None)
        return job.record

    async def record(self, job_id: str) -> JobRecord:
        """The job as a JobRecord, read now."""
        platform = await self._platform()
        return (await _in_thread(platform.job, job_id)).record

    async def result(self, job_id: str, partial: bool) -> Any:
        """The final job's result: a ``Result`` for the sampler, a ``PrimitiveResult`` for the estimator.

        Raises:
            IBMQJobInvalidStateError: The job is not final, or was cancelled.
            IBMQJobFailureError: The job failed and ``partial`` is False (IBM keeps no partial results).
        """
        platform = await self._platform()
        job = await _in_thread(platform.job, job_id, metrics=False)
        if not job.record.status.is_final:
            raise IBMQJobInvalidStateError(f"Job {job_id} is {job.record.status.value}; wait until it is final.")
        return await _in_thread(job.result, partial=partial)

    async def status(self, job_id: str) -> JobStatus:
        """The job's qiskit status, read now."""
        platform = await self._platform()
        return await _in_thread(lambda: platform.job(job_id, metrics=False).status())

    async def cancel(self, job_id: str) -> bool:
        """Cancel the job; False when it had already ended."""
        platform = await self._platform()
        return await _in_thread(lambda: platform.job(job_id, metrics=False).cancel())

    async def update_tags(self, job_id: str, replacement_tags: list[str] | None,
                          additional_tags: list[str] | None, removal_tags: list[str] | None) -> list[str]:
        """Replace, add or remove job tags (as ``IBMQJob.update_tags``); returns the tags now on the job."""
        platform = await self._platform()
        job = await _in_thread(lambda: platform.job(job_id, metrics=False))
        return await _in_thread(lambda: job.update_tags(replacement_tags, additional_tags, removal_tags))

    async def update_name(self, job_id: str, name: str) -> str:
        """Rename: IBM Quantum Platform has no job names, so the job's ``job_name:`` tag is rewritten."""
        platform = await self._platform()
        return await _in_thread(lambda: platform.job(job_id, metrics=False).update_name(name))

"""The tasks' operations on a prefect-ibmq job service, over the async client.

Each operation opens an ``AsyncAccountClient`` in the running event loop (a
task may run in any loop) and only awaits, so Prefect's ``timeout_seconds``
stops it at once. Checking circuits and writing QPY (CPU work) run in a worker
thread so the event loop stays free to notice a timeout.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial as bind
from typing import Any

import anyio
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus
from qiskit.result import Result

from prefect_ibmq.api import AsyncAccountClient
from prefect_ibmq.arguments import check_str, tags_update
from prefect_ibmq.backend import IBMQService
from prefect_ibmq.exceptions import IBMQJobApiError, IBMQJobInvalidStateError
from prefect_ibmq.job.record_view import record_with_status
from prefect_ibmq.job.result_checks import check_result_readable, result_unavailable_error
from prefect_ibmq.job.status import api_status_to_job_status
from prefect_ibmq.job.waiting import Waiting, poll_seconds
from prefect_ibmq.platforms.base import Report
from prefect_ibmq.wire import API_PREFIX, ApiJobStatus, JobRecord, JobStatusResponse


class JobServicePlatform:
    """A prefect-ibmq job service (``IBMQService``) as the tasks see it."""

    def __init__(self, service: IBMQService) -> None:
        self.service = service

    def job_link(self, job_id: str) -> str:
        """Where the job's record can be read (with the token)."""
        return f"{self.service.url}{API_PREFIX}/jobs/{job_id}"

    def _api(self) -> AsyncAccountClient:
        return self.service.async_client()

    async def submit(self, circuits: Sequence[QuantumCircuit], backend_name: str, idempotency_key: str,
                     **options: Any) -> str:
        """Check and submit the circuits as one job; the same key gives back the same job.

        ``options`` are those of ``IBMQBackend.prepare_submission`` (shots, job_name, ...).
        """
        backend = await anyio.to_thread.run_sync(self.service.backend, backend_name)
        submission = await anyio.to_thread.run_sync(bind(backend.prepare_submission, list(circuits), **options))
        async with self._api() as api:
            record = await api.job_submit(submission, idempotency_key)
        return record.job_id

    async def wait(self, job_id: str, timeout: float | None, report: Report) -> JobRecord:
        """Long-poll until the job is final, calling ``report`` with every record seen (first and final too).

        Raises:
            IBMQJobTimeoutError: When ``timeout`` seconds pass first.
        """
        waiting = Waiting(job_id, timeout, poll_seconds(None), anyio.current_time)
        async with self._api() as api:
            record = await api.job_get(job_id)
            report(record, queue_position(record))
            while not record.status.is_final:
                seconds = waiting.next_poll(record.status)
                try:
                    # Answers at the first change of status or queue position: each change is reported.
                    answer = await api.job_status(job_id, wait=seconds, known=record.status,
                                                  known_position=queue_position(record))
                except IBMQJobApiError as exc:
                    await anyio.sleep(waiting.unreachable(exc))
                    continue
                waiting.answered()
                record = await _with_status(api, record, answer)
                report(record, queue_position(record))
        return record

    async def record(self, job_id: str) -> JobRecord:
        """The job's record as the service knows it now."""
        async with self._api() as api:
            return await api.job_get(job_id)

    async def result(self, job_id: str, partial: bool) -> Result:
        """The final job's result (with ``partial``, the experiments of a failed job that ran)."""
        async with self._api() as api:
            record = await api.job_get(job_id)
            check_result_readable(record, partial)
            try:
                data = await api.job_result(job_id, partial=partial)
            except IBMQJobInvalidStateError as exc:
                error = result_unavailable_error(record, exc)
                if error is exc:
                    raise
                raise error from exc
        return await anyio.to_thread.run_sync(Result.from_dict, data)

    async def status(self, job_id: str) -> JobStatus:
        """The job's current status."""
        return api_status_to_job_status((await self.record(job_id)).status)

    async def cancel(self, job_id: str) -> bool:
        """Cancel the job; False when it was final already."""
        async with self._api() as api:
            try:
                return (await api.job_cancel(job_id)).cancelled
            except IBMQJobInvalidStateError:
                return False  # it reached a final state before the request arrived

    async def update_tags(self, job_id: str, replacement_tags: list[str] | None,
                          additional_tags: list[str] | None, removal_tags: list[str] | None) -> list[str]:
        """Replace, then add, then remove tags (see ``IBMQJob.update_tags``); returns the new tags."""
        update = tags_update(replacement_tags, additional_tags, removal_tags)
        async with self._api() as api:
            return await api.job_update_tags(job_id, update)

    async def update_name(self, job_id: str, name: str) -> str:
        """Rename the job and return its new name."""
        check_str("name", name)
        async with self._api() as api:
            return await api.job_update_name(job_id, name)


def queue_position(record: JobRecord) -> int | None:
    """The job's place in its backend's queue, when it is queued and the place is known."""
    if record.status is ApiJobStatus.QUEUED and record.queue_info is not None:
        return record.queue_info.position
    return None


async def _with_status(api: AsyncAccountClient, record: JobRecord, answer: JobStatusResponse) -> JobRecord:
    """The record after a status answer; a final one carries the whole record (else it is read once)."""
    updated = record_with_status(record, answer)
    if answer.status.is_final and updated is not answer.record:
        return await api.job_get(record.job_id)  # a server that does not send the record with a final status
    return updated

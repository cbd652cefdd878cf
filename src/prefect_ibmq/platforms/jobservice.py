"""``JobServicePlatform``: a prefect-ibmq job service (``IBMQService``) as the tasks and flows use it.

Its operations only await (the async client, one per event loop), so Prefect's
``timeout_seconds`` stops them at once; checking circuits and writing QPY (CPU
work) run in a worker thread so the event loop stays free. ``shared_client``
hands out the one ``IBMQService`` this process keeps per service and token: each
holds an HTTP connection pool and caches backends, and the embedded default
starts a server, so it is made once.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref
from collections.abc import Sequence
from functools import partial as bind
from typing import Any

import anyio
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus
from qiskit.result import Result

from prefect_ibmq.api import AsyncAccountClient
from prefect_ibmq.arguments import check_str, rejected, tags_update
from prefect_ibmq.backend import IBMQService
from prefect_ibmq.backend.local import DATA_DIR_ENV, resolve_data_dir
from prefect_ibmq.exceptions import IBMQJobApiError, IBMQJobInvalidStateError, IBMQValueError
from prefect_ibmq.job.record_view import record_with_status
from prefect_ibmq.job.result_checks import check_result_readable, result_unavailable_error
from prefect_ibmq.job.status import api_status_to_job_status
from prefect_ibmq.job.waiting import Waiting, poll_seconds
from prefect_ibmq.platforms.base import BackendLimits, Report
from prefect_ibmq.timestamps import parse_iso
from prefect_ibmq.wire import API_PREFIX, ApiJobStatus, JobRecord, JobStatusResponse, legacy_result

#: Jobs read per request when finding a job set's jobs.
FIND_PAGE = 500

_shared: dict[tuple[str | None, str | None, str | None], IBMQService] = {}
_asked: dict[tuple[str | None, str | None, str | None, str | None], IBMQService] = {}
_platforms: weakref.WeakKeyDictionary[IBMQService, JobServicePlatform] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def shared_client(url: str | None, token: str | None, data_dir: str | None = None) -> IBMQService:
    """This process's client of the job service at ``url`` (the embedded default when ``url`` is empty).

    Args:
        url: The job service's URL; None or empty for the embedded default.
        token: The bearer token to use there.
        data_dir: The embedded default's data folder (None: ``PREFECT_IBMQ_DATA_DIR`` or its default).

    Returns:
        The same ``IBMQService`` for the same service and token, however often asked.
    """
    # Every task of every job asks: the answer to the same question is looked up, not worked out again
    # (resolving the embedded default's folder is a realpath, milliseconds on a busy machine).
    asked = (url, token, data_dir, None if url else os.environ.get(DATA_DIR_ENV))
    with _lock:
        client = _asked.get(asked)
        if client is None:
            # A remote service is known by its URL alone; the embedded default by its folder, however named.
            folder = None if url else str(resolve_data_dir(data_dir))
            key = (url, token, folder)
            if key not in _shared:
                _shared[key] = IBMQService(url=url, token=token or "") if url else IBMQService.local(data_dir=folder)
            client = _asked[asked] = _shared[key]
        return client


def job_service_platform(service: IBMQService) -> JobServicePlatform:
    """The one platform of ``service`` in this process (it keeps the service's identity and clients)."""
    with _lock:
        platform = _platforms.get(service)
        if platform is None:
            platform = _platforms[service] = JobServicePlatform(service)
        return platform


class JobServicePlatform:
    """A prefect-ibmq job service: ``/v1`` jobs of circuits, each on its own (no batches or sessions)."""

    modes: tuple[str, ...] = ("job",)
    programs: tuple[str, ...] = ("sampler",)

    def __init__(self, service: IBMQService) -> None:
        self.service = service
        self._identity: str | None = None
        self._preparing = threading.Lock()
        # One async client per event loop: its connections belong to the loop that opened them.
        self._clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, AsyncAccountClient] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        return f"<JobServicePlatform {self.service.url}>"

    def _api(self) -> AsyncAccountClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            client = self._clients[loop] = self.service.async_client()
        return client

    async def identity(self) -> str:
        """``job-service:<store id>``: the id the service keeps in its data folder (its URL on an older server)."""
        if self._identity is None:
            info = await self._api().get_service_info()
            store_id = info.get("store_id") if isinstance(info, dict) else None
            self._identity = f"job-service:{store_id or self.service.url}"
        return self._identity

    def job_link(self, job_id: str) -> str:
        """Where the job's record can be read (with the token)."""
        return f"{self.service.url}{API_PREFIX}/jobs/{job_id}"

    async def limits(self, backend_name: str) -> BackendLimits:
        """The backend's qubits and the most circuits per job (its configuration is read once)."""
        backend = await anyio.to_thread.run_sync(self.service.backend, backend_name)
        configuration = backend.configuration()
        return BackendLimits(backend.name, configuration.n_qubits, backend.max_circuits)

    async def check_circuits(self, circuits: Sequence[QuantumCircuit], backend_name: str,
                             shots: int) -> list[QuantumCircuit]:
        """Each circuit and the shots checked as ``IBMQBackend.run`` checks them (without its job-size limit)."""
        backend = await anyio.to_thread.run_sync(self.service.backend, backend_name)
        return await anyio.to_thread.run_sync(bind(backend.validate_circuits, circuits, shots=shots))

    async def submit(self, circuits: Sequence[QuantumCircuit], backend_name: str, idempotency_key: str,
                     runtime: Any = None, **options: Any) -> str:
        """Check and submit the circuits as one job; the same key gives back the same job.

        ``options`` are those of ``IBMQBackend.prepare_submission`` (shots, job_name, ...).

        Raises:
            IBMQValueError: A bad argument, or ``runtime`` options (the job service has none).
        """
        if runtime is not None:
            raise IBMQValueError(
                "runtime options need service=IBMQuantumPlatformCredentials(...); the job service has none."
            )
        backend = await anyio.to_thread.run_sync(self.service.backend, backend_name)

        def prepare() -> Any:
            # One at a time, in the order asked: jobs submitted together then reach the service one
            # after another, the first soonest, instead of all at the end of their shared CPU time.
            with self._preparing:
                return backend.prepare_submission(list(circuits), **options)

        submission = await anyio.to_thread.run_sync(prepare)
        record = await self._api().submit_job(submission, idempotency_key)
        return record.job_id

    async def wait(self, job_id: str, timeout: float | None, report: Report) -> JobRecord:
        """Long-poll until the job is final, calling ``report`` with every record seen (first and final too).

        Raises:
            IBMQJobTimeoutError: When ``timeout`` seconds pass first.
        """
        waiting = Waiting(job_id, timeout, poll_seconds(None), anyio.current_time)
        api = self._api()
        record = await api.get_job(job_id)
        report(record, queue_position(record))
        while not record.status.is_final:
            seconds = waiting.next_poll(record.status)
            try:
                # Answers at the first change of status or queue position: each change is reported.
                answer = await api.get_job_status(job_id, wait=seconds, known=record.status,
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
        return await self._api().get_job(job_id)

    async def result(self, job_id: str, partial: bool) -> Result:
        """The final job's result (with ``partial``, the experiments of a failed job that ran)."""
        data = await self.result_data(job_id, partial)
        return await anyio.to_thread.run_sync(lambda: Result.from_dict(legacy_result(data)))

    async def result_data(self, job_id: str, partial: bool, final: JobRecord | None = None) -> dict[str, Any]:
        """The final job's result as the service sent it: columnar (``wire.columnar_result``) or legacy.

        ``final``: the job's final record, if the caller has it (else it is read first).
        """
        api = self._api()
        record = final if final is not None and final.status.is_final else await api.get_job(job_id)
        check_result_readable(record, partial)
        try:
            return await api.get_job_result_data(job_id, partial=partial)
        except IBMQJobInvalidStateError as exc:
            error = result_unavailable_error(record, exc)
            if error is exc:
                raise
            raise error from exc

    async def status(self, job_id: str) -> JobStatus:
        """The job's current status."""
        return api_status_to_job_status((await self.record(job_id)).status)

    async def cancel(self, job_id: str) -> bool:
        """Cancel the job; False when it was final already."""
        try:
            return (await self._api().cancel_job(job_id)).cancelled
        except IBMQJobInvalidStateError:
            return False  # it reached a final state before the request arrived

    async def update_tags(self, job_id: str, replacement_tags: list[str] | None,
                          additional_tags: list[str] | None, removal_tags: list[str] | None) -> list[str]:
        """Replace, then add, then remove tags (see ``IBMQJob.update_tags``); returns the new tags."""
        update = tags_update(replacement_tags, additional_tags, removal_tags)
        return await self._api().update_job_tags(job_id, update)

    async def update_name(self, job_id: str, name: str) -> str:
        """Rename the job and return its new name."""
        check_str("name", name)
        return await self._api().update_job_name(job_id, name)

    async def find_jobs(self, tag: str) -> list[JobRecord]:
        """Every job tagged ``tag`` that this identity may see, newest first."""
        found: list[JobRecord] = []
        while True:
            page = await self._api().list_jobs({"tags": [tag], "limit": FIND_PAGE, "offset": len(found)})
            found += page.jobs
            if len(page.jobs) < FIND_PAGE:
                return found

    async def quantum_seconds(self, record: JobRecord) -> float | None:
        """The time the job ran (RUNNING to its final step), as the local IBM Quantum bills it; None if it never ran."""
        start = record.time_per_step.get(ApiJobStatus.RUNNING.value)
        end = record.time_per_step.get(record.status.value) if record.status.is_final else None
        if not start or not end:
            return None
        return max(0.0, (parse_iso(end) - parse_iso(start)).total_seconds())

    async def remaining_seconds(self) -> float | None:
        """None: the job service has no plans."""
        return None

    async def open_session(self, backend_name: str, mode: str, max_time: int | None = None) -> str | None:
        """None for ``job``; the job service has no batches or sessions.

        Raises:
            IBMQValueError: For any other mode.
        """
        if mode != "job":
            raise IBMQValueError(
                f"mode={mode!r} needs service=IBMQuantumPlatformCredentials(...); "
                "a prefect-ibmq job service runs every job on its own (mode 'job')."
            )
        return None

    async def close_session(self, session_id: str) -> None:
        """Nothing to close: the job service opens no sessions.

        Raises:
            IBMQValueError: Always (no session was opened here).
        """
        raise rejected("session_id", session_id, "no session id: the job service has no sessions")


def queue_position(record: JobRecord) -> int | None:
    """The job's place in its backend's queue, when it is queued and the place is known."""
    if record.status is ApiJobStatus.QUEUED and record.queue_info is not None:
        return record.queue_info.position
    return None


async def _with_status(api: AsyncAccountClient, record: JobRecord, answer: JobStatusResponse) -> JobRecord:
    """The record after a status answer; a final one carries the whole record (else it is read once)."""
    updated = record_with_status(record, answer)
    if answer.status.is_final and updated is not answer.record:
        return await api.get_job(record.job_id)  # a server that does not send the record with a final status
    return updated

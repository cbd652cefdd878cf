"""``IBMQuantumPlatform``: IBM Quantum Platform as the tasks and flows use it, over the stock ``qiskit-ibm-runtime``.

The stock client is synchronous, so each remote call runs in a worker thread
(``abandon_on_cancel``: Prefect's ``timeout_seconds`` stops a task at once). Where
the platform differs from the legacy job service it says so (see
:mod:`prefect_ibmq.runtime.records`): no queue positions, no partial results, no
job names (a name is a ``job_name:`` tag), no long-poll (``wait`` reads the status
at growing intervals, 0.1 s up to 5 s), and no Idempotency-Key header: a job
carries the tag ``idempotency:<key>`` and the platform is asked for a job with
that tag before every (re)submission, so a retried submit never spends QPU time twice
(a job its expired batch cancelled before it ran does not count: it spent none).
A submit to a batch or session that takes no more jobs (closed, or past its
``max_ttl``) raises ``IBMQSessionClosedError``.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Sequence
from functools import partial as bind
from typing import Any, TypeVar

import anyio
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus

from prefect_ibmq.backend.validation import check_experiment_count, checked_circuits
from prefect_ibmq.exceptions import (
    IBMQJobApiError,
    IBMQJobFailureError,
    IBMQJobInvalidStateError,
    IBMQSessionClosedError,
    IBMQValueError,
)
from prefect_ibmq.job.status import api_status_to_job_status
from prefect_ibmq.job.waiting import Waiting
from prefect_ibmq.platforms.base import MODES, BackendLimits, Report
from prefect_ibmq.runtime.errors import is_session_closed, retrying, transient_as_api_error
from prefect_ibmq.runtime.programs import get_program, known_programs
from prefect_ibmq.runtime.records import (
    IDEMPOTENCY_TAG,
    NAME_TAG,
    RuntimeJobFacts,
    api_status,
    expired_before_running,
    facts_from_document,
    job_record,
    renamed_tags,
    updated_tags,
)
from prefect_ibmq.wire import ApiJobStatus, BackendConfiguration, JobRecord

T = TypeVar("T")

#: Seconds between status reads while waiting: brisk at first, then backing off (real jobs wait long).
FIRST_POLL_S, MAX_POLL_S = 0.1, 5.0
IBM_JOBS_PAGE = "https://quantum.cloud.ibm.com/jobs/"
#: The most jobs IBM's API lists per request.
MAX_PAGE = 200
#: IBM limits the length of a tag; a longer idempotency key is replaced by its digest.
MAX_KEY_LENGTH = 64


_platforms: dict[int, IBMQuantumPlatform] = {}
_platforms_lock = threading.Lock()


def ibm_quantum_platform(service: Any, url: str | None = None, local: bool = False) -> IBMQuantumPlatform:
    """The one platform of the stock ``service`` in this process (it caches the backends it read)."""
    with _platforms_lock:
        platform = _platforms.get(id(service))
        if platform is None or platform.service is not service:
            platform = _platforms[id(service)] = IBMQuantumPlatform(service, url, local)
        return platform


async def _in_thread(call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    return await anyio.to_thread.run_sync(bind(call, *args, **kwargs), abandon_on_cancel=True)


class IBMQuantumPlatform:
    """Backends and jobs of one IBM Quantum Platform instance (the stock ``QiskitRuntimeService``)."""

    modes: tuple[str, ...] = MODES
    programs: tuple[str, ...] = tuple(known_programs())

    def __init__(self, service: Any, url: str | None = None, local: bool = False) -> None:
        self.service = service  # the stock QiskitRuntimeService
        self.url, self.local = url, local
        self.instance: str = service.active_instance()
        self._backends: dict[str, tuple[Any, BackendConfiguration]] = {}
        #: job id -> quantum seconds of the final jobs whose metrics were read (they do not change).
        self._quantum_seconds: dict[str, float] = {}
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<IBMQuantumPlatform {self.url or 'IBM Cloud'} instance={self.instance}>"

    @property
    def _client(self) -> Any:
        """The runtime client's REST client (raw job documents: status, tags and times in one request)."""
        return self.service._get_api_client()

    async def identity(self) -> str:
        """``ibm-quantum:<url>:<instance CRN>`` (no secret: the CRN names the instance, not the key)."""
        return f"ibm-quantum:{self.url or 'ibm-cloud'}:{self.instance}"

    def job_link(self, job_id: str) -> str:
        """IBM's job page, or the job's document on a local prefect-ibmq service."""
        return f"{self.url}/api/v1/jobs/{job_id}" if self.local else IBM_JOBS_PAGE + job_id

    # --- backends -------------------------------------------------------------

    def _backend(self, name: str) -> tuple[Any, BackendConfiguration]:
        """The stock ``IBMBackend`` and its limits as the legacy configuration (read once per name)."""
        with self._lock:
            if name not in self._backends:
                backend = retrying(f"reading backend {name}", lambda: self.service.backend(name))
                self._backends[name] = (backend, _configuration(backend))
            return self._backends[name]

    async def limits(self, backend_name: str) -> BackendLimits:
        """The backend's qubits and the most PUBs per job."""
        _, configuration = await _in_thread(self._backend, backend_name)
        return BackendLimits(backend_name, configuration.n_qubits, configuration.max_experiments)

    async def check_circuits(self, circuits: Sequence[QuantumCircuit], backend_name: str,
                             shots: int) -> list[QuantumCircuit]:
        """Plain circuits (and shots) checked as the legacy backend checks them, before any job is submitted."""
        _, configuration = await _in_thread(self._backend, backend_name)
        return await anyio.to_thread.run_sync(checked_circuits, circuits, configuration, shots)

    # --- jobs -----------------------------------------------------------------

    async def submit(self, circuits: Sequence[Any], backend_name: str, idempotency_key: str,
                     runtime: Any = None, **options: Any) -> str:
        """Submit one job (looked up first by its idempotency tag); ``runtime`` is a ``RuntimeOptions``."""
        from prefect_ibmq.runtime.options import RuntimeOptions

        arguments = (runtime or RuntimeOptions()).run_arguments()
        return await _in_thread(self._submit, list(circuits), backend_name, idempotency_key, **options, **arguments)

    def _submit(self, items: list[Any], backend_name: str, idempotency_key: str | None, *, shots: int | None = None,
                job_name: str | None = None, job_tags: list[str] | None = None, share_level: str | None = None,
                experiment_id: str | None = None, header: Any = None, private: bool = False,
                circuits_checked: bool = False, program: str = "sampler", optimization_level: int | None = 1,
                session_id: str | None = None, session_mode: str | None = None,
                options: dict[str, Any] | None = None) -> str:
        """``header`` is not sent (IBM keeps none); ``share_level``, ``experiment_id`` and ``private`` are refused."""
        _refuse_legacy_only(share_level=share_level, experiment_id=experiment_id, private=private)
        runner = get_program(program)
        backend, configuration = self._backend(backend_name)
        # Plain circuits are sampled: checked as the legacy backend checks them (PUBs are the program's to check).
        if "sampler" in runner.primitives and all(isinstance(item, QuantumCircuit) for item in items):
            if not circuits_checked:
                checked_circuits(items, configuration, shots)
            check_experiment_count(items, configuration)
        key_tag = IDEMPOTENCY_TAG + _short_key(idempotency_key or uuid.uuid4().hex)
        existing = self._jobs_tagged(key_tag, limit=1)  # newest first: the latest submission of this key
        if existing and not expired_before_running(job_record(facts_from_document(existing[0], self.instance))):
            return existing[0]["id"]
        tags = [*(job_tags or []), *([NAME_TAG + job_name] if job_name else []), key_tag]
        pubs = runner.prepare(items, backend, optimization_level)
        try:
            mode = backend if session_id is None else retrying(
                f"joining session {session_id}", lambda: _session_class(session_mode or "batch").from_id(
                    session_id, self.service))
            with transient_as_api_error(f"submitting a {program} job to {backend_name}"):
                return runner.run(mode, pubs, tags, {"shots": shots, **(options or {})}).job_id()
        except Exception as error:
            if session_id is not None and is_session_closed(error):
                raise IBMQSessionClosedError(
                    f"{session_mode or 'batch'} {session_id} accepts no more jobs (closed, or past its max_ttl): "
                    f"{error}; nothing was submitted") from error
            raise

    def _facts(self, job_id: str, metrics: bool = True) -> RuntimeJobFacts:
        """The job as it is now; a final one with its metrics (the steps' times) unless told not to."""
        document = retrying(f"reading job {job_id}", lambda: self._client.job_get(job_id))
        facts = facts_from_document(document, self.instance)
        if metrics and api_status(facts.status).is_final:
            facts.metrics = retrying(f"reading metrics of job {job_id}", lambda: self._client.job_metadata(job_id))
            seconds = (facts.metrics.get("usage") or {}).get("quantum_seconds")
            if seconds is not None:
                self._quantum_seconds[job_id] = float(seconds)
        return facts

    async def quantum_seconds(self, record: JobRecord) -> float | None:
        """The final job's ``usage.quantum_seconds`` from its metrics (read once; the wait has read them already)."""
        if record.job_id not in self._quantum_seconds and record.status.is_final:
            await _in_thread(self._facts, record.job_id)
        return self._quantum_seconds.get(record.job_id)

    async def remaining_seconds(self) -> float | None:
        """``usage_remaining_seconds`` of the instance's usage (None on a plan without a limit)."""
        usage = await _in_thread(retrying, "reading the instance's usage", self.service.usage)
        remaining = usage.get("usage_remaining_seconds")
        return None if remaining is None else float(remaining)

    async def wait(self, job_id: str, timeout: float | None, report: Report) -> JobRecord:
        """Poll until the job is final, reporting every record read; IBMQJobTimeoutError after ``timeout``."""
        waiting = Waiting(job_id, timeout, MAX_POLL_S, anyio.current_time)
        record = job_record(await _in_thread(self._facts, job_id))
        report(record, None)
        pause = FIRST_POLL_S
        while not record.status.is_final:
            await anyio.sleep(min(pause, waiting.next_poll(record.status)))
            pause = min(pause * 1.5, MAX_POLL_S)
            try:
                record = job_record(await _in_thread(self._facts, job_id))
            except IBMQJobApiError as exc:  # waiting only reads: ride out short outages
                await anyio.sleep(waiting.unreachable(exc))
                continue
            waiting.answered()
            report(record, None)
        return record

    async def record(self, job_id: str) -> JobRecord:
        """The job's record as the platform knows it now."""
        return job_record(await _in_thread(self._facts, job_id))

    async def result(self, job_id: str, partial: bool) -> Any:
        """The final job's result: a ``Result`` of counts (sampler), a ``PrimitiveResult`` (estimator).

        IBM keeps no partial results: with ``partial`` a failed job gives its program's
        empty form (sampler: a Result whose experiments all failed; estimator: no PUB results).

        Raises:
            IBMQJobInvalidStateError: The job is not final, or was cancelled.
            IBMQJobFailureError: The job failed and ``partial`` is False.
        """
        return await _in_thread(self._result, job_id, partial)

    async def result_data(self, job_id: str, partial: bool, final: JobRecord | None = None) -> Any:
        """``result``'s: IBM sends no columnar form."""
        return await self.result(job_id, partial)

    def _result(self, job_id: str, partial: bool) -> Any:
        facts = self._facts(job_id, metrics=False)
        status = api_status(facts.status)
        if not status.is_final or status is ApiJobStatus.CANCELLED:
            raise IBMQJobInvalidStateError(f"Job {job_id} is {status.value}; it has no result to read.")
        program = get_program(facts.program)

        def read() -> Any:
            runtime_job = self.service.job(job_id)
            if status is ApiJobStatus.ERROR_RUNNING_JOB:
                message = facts.error_message or "no reason given"
                if not partial:
                    raise IBMQJobFailureError(f"Job {job_id} failed: {message}")
                return program.failed_result(job_id, facts.backend, runtime_job.inputs, message)
            return program.result(job_id, facts.backend, runtime_job.result(), runtime_job.inputs)

        return retrying(f"reading the result of job {job_id}", read)

    async def status(self, job_id: str) -> JobStatus:
        """The job's current status."""
        facts = await _in_thread(self._facts, job_id, metrics=False)
        return api_status_to_job_status(api_status(facts.status))

    async def cancel(self, job_id: str) -> bool:
        """Cancel the job; False when it was already final (IBM answers 409)."""
        return await _in_thread(self._cancel, job_id)

    def _cancel(self, job_id: str) -> bool:
        from qiskit_ibm_runtime.api.exceptions import RequestsApiError

        try:
            with transient_as_api_error(f"cancelling job {job_id}"):
                self._client.job_cancel(job_id)
        except RequestsApiError as error:
            if error.status_code != 409:
                raise
            return False
        return True

    async def update_tags(self, job_id: str, replacement_tags: list[str] | None,
                          additional_tags: list[str] | None, removal_tags: list[str] | None) -> list[str]:
        """Replace, then add, then remove tags (see ``IBMQJob.update_tags``); the adapter's own tags stay."""
        facts = await _in_thread(self._facts, job_id, metrics=False)
        return await _in_thread(self._put_tags, job_id,
                                updated_tags(facts.tags, replacement_tags, additional_tags, removal_tags))

    async def update_name(self, job_id: str, name: str) -> str:
        """Rename: IBM Quantum Platform has no job names, so the job's ``job_name:`` tag is rewritten."""
        facts = await _in_thread(self._facts, job_id, metrics=False)
        await _in_thread(self._put_tags, job_id, renamed_tags(facts.tags, name))
        return name

    def _put_tags(self, job_id: str, tags: list[str]) -> list[str]:
        with transient_as_api_error(f"updating the tags of job {job_id}"):
            self._client.update_tags(job_id, tags)
        return self._facts(job_id, metrics=False).tags

    async def find_jobs(self, tag: str) -> list[JobRecord]:
        """Every job tagged ``tag``, newest first (records without metrics), read in pages of IBM's maximum."""
        documents = await _in_thread(self._jobs_tagged, tag)
        return [job_record(facts_from_document(document, self.instance)) for document in documents]

    def _jobs_tagged(self, tag: str, limit: int | None = None) -> list[dict[str, Any]]:
        documents: list[dict[str, Any]] = []
        while limit is None or len(documents) < limit:
            wanted = MAX_PAGE if limit is None else min(limit - len(documents), MAX_PAGE)
            read_page = bind(self._client.jobs_get, limit=wanted, skip=len(documents), job_tags=[tag])
            page = retrying(f"looking up jobs tagged {tag}", read_page).get("jobs") or []
            documents += page
            if len(page) < wanted:
                break
        return documents

    # --- batches and sessions -------------------------------------------------

    async def open_session(self, backend_name: str, mode: str, max_time: int | None = None) -> str | None:
        """Open a ``batch`` or dedicated ``session`` on the backend; its id (None on a simulator backend).

        ``max_time``: its maximum time to live in seconds (the plan's default, 8 h on IBM, when None).
        """
        session_class = _session_class(mode)
        backend, _ = await _in_thread(self._backend, backend_name)

        def open_one() -> str | None:
            with transient_as_api_error(f"opening a {mode} on {backend_name}"):
                return session_class(backend, max_time=max_time).session_id

        return await _in_thread(open_one)

    async def close_session(self, session_id: str) -> None:
        """Stop the session accepting jobs; its jobs still run."""

        def close() -> None:
            with transient_as_api_error(f"closing session {session_id}"):
                self._client.close_session(session_id)

        await _in_thread(close)


def _configuration(backend: Any) -> BackendConfiguration:
    """A stock backend's limits as the legacy configuration the circuit checks read."""
    config = backend.configuration()
    return BackendConfiguration(
        backend_name=backend.name,
        simulator=bool(getattr(config, "simulator", False)),
        n_qubits=backend.num_qubits,
        basis_gates=list(getattr(config, "basis_gates", []) or []),
        max_experiments=int(getattr(config, "max_experiments", None) or 300),
        max_shots=int(getattr(config, "max_shots", None) or 100_000),
    )


def _session_class(mode: str) -> Any:
    from qiskit_ibm_runtime import Batch, Session

    classes = {"batch": Batch, "session": Session}
    if mode not in classes:
        raise IBMQValueError(f"mode={mode!r} has no session; give one of {sorted(classes)} (or 'job' for none).")
    return classes[mode]


def _short_key(key: str) -> str:
    if len(key) <= MAX_KEY_LENGTH:
        return key
    return hashlib.sha256(key.encode()).hexdigest()[:MAX_KEY_LENGTH]


def _refuse_legacy_only(**values: Any) -> None:
    for argument, value in values.items():
        if value not in (None, False, "none"):
            raise IBMQValueError(
                f"{argument}={value!r} is not available on IBM Quantum Platform; leave it unset "
                "(it exists only on the legacy IBMQ platform)."
            )

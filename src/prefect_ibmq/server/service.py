"""The job service: what each endpoint does, independent of HTTP.

Routers translate requests into these calls; errors are raised as
:class:`~prefect_ibmq.server.errors.ApiError`. The service owns the store, the
queue, the notifier and the executor, and resumes unfinished work at start.
"""

from __future__ import annotations

import asyncio
import binascii
import logging
import secrets

from qiskit import QuantumCircuit
from starlette.concurrency import run_in_threadpool

from prefect_ibmq.wire import (
    FINAL_STATUSES,
    JOBSET_TAG_PREFIX,
    ApiJobStatus,
    BackendConfiguration,
    BackendStatus,
    ErrorCode,
    Identity,
    JobList,
    JobRecord,
    JobStatusResponse,
    JobSubmission,
    ResultFormat,
    StatusUntil,
    TagsUpdate,
    WakeReason,
    base64_to_qpy_bytes,
    qpy_bytes_to_base64,
    qpy_to_circuits,
)

from .auth import can_see, is_owner
from .bounds import FieldTooLarge, check_submission_fields, check_tags, check_text, qpy_bounds
from .checks import check_submission
from .config import ServerConfig
from .engine import limit_statements, protect_data_dir
from .errors import ApiError, not_found
from .executor import Executor
from .filters import JobFilter
from .kinds import server_kinds
from .namematch import BadPattern, compile_pattern
from .notify import ReplicaListener, StatusNotifier
from .qpyscan import QpyBounds, QpyOverLimit, QpyRefused, scan_qpy
from .queue import FairshareQueue
from .quotas import check_jobs_in_flight
from .replicas import Replica, new_replica_id
from .rows import NewJob
from .simops import QPY_PREFACE, undecodable_qpy_message
from .simulators import build_simulators
from .store import CHANNEL, Store
from .stored_results import result_text
from .validation import InvalidJob

logger = logging.getLogger("prefect_ibmq.server.service")
S = ApiJobStatus
NOT_FINAL = tuple(s for s in S if s not in FINAL_STATUSES)


def _bad(message: str, code: ErrorCode = ErrorCode.INVALID_REQUEST) -> ApiError:
    return ApiError(400, code, message)


def decode_circuits(text: str, bounds: QpyBounds) -> tuple[bytes, list[QuantumCircuit]]:
    """base64 QPY -> (bytes, circuits); 400 INVALID_REQUEST naming what is wrong.

    The QPY is walked first (:func:`.qpyscan.scan_qpy`): what claims more than ``bounds``
    is refused (422) before ``qpy.load`` allocates it.
    """
    try:
        data = base64_to_qpy_bytes(text)
    except (binascii.Error, ValueError) as exc:
        raise _bad(f"qpy is not valid base64: {exc}") from exc
    try:
        scan_qpy(data, bounds)
    except QpyOverLimit as exc:
        raise ApiError(422, ErrorCode.INVALID_REQUEST, f"qpy: {exc}") from None
    except QpyRefused as exc:
        raise _bad(f"qpy is not a QPY file of circuits this server reads: {exc}") from None
    try:
        circuits = qpy_to_circuits(data)
    except Exception as exc:  # QPY raises several types for a malformed file
        if data.startswith(QPY_PREFACE):  # a QPY file whose circuits cannot be rebuilt: 422, with the cause
            raise ApiError(422, ErrorCode.INVALID_REQUEST, f"qpy: {undecodable_qpy_message(exc)}") from exc
        raise _bad(f"qpy is not a QPY file of circuits: {type(exc).__name__}: {exc}") from exc
    if not circuits:
        raise _bad("qpy holds no circuits; a job needs at least one")
    for index, item in enumerate(circuits):
        if not isinstance(item, QuantumCircuit):
            raise _bad(f"qpy item {index} is a {type(item).__name__}, not a QuantumCircuit")
    return data, circuits


class JobService:
    """What each ``/v1`` endpoint does, on the store, queue, notifier and executor it owns."""
    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.notifier = StatusNotifier()
        self.simulators = build_simulators(config.backends)
        protect_data_dir(config.data_dir)  # 0700 before anything is written in it
        self.store = Store(config.data_dir, config.store_url, origin=new_replica_id())
        limit_statements(self.store.engine, config.limits.statement_timeout_s)
        self.queue = FairshareQueue(
            self.store,
            {name: sim.first_guess_seconds_per_experiment() for name, sim in self.simulators.items()},
            workers=config.workers,
            on_change=self.notifier.notify_queue,
        )
        self.executor = Executor(
            self.store, self.queue, self.notifier, self.simulators, config.workers, server_kinds(),
            simulation=config.simulation, dask_scheduler=config.dask_scheduler,
        )
        self.replica = Replica(
            self.store, config.workers, config.lease_s, on_requeued=self._requeued,
            on_taken_over=self._taken_over, held_result_ttl_s=config.limits.held_result_ttl_s,
        )
        self._listener: ReplicaListener | None = None

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Listen to the other replicas, take a lease, start the executor, take over lapsed replicas' jobs."""
        if not self.store.is_sqlite:
            conninfo = self.store.engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
            self._listener = ReplicaListener(
                conninfo, CHANNEL, self.store.origin, self._changed_elsewhere, on_reconnect=self._resync
            )
            self._listener.start()
        self.replica.register()  # before the first claim: a claim under no lease would be reaped
        self.executor.start(prestart_simulators=self.config.prestart_simulators)
        self.replica.start()  # requeues lapsed runs, validates lapsed validations, keeps the lease

    def stop(self) -> None:
        """Stop the executor, give up the lease and close the store."""
        self.executor.stop()
        self.replica.stop()
        if self._listener is not None:
            self._listener.stop()
        self.store.close()

    def _requeued(self, job_ids: list[str]) -> None:
        self.notifier.notify(job_ids)
        self.queue.put(job_ids[0])

    def _taken_over(self, job_ids: list[str]) -> None:
        for job_id in job_ids:
            self.executor.validate_later(job_id)

    def _resync(self) -> None:
        """The listener was away: act on whatever it may have missed, as if told of every change."""
        self.notifier.wake_all()  # every long poll reads its job again
        self.queue.poke()
        for job_id in self.executor.running_job_ids():
            if self.store.get_status(job_id) in (S.CANCELLED, None):
                self.executor.interrupt(job_id)

    def _changed_elsewhere(self, job_id: str, status: str) -> None:
        """Another replica changed ``job_id``: wake its waiters here, stop it if it runs here."""
        self.notifier.notify(job_id)
        if status in (S.CANCELLED.value, "DELETED"):
            self.executor.interrupt(job_id)
        if status == S.QUEUED.value:
            self.queue.put(job_id)
        elif status in (S.RUNNING.value, S.CANCELLED.value, "DELETED"):
            self.notifier.notify_queue()

    # --- backends --------------------------------------------------------------------

    def backends(self) -> list[BackendConfiguration]:
        """The configuration of every backend."""
        return [sim.configuration for sim in self.simulators.values()]

    def backend(self, name: str) -> BackendConfiguration:
        """One backend's configuration; 404 naming the backends there are."""
        simulator = self.simulators.get(name)
        if simulator is None:
            raise ApiError(
                404, ErrorCode.NOT_FOUND,
                f"backend {name!r} not found; available: {sorted(self.simulators)}",
            )
        return simulator.configuration

    def backend_status(self, name: str) -> BackendStatus:
        """One backend's status and pending jobs; 404 if unknown."""
        self.backend(name)
        return BackendStatus(backend_name=name, pending_jobs=self.store.pending_counts().get(name, 0))

    # --- jobs ------------------------------------------------------------------------

    def submit(self, who: Identity, body: JobSubmission, idempotency_key: str | None) -> tuple[JobRecord, bool]:
        """Store a job (CREATING -> CREATED) and validate it in the background.

        Returns the record and whether it was created (False: an idempotent replay).
        """
        self.backend(body.backend)
        limits, simulator = self.config.limits, self.simulators[body.backend]
        check_submission_fields(body, limits)
        data, circuits = decode_circuits(body.qpy, qpy_bounds(simulator.spec, limits))
        if any(not isinstance(tag, str) for tag in body.tags):
            raise _bad("tags must be strings", ErrorCode.INVALID_TAGS)
        # What can never run is refused now (422, nothing stored); transpiling waits for validation.
        try:  # first: it reads in full the circuits QPY may not have rebuilt (delays), which the checks walk
            simulator.admit(circuits, body.options)
        except InvalidJob as exc:
            raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from exc
        check_submission(simulator, circuits, body.options, limits)
        check_jobs_in_flight(self.store, who, limits)
        job = NewJob(
            job_id=secrets.token_hex(12),
            backend=body.backend,
            owner=who,
            qpy=data,
            num_experiments=len(circuits),
            options=body.options,
            name=body.name,
            tags=list(dict.fromkeys(body.tags)),
            share_level=body.share_level,
            experiment_id=body.experiment_id,
            client_info=body.client_info,
            header=body.header,
            private=body.private,
            idempotency_key=idempotency_key,
        )
        job_id, created = self.store.create_job(job)
        # Read before validation starts, so a new job answers as stored: CREATED.
        record = self.store.get_job(job_id)
        if created:
            logger.info("job %s created on %s with %d circuits", job_id, body.backend, len(circuits))
            self.notifier.notify(job_id)
            self.executor.validate_later(job_id, circuits)
        if record is None:  # a replay whose job was deleted meanwhile
            raise not_found(f"job {job_id!r}")
        return self._with_queue_info(record), created

    def get(self, who: Identity, job_id: str) -> JobRecord:
        """The job's record (with its queue position when queued); 404 unless visible to ``who``."""
        record = self.store.get_job(job_id)
        if record is None or not can_see(record, who):
            # Not shared with the caller looks the same as unknown: no existence leak.
            raise not_found(f"job {job_id!r}")
        return self._with_queue_info(record)

    def _owned(self, who: Identity, job_id: str) -> JobRecord:
        record = self.get(who, job_id)
        if not is_owner(record, who):
            raise ApiError(403, ErrorCode.FORBIDDEN, f"only the owner of job {job_id!r} may change it")
        return record

    def _with_queue_info(self, record: JobRecord) -> JobRecord:
        if record.status is S.QUEUED:
            record.queue_info = self.queue.info(record.job_id)
        return record

    def status(self, job_id: str) -> JobStatusResponse | None:
        """The job's status now (no visibility check: the caller did it); None if gone.

        A final status carries the whole record (already read here), so a client
        needs no ``GET /v1/jobs/{id}`` after waiting.
        """
        record = self.store.get_job(job_id)
        if record is None:
            return None
        info = self.queue.info(job_id) if record.status is S.QUEUED else None
        final = record if record.status in FINAL_STATUSES else None
        return JobStatusResponse(
            job_id=job_id, status=record.status, queue_info=info, error=record.error, record=final
        )

    def list_jobs(
        self, who: Identity, filters: JobFilter, limit: int, offset: int, cursor: str | None = None
    ) -> JobList:
        """The jobs visible to ``who`` matching ``filters`` (past ``cursor``); 400 for a bad name regex."""
        if filters.name_regex is not None:
            try:
                check_text("name", filters.name_regex, self.config.limits)
                compile_pattern(filters.name_regex)
            except (BadPattern, FieldTooLarge) as exc:
                raise _bad(f"name={filters.name_regex[:80]!r} is not a valid name pattern: {exc}") from None
        jobs, total, after = self.store.list_jobs(who, filters, limit, offset, int(cursor) if cursor else None)
        return JobList(jobs=[self._with_queue_info(job) for job in jobs], total=total,
                       next_cursor=None if after is None else str(after))

    def result(
        self, who: Identity, job_id: str, partial: bool, read_key: str | None = None, form: ResultFormat = "legacy"
    ) -> tuple[str, bool]:
        """The result JSON text (a private job's to one reader only) and whether it is held for ``read_key``.

        A private job's result read with a ``read_key`` stays stored for that key
        until :meth:`acknowledge_result`; read without one it is deleted at once.
        ``form``: the dict ``Result.from_dict`` reads, or its experiments as columns
        (``wire.columnar_result``, as stored: sent without a decode).
        """
        record = self.get(who, job_id)
        if record.program_id is not None:
            raise ApiError(
                409, ErrorCode.INVALID_STATE,
                f"job {job_id!r} is a Qiskit Runtime {record.program_id} job; "
                f"its result is at /api/v1/jobs/{job_id}/results",
            )
        status = record.status
        if status not in FINAL_STATUSES:
            raise ApiError(
                409, ErrorCode.JOB_NOT_FINISHED, f"job {job_id!r} is {status.value}; its result is not ready"
            )
        if status in (S.CANCELLED, S.ERROR_CREATING_JOB, S.ERROR_VALIDATING_JOB):
            why = f": {record.error.message}" if record.error else ""
            raise ApiError(409, ErrorCode.INVALID_STATE, f"job {job_id!r} is {status.value} and has no result{why}")
        if status is S.ERROR_RUNNING_JOB and not partial:
            message = record.error.message if record.error else "experiments failed"
            raise ApiError(
                409, ErrorCode.JOB_FAILED,
                f"job {job_id!r} failed ({message}); ask with partial=true for the experiments that succeeded",
            )
        text = self.store.read_result(job_id, consume=record.private, read_key=read_key)
        if text is None:
            if record.private:
                raise ApiError(
                    410, ErrorCode.RESULT_CONSUMED,
                    f"job {job_id!r} is private and its result was already read once (by another reader, "
                    "or acknowledged); it is no longer handed out",
                )
            raise ApiError(500, ErrorCode.INTERNAL, f"job {job_id!r} is {status.value} but has no stored result")
        return result_text(text, form), record.private and read_key is not None

    def acknowledge_result(self, who: Identity, job_id: str, read_key: str) -> None:
        """The reader holding a private job's result has it: delete it (a shared job's stays)."""
        record = self.get(who, job_id)
        if record.private and not self.store.acknowledge_result(job_id, read_key):
            raise ApiError(
                409, ErrorCode.INVALID_STATE,
                f"the result of private job {job_id!r} is not held for this read key: "
                "acknowledge with the key of the read that returned it",
            )

    def circuits(self, who: Identity, job_id: str) -> str:
        """The job's circuits as base64 QPY."""
        self.get(who, job_id)
        data = self.store.circuits(job_id)
        if data is None:
            raise not_found(f"circuits of job {job_id!r}")
        return qpy_bytes_to_base64(data)

    def cancel(self, who: Identity, job_id: str) -> JobRecord:
        """Cancel the job (owner only), out of the queue or its worker; 409 if already final."""
        record = self._owned(who, job_id)
        if record.status in FINAL_STATUSES or not self.executor.move(job_id, S.CANCELLED, NOT_FINAL):
            current = self.store.get_status(job_id)
            shown = current.value if current else "deleted"
            raise ApiError(409, ErrorCode.INVALID_STATE, f"job {job_id!r} is already final ({shown}); cannot cancel")
        # Whichever place the job is in, it leaves it: the queue, or the worker running it.
        self.queue.remove(job_id)
        self.executor.interrupt(job_id)
        return self.get(who, job_id)

    def delete(self, who: Identity, job_id: str) -> None:
        """Delete the job (owner only), cancelling it first if not final."""
        record = self._owned(who, job_id)
        if record.status not in FINAL_STATUSES and self.executor.move(job_id, S.CANCELLED, NOT_FINAL):
            self.queue.remove(job_id)
            self.executor.interrupt(job_id)
        self.store.delete_job(job_id)
        self.notifier.notify(job_id)

    def rename(self, who: Identity, job_id: str, name: str) -> str:
        """Rename the job (owner only)."""
        try:
            check_text("name", name, self.config.limits)
        except FieldTooLarge as exc:
            raise ApiError(422, ErrorCode.INVALID_REQUEST, str(exc)) from None
        self._owned(who, job_id)
        if not self.store.rename(job_id, name):
            raise not_found(f"job {job_id!r}")
        return name

    def update_tags(self, who: Identity, job_id: str, update: TagsUpdate) -> list[str]:
        """Apply replace, then add, then remove; jobset tags are kept and cannot be named."""
        lists = (update.replacement_tags, update.additional_tags, update.removal_tags)
        if all(tags is None for tags in lists):
            raise _bad(
                "give at least one of replacement_tags, additional_tags, removal_tags", ErrorCode.INVALID_TAGS
            )
        reserved = sorted({t for tags in lists if tags for t in tags if t.startswith(JOBSET_TAG_PREFIX)})
        if reserved:
            raise _bad(
                f"tags starting with {JOBSET_TAG_PREFIX!r} are reserved for job sets and cannot be "
                f"added or removed: {reserved}",
                ErrorCode.INVALID_TAGS,
            )
        try:
            for name, tags in zip(("replacement_tags", "additional_tags", "removal_tags"), lists, strict=True):
                check_tags(tags or [], self.config.limits, name)
        except FieldTooLarge as exc:
            raise _bad(str(exc), ErrorCode.INVALID_TAGS) from None
        self._owned(who, job_id)

        def change(current: list[str]) -> list[str]:
            tags = list(current)
            if update.replacement_tags is not None:
                kept = [t for t in tags if t.startswith(JOBSET_TAG_PREFIX)]
                tags = kept + list(update.replacement_tags)
            if update.additional_tags:
                tags += update.additional_tags
            if update.removal_tags:
                removed = set(update.removal_tags)
                tags = [t for t in tags if t not in removed]
            tags = list(dict.fromkeys(tags))  # drop duplicates, keep first order
            if len(tags) > self.config.limits.max_tags:  # checked in the transaction: additions add up
                raise _bad(f"the job would have {len(tags)} tags; limits.max_tags="
                           f"{self.config.limits.max_tags}", ErrorCode.INVALID_TAGS)
            return tags

        tags = self.store.update_tags(job_id, change)
        if tags is None:
            raise not_found(f"job {job_id!r}")
        return tags

    # --- waiting ---------------------------------------------------------------------

    async def wait_status(
        self,
        who: Identity,
        job_id: str,
        wait: float,
        known: ApiJobStatus | None = None,
        known_position: int | None = None,
        until: StatusUntil = "change",
    ) -> JobStatusResponse:
        """The status at once, or (``wait`` > 0) as soon as it changes (``until="final"``: is final).

        Answers after ``wait`` seconds at the latest, marked ``timed_out``. A change is a
        status other than ``known`` (or than the first one read), or a queue position
        other than ``known_position`` when given. Runs on the event loop; the store is
        read in worker threads, and a wait holds no thread.
        """
        await run_in_threadpool(self.get, who, job_id)  # 404 unless visible
        # Subscribe before reading, so a change between the read and the wait is not missed.
        event = self.notifier.subscribe(job_id, watch_queue=until == "change" and known_position is not None)
        try:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + wait
            baseline = known
            reason: WakeReason = "immediate"
            while True:
                event.clear()
                snapshot = await run_in_threadpool(self.status, job_id)
                if snapshot is None:
                    raise not_found(f"job {job_id!r}")
                snapshot.wake_reason = reason
                if wait <= 0 or snapshot.status.is_final:
                    return snapshot  # a final job can never change again: waiting would only cost time
                if until == "change":
                    if baseline is None:
                        baseline = snapshot.status
                    position = snapshot.queue_info.position if snapshot.queue_info else None
                    if snapshot.status != baseline or (known_position is not None and position != known_position):
                        return snapshot
                # until=final: an intermediate change only woke us; read again at the next one.
                remaining = deadline - loop.time()
                if remaining <= 0 or self.notifier.closed:
                    snapshot.timed_out = True
                    snapshot.wake_reason = "deadline"
                    return snapshot
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                    reason = "notified"
                except TimeoutError:
                    reason = "deadline"
        finally:
            self.notifier.unsubscribe(job_id, event)


"""The job book (:class:`JobBook`): what each ``/v1`` endpoint does, independent of HTTP.

Routers translate requests into these calls; errors are raised as
:class:`~prefect_ibmq.server.errors.ApiError`. The book owns the store, the
queue, the notifier and the executor, and resumes unfinished work at start.
Its pieces: :mod:`.submission` (a submit's checks), :mod:`.result_reads`,
:mod:`.tagging`, :mod:`.waiting` (long polls), :mod:`.replica_events` (the other replicas).
"""

from __future__ import annotations

import logging

from starlette.concurrency import run_in_threadpool

from prefect_ibmq.wire import (
    FINAL_STATUSES,
    NOT_FINAL,
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
    qpy_bytes_to_base64,
)

from .auth import can_see, is_owner
from .bounds import FieldTooLarge, check_text
from .config import ServerConfig
from .engine import limit_statements, protect_data_dir
from .errors import ApiError, not_found
from .executor import Executor
from .filters import JobFilter
from .kind_handler import KindHandlers
from .namematch import BadPattern, compile_pattern
from .notify import StatusNotifier
from .queue import FairshareQueue
from .quotas import in_flight_admission
from .replica_events import ReplicaEvents
from .replicas import Replica, new_replica_id
from .result_reads import read_result
from .simulators import build_simulators
from .store import Store
from .submission import bad_request, checked_job
from .tagging import tag_change
from .waiting import wait_status

logger = logging.getLogger("prefect_ibmq.server.service")
S = ApiJobStatus


class JobBook:
    """What each ``/v1`` endpoint does, on the store, queue, notifier and executor it owns.

    ``kinds``: the handlers of the kinds of job its executor runs (:func:`.kinds.server_kinds`,
    handed in by the app, which sits above them all).
    """

    def __init__(self, config: ServerConfig, kinds: KindHandlers) -> None:
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
            self.store, self.queue, self.notifier, self.simulators, config.workers, kinds,
            simulation=config.simulation, dask_scheduler=config.dask_scheduler,
        )
        #: The other replicas' changes and lapses, acted on here.
        self.events = ReplicaEvents(self.store, self.queue, self.notifier, self.executor)
        self.replica = Replica(
            self.store, config.workers, config.lease_s, on_requeued=self.events.requeued,
            on_taken_over=self.events.taken_over, held_result_ttl_s=config.limits.held_result_ttl_s,
        )

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Listen to the other replicas, take a lease, start the executor, take over lapsed replicas' jobs."""
        self.events.listen()
        self.replica.register()  # before the first claim: a claim under no lease would be reaped
        self.executor.start(prestart_simulators=self.config.prestart_simulators)
        self.replica.start()  # requeues lapsed runs, validates lapsed validations, keeps the lease

    def stop(self) -> None:
        """Stop the executor, give up the lease and close the store."""
        self.executor.stop()
        self.replica.stop()
        self.events.stop()
        self.store.close()

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
        job, circuits = checked_job(
            who, body, idempotency_key, self.simulators[body.backend], self.config.limits
        )
        job_id, created = self.store.create_job(job, in_flight_admission(who, self.config.limits))
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

    def _check_visible(self, who: Identity, job_id: str) -> None:
        """404 unless the job exists and ``who`` may see it (reads its status row, not the whole record)."""
        row = self.store.get_status_row(job_id)
        if row is None or not can_see(row, who):
            raise not_found(f"job {job_id!r}")

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

        A final status carries the whole record, so a client needs no ``GET /v1/jobs/{id}``
        after waiting; any other reads only the status columns (a long-poll reads at every
        wake-up, and the whole record costs ~4x as much).
        """
        row = self.store.get_status_row(job_id)
        if row is None:
            return None
        if row.status in FINAL_STATUSES:  # final stays final: the record read next has this status too
            record = self.store.get_job(job_id)
            if record is None:
                return None
            return JobStatusResponse(job_id=job_id, status=record.status, error=record.error, record=record)
        info = self.queue.info(job_id) if row.status is S.QUEUED else None
        return JobStatusResponse(job_id=job_id, status=row.status, queue_info=info, error=row.error)

    def list_jobs(
        self, who: Identity, filters: JobFilter, limit: int, offset: int, cursor: str | None = None
    ) -> JobList:
        """The jobs visible to ``who`` matching ``filters`` (past ``cursor``); 400 for a bad name regex."""
        if filters.name_regex is not None:
            try:
                check_text("name", filters.name_regex, self.config.limits)
                compile_pattern(filters.name_regex)
            except (BadPattern, FieldTooLarge) as exc:
                raise bad_request(f"name={filters.name_regex[:80]!r} is not a valid name pattern: {exc}") from None
        jobs, total, after = self.store.list_jobs(who, filters, limit, offset, int(cursor) if cursor else None)
        return JobList(jobs=[self._with_queue_info(job) for job in jobs], total=total,
                       next_cursor=None if after is None else str(after))

    def result(
        self, who: Identity, job_id: str, partial: bool, read_key: str | None = None, form: ResultFormat = "legacy"
    ) -> tuple[str, bool]:
        """The result JSON text (a private job's to one reader only) and whether it is held for ``read_key``.

        A private job's result read with a ``read_key`` stays stored for that key until
        :meth:`acknowledge_result` (:mod:`.result_reads`). ``form``: the dict ``Result.from_dict``
        reads, or its experiments as columns (``wire.columnar_result``, as stored: sent without a decode).
        """
        return read_result(self.store, self.get(who, job_id), partial, read_key, form)

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
        change = tag_change(update, self.config.limits)
        self._owned(who, job_id)
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
        other than ``known_position`` when given (:mod:`.waiting`: a wait holds no thread).
        """
        await run_in_threadpool(self._check_visible, who, job_id)
        return await wait_status(self.notifier, job_id, self.status, wait, known, known_position, until)

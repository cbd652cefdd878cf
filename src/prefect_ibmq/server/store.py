"""The job store on SQLAlchemy Core: jobs, their steps (time_per_step), circuits and results.

``store_url`` picks the database: a SQLite file (the default, ``jobs.sqlite3`` in the
data directory) or PostgreSQL (``postgresql+psycopg://...``), which several replicas
of the service share. On SQLite one connection in WAL mode is used under a lock, and
every write transaction is ``BEGIN IMMEDIATE`` (no deadlock on upgrade); on
PostgreSQL a pool of connections serves threads at once. The schema comes from the
Alembic migrations, applied when the store opens.

Every query method is :func:`~.engine.guarded`: an unusable database answers 503,
never a hang. Writes that change a job announce it on PostgreSQL with ``pg_notify``
in the same transaction, delivered to the other replicas at commit (see :mod:`.notify`).
Engines live in :mod:`.engine`, rows <-> records in :mod:`.rows`, listing filters in
:mod:`.filters`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import Connection, bindparam, delete, func, insert, select, update
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import RowMapping

from prefect_ibmq.timestamps import now_iso
from prefect_ibmq.wire import ApiJobStatus, Identity, JobError, JobRecord

from . import migrate
from .engine import guarded, make_engine, sqlite_url
from .filters import JobFilter, JobPage, listing, viewer_params
from .rows import STATUS_COLUMNS, NewJob, StatusRow, job_row, records, status_row
from .schema import (
    circuits,
    fairshare_turns,
    job_tags,
    jobs,
    result_reads,
    results,
    runtime_params,
    sessions,
    steps,
)

logger = logging.getLogger("prefect_ibmq.server.store")

#: The channel of the replicas' wake-ups (payload: "<origin replica> <job id> <status>").
CHANNEL = "prefect_ibmq_jobs"

#: Built once: building a statement costs more than running it on SQLite.
_DROP_STEP = delete(steps).where(steps.c.job_id == bindparam("job"), steps.c.status == bindparam("status"))
_ENTER_STEP = insert(steps)

T = TypeVar("T")


class SessionClosed(Exception):
    """A job for a session that is closed (or gone): nothing was stored."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"session {session_id!r} is closed and accepts no more jobs")
        self.session_id = session_id


class Store:
    """Persistence of jobs; every method is thread-safe."""

    def __init__(self, data_dir: Path, url: str | None = None, origin: str = "") -> None:
        """``url``: a SQLAlchemy URL (None: ``jobs.sqlite3`` in ``data_dir``); ``origin``: this replica."""
        data_dir.mkdir(parents=True, exist_ok=True)
        self.url = url or sqlite_url(data_dir)
        self.engine = make_engine(self.url)
        self.is_sqlite = self.engine.dialect.name == "sqlite"
        self.path = Path(self.engine.url.database or "") if self.is_sqlite else None
        self.origin = origin
        # SQLite serialises writers anyway; one connection under a lock keeps it simple.
        self._lock: contextlib.AbstractContextManager[Any] = (
            threading.RLock() if self.is_sqlite else contextlib.nullcontext()
        )
        self._migrate()

    @guarded
    def _migrate(self) -> None:
        with self._lock:
            migrate.upgrade(self.engine)

    def close(self) -> None:
        """Close every connection."""
        self.engine.dispose()

    # --- transactions (public: the modules that keep their own tables build on them) --

    def write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one write transaction (IMMEDIATE on SQLite)."""
        with self._lock, self.engine.connect() as conn:
            conn.info["immediate"] = True
            with conn.begin():
                return fn(conn)

    @contextlib.contextmanager
    def reading(self, snapshot: bool = False) -> Iterator[Connection]:
        """A connection for reads that belong together (one transaction).

        ``snapshot``: every statement sees the same committed state (PostgreSQL's REPEATABLE
        READ; a SQLite read transaction always does), for figures computed from several reads.
        """
        with self._lock, self.engine.connect() as conn:
            if snapshot and not self.is_sqlite:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    def read(self, statement: Any) -> list[RowMapping]:
        """The rows of one statement, read in a transaction of its own."""
        with self.reading() as conn:
            return list(conn.execute(statement).mappings())

    def announce(self, conn: Connection, job_id: str, status: str) -> None:
        """Tell the other replicas (at commit) that ``job_id`` changed; nothing on SQLite."""
        if not self.is_sqlite:
            conn.execute(
                select(func.pg_notify(CHANNEL, f"{self.origin} {job_id} {status}"))
            )

    @staticmethod
    def enter_step(conn: Connection, job_id: str, status: str, at: str) -> None:
        """Record that the job entered ``status`` at ``at`` (again: it replaces the earlier entry)."""
        # Entering a step again (after a restart) replaces its earlier entry, keeping order.
        conn.execute(_DROP_STEP, {"job": job_id, "status": status})
        conn.execute(_ENTER_STEP, {"job_id": job_id, "status": status, "at": at})

    # --- creating and reading --------------------------------------------------------

    @guarded
    def create_job(self, job: NewJob, admit: Callable[[Connection], None] | None = None) -> tuple[str, bool]:
        """Store a job going CREATING -> CREATED; returns (job_id, created).

        With an idempotency key already used by the same owner, nothing is stored and
        the first job's id comes back with ``created=False``. ``admit``: run in the same
        transaction once the job is added (it sees it, and raises to refuse it: nothing is
        stored), so what it counts cannot change before the commit (``quotas.in_flight_admission``).
        """

        def add(conn: Connection) -> tuple[str, bool]:
            if job.session_id is not None:
                # Checked (and the session row locked) in the transaction that adds the job:
                # a concurrent close wins or loses whole.
                accepting = conn.execute(
                    select(sessions.c.accepting_jobs).where(sessions.c.session_id == job.session_id)
                    .with_for_update()
                ).scalar()
                if not accepting:
                    raise SessionClosed(job.session_id)
            if job.idempotency_key is not None:
                existing = self._find_idempotent(conn, job.owner, job.idempotency_key)
                if existing:
                    return existing, False
            created = now_iso()
            # Owned by this replica until queued: if it dies first, another takes the job over (replicas.py).
            seq = conn.execute(
                insert(jobs).values(**job_row(job, created), claimed_by=self.origin).returning(jobs.c.seq)
            ).scalar_one()
            conn.execute(insert(circuits).values(job_id=job.job_id, qpy=job.qpy))
            if job.params is not None:
                conn.execute(insert(runtime_params).values(job_id=job.job_id, params=job.params))
            tags = list(dict.fromkeys(job.tags))
            if tags:
                conn.execute(insert(job_tags), [{"job_id": job.job_id, "tag": tag, "seq": seq} for tag in tags])
            self.enter_step(conn, job.job_id, ApiJobStatus.CREATING.value, created)
            self.enter_step(conn, job.job_id, ApiJobStatus.CREATED.value, now_iso())
            if admit is not None:  # last: whatever lock it takes is held only to the commit
                admit(conn)
            return job.job_id, True

        try:
            return self.write(add)
        except sa_exc.IntegrityError:
            # Another connection (another request, another replica) won the race for this key.
            if job.idempotency_key is None:
                raise
            with self.reading() as conn:
                existing = self._find_idempotent(conn, job.owner, job.idempotency_key)
            if existing is None:
                raise
            return existing, False

    @staticmethod
    def _find_idempotent(conn: Connection, owner: Identity, key: str) -> str | None:
        return conn.execute(
            select(jobs.c.job_id).where(
                jobs.c.owner_user == owner.user, jobs.c.owner_hub == owner.hub,
                jobs.c.owner_group == owner.group, jobs.c.owner_project == owner.project,
                jobs.c.idempotency_key == key,
            )
        ).scalar()

    @guarded
    def get_job(self, job_id: str) -> JobRecord | None:
        """The job's record, or None."""
        with self.reading() as conn:
            rows = list(conn.execute(select(jobs).where(jobs.c.job_id == job_id)).mappings())
            return records(conn, rows)[0] if rows else None

    @guarded
    def get_status_row(self, job_id: str) -> StatusRow | None:
        """The job's status, error and visibility columns (:class:`.rows.StatusRow`), or None."""
        rows = self.read(select(*STATUS_COLUMNS).where(jobs.c.job_id == job_id))
        return status_row(rows[0]) if rows else None

    @guarded
    def get_status(self, job_id: str) -> ApiJobStatus | None:
        """The job's status, or None."""
        rows = self.read(select(jobs.c.status).where(jobs.c.job_id == job_id))
        return ApiJobStatus(rows[0]["status"]) if rows else None

    @guarded
    def list_jobs(
        self, viewer: Identity, filters: JobFilter, limit: int, offset: int, after: int | None = None
    ) -> JobPage:
        """Jobs ``viewer`` may see matching ``filters``, newest first (unless ascending), and their total count.

        ``after``: the page starts past the job of this seq (a previous page's ``next_after``),
        then skips ``offset`` more; see :mod:`.filters` for the indexes each listing walks.
        """
        count, page = listing(filters, limit, offset, after)
        params = viewer_params(viewer)
        with self.reading(snapshot=True) as conn:
            total = conn.execute(count, params).scalar_one()
            rows = list(conn.execute(page, params).mappings())
            next_after = rows[-1]["seq"] if len(rows) == limit else None
            return JobPage(records(conn, rows), total, next_after)

    @guarded
    def circuits(self, job_id: str, runnable: bool = False) -> bytes | None:
        """The job's QPY (``runnable``: as transpiled for its backend), or None."""
        column = circuits.c.runnable_qpy if runnable else circuits.c.qpy
        rows = self.read(select(column.label("data")).where(circuits.c.job_id == job_id))
        return bytes(rows[0]["data"]) if rows and rows[0]["data"] is not None else None

    @guarded
    def runtime_params(self, job_id: str) -> str | None:
        """A Qiskit Runtime job's program parameters (the client's JSON text)."""
        rows = self.read(select(runtime_params.c.params).where(runtime_params.c.job_id == job_id))
        return rows[0]["params"] if rows else None

    @guarded
    def jobs_in(self, statuses: Iterable[ApiJobStatus]) -> list[JobRecord]:
        """Jobs in any of ``statuses``, oldest first (used to resume work after a restart)."""
        values = [s.value for s in statuses]
        with self.reading() as conn:
            rows = list(conn.execute(select(jobs).where(jobs.c.status.in_(values)).order_by(jobs.c.seq)).mappings())
            return records(conn, rows)

    @guarded
    def pending_counts(self) -> dict[str, int]:
        """Backend -> number of jobs not yet final (the queued ones counted in ``fairshare_turns``)."""
        in_flight = [s.value for s in ApiJobStatus if not s.is_final and s is not ApiJobStatus.QUEUED]
        counted = select(jobs.c.backend, func.count()).where(jobs.c.status.in_(in_flight)).group_by(jobs.c.backend)
        queued = select(fairshare_turns.c.backend, func.sum(fairshare_turns.c.queued)).group_by(
            fairshare_turns.c.backend
        )
        counts: dict[str, int] = {}
        with self.reading(snapshot=True) as conn:
            for backend, n in [*conn.execute(counted), *conn.execute(queued)]:
                if n:
                    counts[backend] = counts.get(backend, 0) + int(n)
        return counts

    # --- changing --------------------------------------------------------------------

    @guarded
    def transition(
        self,
        job_id: str,
        to: ApiJobStatus,
        allowed_from: Iterable[ApiJobStatus],
        *,
        error: JobError | None = None,
        run_mode: str | None = None,
        runnable_qpy: bytes | None = None,
        drop_steps: Iterable[ApiJobStatus] = (),
        requeue: bool = False,
        queued_at: float | None = None,
    ) -> bool:
        """Move a job to ``to`` if it is in one of ``allowed_from``; False if it was not.

        Conditional updates make races (cancel vs. completion, two replicas) resolve to
        exactly one winner.
        """
        allowed = [s.value for s in allowed_from]
        values: dict[str, Any] = {"status": to.value}
        if error is not None:
            values.update(error_code=error.code, error_message=error.message)
        if run_mode is not None:
            values["run_mode"] = run_mode
        if requeue:
            values["requeued"] = jobs.c.requeued + 1
        if queued_at is not None:
            values["queued_at"] = queued_at

        def apply(conn: Connection) -> bool:
            moved = conn.execute(
                update(jobs).where(jobs.c.job_id == job_id, jobs.c.status.in_(allowed)).values(**values)
            )
            if moved.rowcount != 1:
                return False
            for step in drop_steps:
                conn.execute(delete(steps).where(steps.c.job_id == job_id, steps.c.status == step.value))
            if runnable_qpy is not None:
                conn.execute(update(circuits).where(circuits.c.job_id == job_id).values(runnable_qpy=runnable_qpy))
            self.enter_step(conn, job_id, to.value, now_iso())
            self.announce(conn, job_id, to.value)
            return True

        return self.write(apply)

    @guarded
    def finish_run(
        self, job_id: str, to: ApiJobStatus, result_json: str, error: JobError | None,
        finished_at: float, claimed_by: str,
    ) -> bool:
        """Store a run's result and final status together, if the job still RUNS under ``claimed_by``.

        A replica whose lease lapsed (its job requeued and claimed again elsewhere) stores nothing.
        """

        def apply(conn: Connection) -> bool:
            moved = conn.execute(
                update(jobs)
                .where(
                    jobs.c.job_id == job_id, jobs.c.status == ApiJobStatus.RUNNING.value,
                    jobs.c.claimed_by == claimed_by,
                )
                .values(
                    status=to.value, error_code=error.code if error else None,
                    error_message=error.message if error else None, finished_at=finished_at,
                )
            )
            if moved.rowcount != 1:
                return False
            conn.execute(delete(results).where(results.c.job_id == job_id))
            conn.execute(insert(results).values(job_id=job_id, result=result_json))
            self.enter_step(conn, job_id, to.value, now_iso())
            self.announce(conn, job_id, to.value)
            return True

        return self.write(apply)

    @guarded
    def read_result(self, job_id: str, consume: bool, read_key: str | None = None) -> str | None:
        """The stored result JSON; with ``consume`` it goes to one reader only (None for others).

        Without a ``read_key`` a consumed result is deleted as it is handed out. With
        one, the first reader's key holds the result: the same key may read it again
        (its answer may have been lost) until :meth:`acknowledge_result` deletes it;
        any other reader gets None. A consuming read locks the job's row first
        (``FOR UPDATE``; SQLite's writers are serialised anyway), so two concurrent
        readers of a private job, even on two replicas, cannot both get it.
        """

        def take(conn: Connection) -> str | None:
            query = select(jobs.c.result_consumed).where(jobs.c.job_id == job_id)
            consumed = conn.execute(query.with_for_update() if consume else query).scalar()
            if consumed is None or consumed:  # no such job, or its result is gone
                return None
            text_ = conn.execute(select(results.c.result).where(results.c.job_id == job_id)).scalar()
            if text_ is None or not consume:
                return text_
            holder = conn.execute(select(result_reads.c.read_key).where(result_reads.c.job_id == job_id)).scalar()
            if holder is not None:
                return text_ if holder == read_key else None
            if read_key is None:
                self._consume_result(conn, job_id)
            else:
                conn.execute(insert(result_reads).values(job_id=job_id, read_key=read_key, held_at=time.time()))
            return text_

        return self.write(take)

    @guarded
    def acknowledge_result(self, job_id: str, read_key: str) -> bool:
        """Delete the result held for ``read_key``; True when that key holds (or held) it."""

        def apply(conn: Connection) -> bool:
            holder = conn.execute(select(result_reads.c.read_key).where(result_reads.c.job_id == job_id)).scalar()
            if holder is None or holder != read_key:
                return False
            self._consume_result(conn, job_id)  # a repeated acknowledgement has nothing left to delete
            return True

        return self.write(apply)

    @staticmethod
    def _consume_result(conn: Connection, job_id: str) -> None:
        conn.execute(update(jobs).where(jobs.c.job_id == job_id).values(result_consumed=1))
        conn.execute(delete(results).where(results.c.job_id == job_id))

    @guarded
    def rename(self, job_id: str, name: str) -> bool:
        """Rename the job; False if there is no such job."""
        def apply(conn: Connection) -> bool:
            return conn.execute(update(jobs).where(jobs.c.job_id == job_id).values(name=name)).rowcount == 1

        return self.write(apply)

    @guarded
    def update_tags(self, job_id: str, change: Callable[[list[str]], list[str]]) -> list[str] | None:
        """Apply ``change`` to the job's tags in one transaction (no lost concurrent update)."""

        def apply(conn: Connection) -> list[str] | None:
            current = conn.execute(
                select(jobs.c.tags, jobs.c.seq).where(jobs.c.job_id == job_id).with_for_update()
            ).first()
            if current is None:
                return None
            tags = change(json.loads(current.tags))
            conn.execute(update(jobs).where(jobs.c.job_id == job_id).values(tags=json.dumps(tags)))
            conn.execute(delete(job_tags).where(job_tags.c.job_id == job_id))
            unique = list(dict.fromkeys(tags))
            if unique:
                conn.execute(insert(job_tags), [{"job_id": job_id, "tag": tag, "seq": current.seq} for tag in unique])
            return tags

        return self.write(apply)

    @guarded
    def delete_job(self, job_id: str) -> bool:
        """Delete the job and everything stored for it; False if there was none."""
        def apply(conn: Connection) -> bool:
            deleted = conn.execute(delete(jobs).where(jobs.c.job_id == job_id)).rowcount == 1
            for table in (steps, circuits, results, result_reads, job_tags, runtime_params):
                conn.execute(delete(table).where(table.c.job_id == job_id))
            if deleted:
                self.announce(conn, job_id, "DELETED")
            return deleted

        return self.write(apply)

"""The fairshare queue, in the database: per backend, round robin across projects.

The queue is the jobs table itself (status QUEUED), so every replica sharing the
database sees one queue. The order: each project's jobs oldest first, ranked 1, 2, ...;
round r takes each project's r-th job; within a round, the project whose turn is
oldest goes first. A project's turn is when it last had a job claimed, or when it
came back to an empty queue, whichever is later (``fairshare_turns``): a project
that just had a job dispatched goes to the back, as in a rotation.

A worker claims the first job in that order with ``FOR UPDATE OF jobs SKIP LOCKED``
(PostgreSQL refuses ``FOR UPDATE`` beside window functions, so the ranking is a CTE),
moving it to RUNNING under this replica's name in the same transaction; concurrent
claims from other replicas skip it instead of waiting. On SQLite the one writer at a
time (``BEGIN IMMEDIATE``) does the same.

Positions are 1-based per backend. Estimates come from the recent run time per
experiment on each backend (completed runs in the table); priorities are fairshare
floats in [0, 1]: one minus the share of recent run time a hub/group/project used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, case, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from prefect_ibmq.timestamps import now_iso, to_iso
from prefect_ibmq.wire import ApiJobStatus, QueueInfoModel

from .engine import guarded
from .schema import fairshare_turns, jobs, replicas
from .store import Store

Project = tuple[str, str, str]  # hub, group, project
QUEUED = ApiJobStatus.QUEUED.value
RUNNING = ApiJobStatus.RUNNING.value
COMPLETED = ApiJobStatus.COMPLETED.value
#: Recent completed runs that teach the estimates (per backend) and the priorities.
RECENT_RUNS = 20
USAGE_RUNS = 200
#: Claims lost to other replicas in a row before this one gives up until the next wake-up.
CLAIM_ATTEMPTS = 5
#: An idle worker looks at the queue at least this often, even without a wake-up.
IDLE_POLL_S = 1.0


@dataclass
class QueuedJob:
    """A job a worker claimed: it is RUNNING under this replica's name."""

    job_id: str
    backend: str
    project: Project
    num_experiments: int
    created: str = ""


def _project_cols(table: Any = jobs) -> list[Any]:
    return [table.c.backend, table.c.owner_hub, table.c.owner_group, table.c.owner_project]


def _ranked(backends: Iterable[str]) -> Any:
    """QUEUED jobs of ``backends`` with their round (rank) and their project's turn."""
    project = _project_cols()
    rank = func.row_number().over(partition_by=project, order_by=[jobs.c.creation_date, jobs.c.seq])
    entered = func.min(jobs.c.queued_at).over(partition_by=project)
    last = func.coalesce(fairshare_turns.c.last_claimed, 0.0)
    turn = case((last > entered, last), else_=entered)
    joined = jobs.outerjoin(
        fairshare_turns,
        (fairshare_turns.c.backend == jobs.c.backend)
        & (fairshare_turns.c.owner_hub == jobs.c.owner_hub)
        & (fairshare_turns.c.owner_group == jobs.c.owner_group)
        & (fairshare_turns.c.owner_project == jobs.c.owner_project),
    )
    return (
        select(jobs.c.job_id, jobs.c.seq, jobs.c.backend, jobs.c.num_experiments,
               rank.label("rank"), turn.label("turn"))
        .select_from(joined)
        .where(jobs.c.status == QUEUED, jobs.c.backend.in_(list(backends)))
        .cte("ranked")
    )


class FairshareQueue:
    """Claims jobs for this replica's workers; ``on_change`` is called when positions may have moved."""

    def __init__(
        self,
        store: Store,
        backends: dict[str, float],
        workers: int,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        """``backends`` maps each backend name to its first guess of seconds per experiment."""
        self._store = store
        self._first_guess = dict(backends)
        self._workers = workers
        self._on_change = on_change
        self._cond = threading.Condition()
        self._pokes = 0
        self._closed = False
        self._claim: dict[str, Any] | None = None

    # --- producers and consumers -----------------------------------------------------

    def poke(self) -> None:
        """A job entered the queue (here or on another replica): idle workers look again."""
        with self._cond:
            self._pokes += 1
            self._cond.notify_all()

    def put(self, job_id: str) -> None:
        """``job_id`` was just moved to QUEUED: wake a worker, tell position waiters."""
        self.poke()
        self._on_change()

    def take(self, replica_id: str) -> QueuedJob | None:
        """Claim the next job (blocking); None once the queue is closed."""
        while True:
            with self._cond:
                if self._closed:
                    return None
                seen = self._pokes
            job = self._claim_or_none(replica_id)
            if job is not None:
                self._on_change()
                return job
            with self._cond:
                if self._pokes == seen and not self._closed:
                    self._cond.wait(IDLE_POLL_S)

    def _claim_or_none(self, replica_id: str) -> QueuedJob | None:
        from .errors import StoreUnavailable

        try:
            return self.claim(replica_id)
        except StoreUnavailable:
            time.sleep(IDLE_POLL_S / 4)  # the database is busy or away: try again shortly
            return None

    @guarded
    def claim(self, replica_id: str) -> QueuedJob | None:
        """Move the first queued job to RUNNING under ``replica_id``; None if none is queued."""
        store = self._store
        statements = self._claim_statements(store.engine.dialect.name)

        def apply(conn: Connection) -> QueuedJob | None:
            for _ in range(CLAIM_ATTEMPTS):
                row = conn.execute(statements["first"]).first()
                # A job another replica claimed after our ranking but before our lock comes back
                # RUNNING (the row as locked): the next statement's snapshot no longer ranks it.
                if row is None or row.status == QUEUED:
                    break
            if row is None or row.status != QUEUED:
                return None
            now = time.time()
            conn.execute(statements["run"], {"job": row.job_id, "replica": replica_id, "now": now})
            conn.execute(statements["turn"], {
                "backend": row.backend, "owner_hub": row.owner_hub, "owner_group": row.owner_group,
                "owner_project": row.owner_project, "last_claimed": now,
            })
            store.enter_step(conn, row.job_id, RUNNING, now_iso())
            store.announce(conn, row.job_id, RUNNING)
            return QueuedJob(
                row.job_id, row.backend, (row.owner_hub, row.owner_group, row.owner_project),
                row.num_experiments, created=row.creation_date,
            )

        return store._write(apply)

    def _claim_statements(self, dialect_name: str) -> dict[str, Any]:
        """The claim's statements, built once (building them costs more than running them)."""
        if self._claim is None:
            ranked = _ranked(self._first_guess)
            first = (
                select(jobs.c.job_id, jobs.c.backend, jobs.c.owner_hub, jobs.c.owner_group,
                       jobs.c.owner_project, jobs.c.num_experiments, jobs.c.creation_date)
                # From the ranking to the rows by primary key: whatever the planner's statistics
                # (none yet on a new table), each ranked job is one index lookup, never a rescan.
                .add_columns(jobs.c.status)  # as locked: claim() checks it is still QUEUED
                .select_from(ranked)
                .join(jobs, jobs.c.seq == ranked.c.seq)
                .order_by(ranked.c.rank, ranked.c.turn, ranked.c.seq)
                .limit(1)
                .with_for_update(of=jobs, skip_locked=True)
            )
            run = (
                update(jobs).where(jobs.c.job_id == bindparam("job"))
                .values(status=RUNNING, claimed_by=bindparam("replica"), started_at=bindparam("now"),
                        finished_at=None, runs=jobs.c.runs + 1)
            )
            dialect = postgresql if dialect_name == "postgresql" else sqlite
            upsert = dialect.insert(fairshare_turns)
            turn = upsert.on_conflict_do_update(
                index_elements=[c.name for c in fairshare_turns.primary_key],
                set_={"last_claimed": upsert.excluded.last_claimed},
            )
            self._claim = {"first": first, "run": run, "turn": turn}
        return self._claim

    def remove(self, job_id: str) -> None:
        """A queued job left the queue (cancelled, deleted): positions behind it moved."""
        self._on_change()

    def close(self) -> None:
        """Wake every worker waiting for a job, for good (the server is stopping)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    # --- reporting -------------------------------------------------------------------

    @guarded
    def info(self, job_id: str) -> QueueInfoModel | None:
        """Position, estimates and priorities of a queued job; None when not queued."""
        with self._store._reading() as conn:
            job = conn.execute(
                select(jobs.c.backend, jobs.c.num_experiments, *_project_cols()[1:])
                .where(jobs.c.job_id == job_id, jobs.c.status == QUEUED)
            ).first()
            if job is None:
                return None
            ranked = _ranked([job.backend])
            order = [ranked.c.rank, ranked.c.turn, ranked.c.seq]
            placed = select(
                ranked.c.job_id,
                func.row_number().over(order_by=order).label("position"),
                func.sum(ranked.c.num_experiments).over(order_by=order).label("through"),
            ).subquery()
            found = conn.execute(
                select(placed.c.position, placed.c.through).where(placed.c.job_id == job_id)
            ).first()
            if found is None:
                return None
            per_experiment = self._seconds_per_experiment(conn, job.backend)
            running_left = self._running_left(conn, job.backend, per_experiment)
            workers = self._live_workers(conn)
            usage = self._usage(conn)
        ahead = float(found.through) - job.num_experiments
        wait_s = (running_left + ahead * per_experiment) / workers
        start = datetime.now(UTC) + timedelta(seconds=wait_s)
        complete = start + timedelta(seconds=job.num_experiments * per_experiment)
        hub, group, project = _priorities(usage, (job.owner_hub, job.owner_group, job.owner_project))
        return QueueInfoModel(
            position=found.position,
            status="PENDING_IN_QUEUE",
            estimated_start_time=to_iso(start),
            estimated_complete_time=to_iso(complete),
            hub_priority=hub,
            group_priority=group,
            project_priority=project,
        )

    def _seconds_per_experiment(self, conn: Connection, backend: str) -> float:
        recent = (
            select(((jobs.c.finished_at - jobs.c.started_at) / jobs.c.num_experiments).label("s"))
            .where(jobs.c.backend == backend, jobs.c.status == COMPLETED, jobs.c.started_at.is_not(None))
            .order_by(jobs.c.finished_at.desc())
            .limit(RECENT_RUNS)
            .subquery()
        )
        value = conn.execute(select(func.avg(recent.c.s))).scalar()
        if value is not None:
            return float(value)
        # A backend only other replicas offer has no first guess here until one of its runs completes.
        return self._first_guess.get(backend, max(self._first_guess.values(), default=1.0))

    @staticmethod
    def _running_left(conn: Connection, backend: str, per_experiment: float) -> float:
        now = time.time()
        rows = conn.execute(
            select(jobs.c.num_experiments, jobs.c.started_at)
            .where(jobs.c.backend == backend, jobs.c.status == RUNNING)
        )
        return sum(max(0.0, n * per_experiment - (now - (started or now))) for n, started in rows)

    def _live_workers(self, conn: Connection) -> int:
        total = conn.execute(
            select(func.sum(replicas.c.workers)).where(replicas.c.lease_until >= time.time())
        ).scalar()
        return max(int(total or 0), self._workers, 1)

    @staticmethod
    def _usage(conn: Connection) -> list[tuple[Project, float]]:
        rows = conn.execute(
            select(jobs.c.owner_hub, jobs.c.owner_group, jobs.c.owner_project,
                   (jobs.c.finished_at - jobs.c.started_at).label("s"))
            .where(jobs.c.status == COMPLETED, jobs.c.started_at.is_not(None))
            .order_by(jobs.c.finished_at.desc())
            .limit(USAGE_RUNS)
        )
        return [((hub, group, project), float(s)) for hub, group, project, s in rows]


def _priorities(usage: list[tuple[Project, float]], who: Project) -> tuple[float, float, float]:
    total = sum(seconds for _, seconds in usage)
    if total <= 0:
        return 1.0, 1.0, 1.0
    shares = []
    for depth in (1, 2, 3):  # hub, then hub+group, then hub+group+project
        used = sum(seconds for p, seconds in usage if p[:depth] == who[:depth])
        shares.append(round(1.0 - used / total, 6))
    return shares[0], shares[1], shares[2]


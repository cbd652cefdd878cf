"""The fairshare queue, in the database: per backend, round robin across projects.

The queue is the jobs table itself (status QUEUED), so every replica sharing the
database sees one queue; its order is in :mod:`.fairshare` (each project's jobs
oldest first, one job per project per round, the project whose turn is oldest
first). A worker claims the first job in that order: the projects whose turn comes
first are read from ``fairshare_turns`` with their oldest job, which is locked with
``FOR UPDATE SKIP LOCKED`` and moved to RUNNING under this replica's name in the
same transaction, together with the project's new turn. A concurrent claim on
another replica skips a locked job instead of waiting: it takes the next project's
oldest job, or, when every project's is being claimed, the next job of the first
project whose jobs are not all locked. On SQLite the one writer at a time (``BEGIN
IMMEDIATE``) does the same.

Positions are 1-based per backend. Estimates come from the recent run time per
experiment on each backend (completed runs in the table); priorities are fairshare
floats in [0, 1]: one minus the share of recent run time a hub/group/project used.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, bindparam, func, literal_column, select, update

from prefect_ibmq.timestamps import now_iso, to_iso
from prefect_ibmq.wire import ApiJobStatus, QueueInfoModel

from .engine import guarded
from .fairshare import QUEUED_ROW, Project, in_turn, next_turns, place, walk_indexes
from .schema import fairshare_turns, jobs, replicas
from .store import Store

RUNNING = ApiJobStatus.RUNNING.value
#: Recent completed runs that teach the estimates (per backend) and the priorities.
RECENT_RUNS = 20
USAGE_RUNS = 200
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


#: Timed completed runs, as the condition of jobs_completed* says (see schema.COMPLETED_ROWS).
_COMPLETED_ROW: ColumnElement[bool] = and_(
    jobs.c.status == literal_column("'COMPLETED'"), jobs.c.started_at.is_not(None), jobs.c.finished_at.is_not(None)
)
_PARTITION = ("backend", "owner_hub", "owner_group", "owner_project")
_CLAIMED = (jobs.c.job_id, jobs.c.backend, jobs.c.owner_hub, jobs.c.owner_group, jobs.c.owner_project,
            jobs.c.num_experiments, jobs.c.creation_date)
#: Lock a project's oldest job (unless another claim holds it), or its first job no other claim holds.
_LOCK_HEAD = select(*_CLAIMED).where(jobs.c.seq == bindparam("head"), QUEUED_ROW).with_for_update(skip_locked=True)
_LOCK_FIRST_FREE = (
    select(*_CLAIMED)
    .where(QUEUED_ROW, *(jobs.c[name] == bindparam(name) for name in _PARTITION))
    .order_by(jobs.c.creation_date, jobs.c.seq).limit(1).with_for_update(skip_locked=True)
)
_RUN = (
    update(jobs).where(jobs.c.job_id == bindparam("job"), QUEUED_ROW)
    .values(status=RUNNING, claimed_by=bindparam("replica"), started_at=bindparam("now"),
            finished_at=None, runs=jobs.c.runs + 1)
)
_TURN = (
    update(fairshare_turns)
    .where(*(fairshare_turns.c[name] == bindparam(f"p_{name}") for name in _PARTITION))
    .values(last_claimed=bindparam("now"))
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
        self._next: Any = None

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

        def apply(conn: Connection) -> QueuedJob | None:
            walk_indexes(conn)
            row = self._lock_next(conn)
            if row is None:
                return None
            now = time.time()
            if conn.execute(_RUN, {"job": row.job_id, "replica": replica_id, "now": now}).rowcount != 1:
                return None  # cannot happen under the lock; never claim a job twice
            conn.execute(_TURN, {"now": now, **{f"p_{name}": getattr(row, name) for name in _PARTITION}})
            store.enter_step(conn, row.job_id, RUNNING, now_iso())
            store.announce(conn, row.job_id, RUNNING)
            return QueuedJob(
                row.job_id, row.backend, (row.owner_hub, row.owner_group, row.owner_project),
                row.num_experiments, created=row.creation_date,
            )

        return store.write(apply)

    def _lock_next(self, conn: Connection) -> Any:
        """Lock the first job in the order that no other claim holds (see the module); None if none."""
        if self._next is None:
            self._next = next_turns(self._first_guess)  # built once: building costs more than running it
        turns = in_turn(conn.execute(self._next))
        for turn in turns:
            row = conn.execute(_LOCK_HEAD, {"head": turn.head}).first()
            if row is not None:
                return row
        for turn in turns:  # every project's oldest job is being claimed by other replicas
            row = conn.execute(_LOCK_FIRST_FREE, {name: getattr(turn, name) for name in _PARTITION}).first()
            if row is not None:
                return row
        return None

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
        with self._store.reading(snapshot=True) as conn:
            walk_indexes(conn)
            found = place(conn, job_id)
            if found is None:
                return None
            per_experiment = self._seconds_per_experiment(conn, found.backend)
            running_left = self._running_left(conn, found.backend, per_experiment)
            workers = self._live_workers(conn)
            usage = self._usage(conn)
        wait_s = (running_left + found.ahead * per_experiment) / workers
        start = datetime.now(UTC) + timedelta(seconds=wait_s)
        complete = start + timedelta(seconds=found.num_experiments * per_experiment)
        hub, group, project = _priorities(usage, found.project)
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
            .where(jobs.c.backend == backend, _COMPLETED_ROW)
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
            .where(_COMPLETED_ROW)
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


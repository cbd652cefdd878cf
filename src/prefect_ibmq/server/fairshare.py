"""The fairshare order of the queue, read from indexes: whose turn is next, and where a job stands.

The order, per backend: each project's queued jobs oldest first (creation date, then
seq) are its rounds 1, 2, ...; round r takes each project's r-th job; within a round
the project whose turn is oldest goes first, a tie going to the older job (seq). A
project's turn is when it last had a job claimed or when its oldest queued job
entered the queue (``queued_at``), whichever is later: a project that just had a job
dispatched goes to the back, one that comes back to an empty queue takes its place
from then on.

A claim always takes a round-1 job: the next job is the oldest of the project whose
turn is oldest. ``fairshare_turns`` has a row per (backend, project) with its last
claim and, kept by triggers, how many jobs and experiments it has queued; the partial
indexes ``jobs_queue_order`` and ``jobs_queue_entered`` give each project's oldest job
and when it entered. So finding the next job costs a few index lookups per project
with jobs queued, whatever the queue's depth.

A job's position counts, for each project of its backend, the jobs of earlier rounds
and the one of its own round whose turn comes first. Its own project's jobs ahead are
counted from whichever end of the project's jobs is nearer; another project's round
boundary is reached from whichever end is nearer too, and its counters give the rest.
For the first and last jobs of a queue that is a handful of index steps; in the
middle of a long queue, up to half the project's jobs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    and_,
    bindparam,
    case,
    func,
    literal_column,
    select,
    tuple_,
)

from .schema import fairshare_turns, jobs

Project = tuple[str, str, str]  # hub, group, project
#: Queued rows, with the constant inline as in the partial indexes' condition (else SQLite ignores them).
QUEUED_ROW: ColumnElement[bool] = jobs.c.status == literal_column("'QUEUED'")
_PARTITION = ("backend", "owner_hub", "owner_group", "owner_project")
#: A first count from each end of a project's jobs stops after this many; then 16 times more.
_FIRST_CAP = 256


@dataclass
class Place:
    """Where a queued job stands on its backend."""

    position: int  # 1-based
    ahead: int  # experiments of the jobs before it
    backend: str
    project: Project
    num_experiments: int


def walk_indexes(conn: Connection) -> None:
    """Plan the rest of this transaction without sorts where an index gives the order (PostgreSQL).

    The planner estimates from statistics, which lag a queue that grew fast (a sweep just
    submitted, a table not yet analysed): thinking a project has one job queued, it would
    read and sort all of them rather than take the first from the index in order. The
    queue's statements all want index order; on SQLite they get it without being told.
    (JIT goes too: a statement whose plan still sorts would cost enough to be compiled.)
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT set_config('enable_sort', 'off', true), set_config('jit', 'off', true)")


def _of_partition(source: Any) -> Any:
    """Queued ``jobs`` rows of the partition whose columns ``source`` has (a row of turns, or bind parameters)."""
    return and_(QUEUED_ROW, *(jobs.c[name] == source[name] for name in _PARTITION))


def _turns(where: Any) -> Any:
    """Projects with jobs queued (rows of ``fairshare_turns`` matching ``where``), each with its turn and head."""
    t = fairshare_turns.c
    mine = _of_partition(t)
    # As jobs_queue_entered's condition says (min() passes over NULLs anyway).
    entered_rows = and_(mine, jobs.c.queued_at.is_not(None))
    entered = select(func.coalesce(func.min(jobs.c.queued_at), 0.0)).where(entered_rows).scalar_subquery()
    head = select(jobs.c.seq).where(mine).order_by(jobs.c.creation_date, jobs.c.seq).limit(1).scalar_subquery()
    inner = select(
        *(t[name] for name in _PARTITION), t.last_claimed, t.queued, t.experiments,
        entered.label("entered"), head.label("head"),
    ).where(where, t.queued > 0).subquery()
    turn = case((inner.c.last_claimed > inner.c.entered, inner.c.last_claimed), else_=inner.c.entered)
    return select(*(inner.c[name] for name in _PARTITION), inner.c.queued, inner.c.experiments,
                  inner.c.head, turn.label("turn")).where(inner.c.head.is_not(None))


def next_turns(backends: Iterable[str]) -> Any:
    """The projects with jobs queued on ``backends``, with their turn and oldest job (head): see :func:`in_turn`."""
    return _turns(fairshare_turns.c.backend.in_(list(backends)))


def in_turn(turns: Iterable[Any]) -> list[Any]:
    """Rows of :func:`next_turns`, the next to be served first (sorted here: a handful of rows)."""
    return sorted(turns, key=lambda turn: (turn.turn, turn.head))


_PARAMS: dict[str, BindParameter[Any]] = {name: bindparam(name) for name in _PARTITION}
_KEY = (jobs.c.creation_date, jobs.c.seq)
_JOB = select(*(jobs.c[name] for name in _PARTITION), jobs.c.creation_date, jobs.c.seq, jobs.c.num_experiments).where(
    jobs.c.job_id == bindparam("job_id"), QUEUED_ROW
)
_BACKEND_TURNS = _turns(fairshare_turns.c.backend == bindparam("backend"))


def _capped(before: bool) -> Any:
    """Count and experiments of at most ``cap`` jobs of a partition before (or after) the key (cd, seq)."""
    key = tuple_(*_KEY)
    point = tuple_(bindparam("cd"), bindparam("seq"))
    side = select(jobs.c.num_experiments).where(_of_partition(_PARAMS), key < point if before else key > point)
    walked = side.limit(bindparam("cap")).subquery()
    return select(func.count(), func.coalesce(func.sum(walked.c.num_experiments), 0))


def _nearest(descending: bool) -> Any:
    """From one end of a partition: experiments of its first ``summed`` jobs, and the job after ``skipped`` ones."""
    order = [k.desc() for k in _KEY] if descending else list(_KEY)
    rows = select(jobs.c.seq, jobs.c.num_experiments).where(_of_partition(_PARAMS)).order_by(*order)
    walked = rows.limit(bindparam("summed")).subquery()
    total = select(func.coalesce(func.sum(walked.c.num_experiments), 0)).scalar_subquery()
    after = rows.limit(1).offset(bindparam("skipped")).subquery()
    return select(total.label("summed"), select(after.c.seq).scalar_subquery().label("seq"),
                  select(after.c.num_experiments).scalar_subquery().label("num_experiments"))


_BEFORE, _AFTER = _capped(True), _capped(False)
_FROM_FRONT, _FROM_BACK = _nearest(False), _nearest(True)


def place(conn: Connection, job_id: str) -> Place | None:
    """Position and experiments ahead of ``job_id`` in its backend's order; None when not queued.

    ``conn`` should read one snapshot (``Store.reading(snapshot=True)``): the counters and the
    index walks then agree.
    """
    job = conn.execute(_JOB, {"job_id": job_id}).first()
    if job is None:
        return None
    partition = {name: getattr(job, name) for name in _PARTITION}
    turns = list(conn.execute(_BACKEND_TURNS, {"backend": job.backend}))
    own = next((t for t in turns if all(getattr(t, n) == partition[n] for n in _PARTITION)), None)
    if own is None:
        return None  # left the queue meanwhile
    jobs_ahead, experiments_ahead = _ahead_in_project(conn, partition, job, own)
    rank = jobs_ahead + 1
    for other in turns:
        if other is own:
            continue
        if other.queued < rank:  # every round of it comes earlier
            jobs_ahead += other.queued
            experiments_ahead += other.experiments
            continue
        before, peer = _rounds_before(conn, other, rank)
        jobs_ahead += rank - 1
        experiments_ahead += before
        if peer.seq is not None and (other.turn, peer.seq) < (own.turn, job.seq):
            jobs_ahead += 1
            experiments_ahead += peer.num_experiments
    return Place(jobs_ahead + 1, experiments_ahead, job.backend,
                 (job.owner_hub, job.owner_group, job.owner_project), job.num_experiments)


def _ahead_in_project(conn: Connection, partition: dict[str, Any], job: Any, own: Any) -> tuple[int, int]:
    """(jobs, experiments) of the job's own project before it, counted from the nearer end."""
    params = {**partition, "cd": job.creation_date, "seq": job.seq}
    cap = _FIRST_CAP
    while True:
        count, experiments = conn.execute(_BEFORE, {**params, "cap": cap}).one()
        if count < cap:
            return int(count), int(experiments)
        count, experiments = conn.execute(_AFTER, {**params, "cap": cap}).one()
        if count < cap:
            return (int(own.queued) - 1 - int(count),
                    int(own.experiments) - job.num_experiments - int(experiments))
        cap *= 16


def _rounds_before(conn: Connection, other: Any, rank: int) -> tuple[int, Any]:
    """Experiments of ``other``'s first ``rank - 1`` jobs, and its ``rank``-th job (seq, num_experiments)."""
    params = {name: getattr(other, name) for name in _PARTITION}
    if rank - 1 <= other.queued - rank:  # nearer the front: the jobs before the rank-th
        peer = conn.execute(_FROM_FRONT, {**params, "summed": rank - 1, "skipped": rank - 1}).one()
        return int(peer.summed), peer
    after = other.queued - rank  # nearer the back: the rank-th and the jobs after it
    peer = conn.execute(_FROM_BACK, {**params, "summed": after + 1, "skipped": after}).one()
    return int(other.experiments - peer.summed), peer

"""Which jobs a listing matches, and how a page of them is read from indexes.

The filters of ``GET /v1/jobs`` (and ``/api/v1/jobs``) are SQL conditions. A page
(newest first, or oldest with ``ascending``) is read along the index that narrows it
most, its *drivers*: the jobs with a tag (``job_tags`` by tag and seq) when tags are
asked for; the jobs in a status when only not-final statuses are (those are few: at
most what is in flight); otherwise the viewer's own jobs (``jobs_owner``) and the jobs
shared with it (``jobs_shared``). Each driver walks its index in seq order, checking the
other conditions on the way, and stops after the page; the drivers' rows never
overlap, so the page is the first of their union and the total the sum of their
counts. A page after a cursor (the last seq of the page before) starts where that one
ended, however deep: an offset still works, but walks every row it skips.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from types import SimpleNamespace
from typing import Any, NamedTuple

from sqlalchemy import and_, bindparam, exists, func, literal_column, not_, or_, select

from prefect_ibmq.wire import NOT_FINAL, ApiJobStatus, Identity, JobRecord

from .schema import job_tags, jobs

_NOT_FINAL = {status.value for status in NOT_FINAL}
#: The seq, but not the column itself: ordered by it, the planner reads the shared jobs from their
#: (small) index and sorts them, rather than walking every job in seq order to find the shared ones.
_SORTED_SEQ = jobs.c.seq + 0


class JobPage(NamedTuple):
    """A page of a listing: its records, how many jobs match in all, and the cursor of the next page."""

    records: list[JobRecord]
    total: int
    #: The seq of the page's last job when the page is full (a next page may follow), else None.
    next_after: int | None


@dataclass
class JobFilter:
    """The filters of ``GET /v1/jobs`` (None: not filtered)."""

    backend: str | None = None
    statuses: Sequence[str] | None = None
    tags: Sequence[str] | None = None
    tags_and: bool = False
    name_regex: str | None = None
    created_after: str | None = None
    created_before: str | None = None
    experiment_id: str | None = None
    #: Qiskit Runtime jobs only (``/api/v1/jobs``), and their program and session filters.
    runtime_only: bool = False
    program_id: str | None = None
    session_id: str | None = None
    ascending: bool = False  # oldest first (``sort=ASC``)


def parse_filters(
    backend: str | None,
    statuses: Sequence[ApiJobStatus] | None,
    tags: Sequence[str] | None,
    tags_operator: str,
    name: str | None,
    created_after: str | None,
    created_before: str | None,
    experiment_id: str | None,
) -> JobFilter:
    """The query parameters of ``GET /v1/jobs`` as a JobFilter."""
    return JobFilter(
        backend=backend,
        statuses=[s.value for s in statuses] if statuses else None,
        tags=list(tags) if tags else None,
        tags_and=tags_operator == "AND",
        name_regex=name,
        created_after=created_after,
        created_before=created_before,
        experiment_id=experiment_id,
    )


def matching(viewer: Identity, filters: JobFilter) -> Any:
    """The condition on ``jobs`` rows: visible to ``viewer`` and matching every filter set."""
    return and_(visible_to(viewer), *_conditions(filters))


def _conditions(filters: JobFilter) -> list[Any]:
    """The filters' conditions on ``jobs`` rows (visibility aside)."""
    c = jobs.c
    clauses = []
    if filters.backend is not None:
        clauses.append(c.backend == filters.backend)
    if filters.statuses:
        clauses.append(c.status.in_(list(filters.statuses)))
    if filters.tags:
        wanted = sorted(set(filters.tags))
        if filters.tags_and:
            clauses.extend(_tagged(tag) for tag in wanted)
        else:
            clauses.append(or_(*(_tagged(tag) for tag in wanted)))
    if filters.name_regex is not None:
        # An RE2 pattern (namematch.py): SQLite's REGEXP is RE2's search; PostgreSQL's "~" runs in its process.
        clauses.append(c.name.regexp_match(filters.name_regex))
    if filters.created_after is not None:
        clauses.append(c.creation_date >= filters.created_after)
    if filters.created_before is not None:
        clauses.append(c.creation_date <= filters.created_before)
    if filters.experiment_id is not None:
        clauses.append(c.experiment_id == filters.experiment_id)
    if filters.runtime_only:
        clauses.append(c.program_id.is_not(None))
    if filters.program_id is not None:
        clauses.append(c.program_id == filters.program_id)
    if filters.session_id is not None:
        clauses.append(c.session_id == filters.session_id)
    return clauses


def _tagged(tag: str) -> Any:
    """The job has ``tag`` (one primary-key lookup in ``job_tags``; aliased: a tag driver reads job_tags too)."""
    tagged = job_tags.alias()
    return exists().where(tagged.c.job_id == jobs.c.job_id, tagged.c.tag == tag)


def _own(v: Any) -> Any:
    """Owned by ``v`` (an Identity, or bind parameters standing for one)."""
    c = jobs.c
    return and_(c.owner_hub == v.hub, c.owner_group == v.group, c.owner_project == v.project, c.owner_user == v.user)


def _shared_with(v: Any) -> Any:
    """Shared with ``v`` (as in :func:`_own`) by its share level (the owner aside)."""
    c = jobs.c
    same_hub = c.owner_hub == v.hub
    same_group = same_hub & (c.owner_group == v.group)
    return or_(
        c.share_level == "global",
        (c.share_level == "hub") & same_hub,
        (c.share_level == "group") & same_group,
        (c.share_level == "project") & same_group & (c.owner_project == v.project),
    )


def visible_to(viewer: Identity) -> Any:
    """The owner, or shared with the viewer by its share level (the SQL twin of ``auth.can_see``)."""
    return or_(_own(viewer), _shared_with(viewer))


#: The viewer as bind parameters (see :func:`viewer_params`): conditions built once, not per listing.
_VIEWER = SimpleNamespace(**{field: bindparam(f"viewer_{field}") for field in ("user", "hub", "group", "project")})
_OWN = _own(_VIEWER)
_VISIBLE = or_(_OWN, _shared_with(_VIEWER))
# jobs_shared holds only shared rows: SQLite uses it when the query states its condition, constant inline.
_SHARED = and_(jobs.c.share_level != literal_column("'none'"), _shared_with(_VIEWER), not_(_OWN))


def viewer_params(viewer: Identity) -> dict[str, str]:
    """The parameters of :func:`listing`'s statements for ``viewer``."""
    return {f"viewer_{field}": getattr(viewer, field) for field in ("user", "hub", "group", "project")}


def _drivers(filters: JobFilter) -> list[Any]:
    """Selects of one ``seq`` column whose rows never overlap and together are every matching job."""
    c = jobs.c
    if filters.tags:
        wanted = sorted(set(filters.tags))
        others = _conditions(replace(filters, tags=None))
        if filters.tags_and:  # the first tag's jobs having the others
            leads, wanted_too = wanted[:1], [_tagged(tag) for tag in wanted[1:]]
        else:  # each tag's jobs not having an earlier one
            leads, wanted_too = wanted, []
        return [
            select(job_tags.c.seq).where(
                job_tags.c.tag == tag,
                _passes(job_tags.c.seq, [_VISIBLE, *others, *wanted_too,
                                         *(not_(_tagged(earlier)) for earlier in leads[:index])]),
            )
            for index, tag in enumerate(leads)
        ]
    if filters.statuses and set(filters.statuses) <= _NOT_FINAL:
        others = _conditions(replace(filters, statuses=None))
        walked = jobs.alias("walked")
        return [select(walked.c.seq).where(walked.c.status == status, _passes(walked.c.seq, [_VISIBLE, *others]))
                for status in sorted(set(filters.statuses))]
    conditions = _conditions(filters)
    return [select(c.seq).where(_OWN, *conditions), select(_SORTED_SEQ.label("seq")).where(_SHARED, *conditions)]


def _passes(seq: Any, conditions: list[Any]) -> Any:
    """The job ``seq`` meets ``conditions``, checked on its row found by primary key.

    A correlated scalar subquery, evaluated for each row the driver walks: a planner cannot
    turn it into a join over every job the viewer may see (PostgreSQL without statistics
    would hash all of them to check the few a tag has).
    """
    return select(literal_column("1")).where(jobs.c.seq == seq, *conditions).scalar_subquery().is_not(None)


def listing(filters: JobFilter, limit: int, offset: int, after: int | None) -> tuple[Any, Any]:
    """(count, page) statements, to run with :func:`viewer_params`.

    The count is the sum of the drivers' counts; the page is the ``jobs`` rows after skipping
    ``offset`` past the job whose seq is ``after`` (None: from the first).
    """
    drivers = _drivers(filters)
    counts = [select(func.count()).select_from(driver.subquery()).scalar_subquery() for driver in drivers]
    total: Any = counts[0]
    for count in counts[1:]:
        total = total + count
    parts: list[Any] = []
    for driver in drivers:
        column = driver.selected_columns[0]
        if after is not None:
            driver = driver.where(column > after if filters.ascending else column < after)
        parts.append(driver.order_by(column.asc() if filters.ascending else column.desc()).limit(limit + offset))
    subqueries: list[Any] = [part.subquery().select() for part in parts]
    found = parts[0] if len(parts) == 1 else subqueries[0].union_all(*subqueries[1:])
    seq = jobs.c.seq
    page = (
        select(jobs).where(seq.in_(found))
        .order_by(seq.asc() if filters.ascending else seq.desc()).limit(limit).offset(offset)
    )
    return select(total), page

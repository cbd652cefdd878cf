"""Which jobs a listing matches: the filters of ``GET /v1/jobs`` (and ``/api/v1/jobs``) as SQL conditions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, or_, select

from prefect_ibmq.wire import ApiJobStatus, Identity

from .schema import job_tags, jobs


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
    c = jobs.c
    clauses = [visible_to(viewer)]
    if filters.backend is not None:
        clauses.append(c.backend == filters.backend)
    if filters.statuses:
        clauses.append(c.status.in_(list(filters.statuses)))
    if filters.tags:
        wanted = sorted(set(filters.tags))
        tagged = select(job_tags.c.job_id).where(job_tags.c.tag.in_(wanted))
        if filters.tags_and:
            tagged = tagged.group_by(job_tags.c.job_id).having(func.count() == len(wanted))
        clauses.append(c.job_id.in_(tagged))
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
    return and_(*clauses)


def visible_to(viewer: Identity) -> Any:
    """The owner, or shared with the viewer by its share level (the SQL twin of ``auth.can_see``)."""
    v, c = viewer, jobs.c
    same_hub = c.owner_hub == v.hub
    same_group = same_hub & (c.owner_group == v.group)
    return or_(
        (c.owner_user == v.user) & same_group & (c.owner_project == v.project),
        c.share_level == "global",
        (c.share_level == "hub") & same_hub,
        (c.share_level == "group") & same_group,
        (c.share_level == "project") & same_group & (c.owner_project == v.project),
    )

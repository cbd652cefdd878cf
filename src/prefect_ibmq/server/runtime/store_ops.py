"""Queries of the runtime API beyond the :class:`~prefect_ibmq.server.store.Store`'s own methods.

They use the store's transactions and error handling, as :mod:`.session_store` does.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select

from prefect_ibmq.wire import ApiJobStatus, Identity

from ..engine import guarded
from ..schema import jobs, runtime_params, sessions
from ..store import Store
from .mock_backends import DRY_RUN_HEADER

#: The statuses of a job that has not started running (a session's expiry cancels these).
NOT_STARTED = (
    ApiJobStatus.CREATING, ApiJobStatus.CREATED, ApiJobStatus.VALIDATING, ApiJobStatus.VALIDATED,
    ApiJobStatus.QUEUED,
)


@guarded
def consumed_seconds(store: Store, project: Identity, since: float) -> float:
    """Seconds the runtime jobs of ``project``'s hub/group/project ran, among those finished after ``since``.

    Dry runs do not count (their header names a mock device).
    """
    query = select(func.sum(jobs.c.finished_at - jobs.c.started_at).label("seconds")).where(
        jobs.c.program_id.is_not(None),
        jobs.c.owner_hub == project.hub, jobs.c.owner_group == project.group,
        jobs.c.owner_project == project.project,
        jobs.c.started_at.is_not(None), jobs.c.finished_at >= since,
        jobs.c.header.not_like(f'%"{DRY_RUN_HEADER}"%'),
    )
    rows = store.read(query)
    return float(rows[0]["seconds"] or 0.0) if rows else 0.0


@guarded
def sessions_with_waiting_jobs(store: Store) -> list[tuple[str, str, int]]:
    """(session id, created, max_ttl) of each session with a job that has not started running."""
    query = (
        select(sessions.c.session_id, sessions.c.created, sessions.c.max_ttl)
        .where(sessions.c.session_id.in_(
            select(jobs.c.session_id).where(jobs.c.status.in_([s.value for s in NOT_STARTED]))
        ))
    )
    return [(row["session_id"], row["created"], int(row["max_ttl"])) for row in store.read(query)]


@guarded
def forget_params(store: Store, job_id: str) -> None:
    """Delete a job's program parameters (a private job's, once its results are read)."""
    store.write(lambda conn: conn.execute(delete(runtime_params).where(runtime_params.c.job_id == job_id)))

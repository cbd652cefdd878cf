"""Sessions and batches of the runtime API, in the job store's ``sessions`` table.

These use the :class:`~prefect_ibmq.server.store.Store`'s transactions and error
handling (SQLite or PostgreSQL alike). (Runtime jobs themselves are jobs of the
store: ``Store.list_jobs`` lists them.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from prefect_ibmq.timestamps import now_iso
from prefect_ibmq.wire import Identity

from ..engine import guarded
from ..schema import jobs, sessions
from ..store import Store


@dataclass
class SessionRow:
    """A stored session."""
    session_id: str
    mode: str
    backend: str
    owner: Identity
    max_ttl: int
    created: str
    accepting_jobs: bool
    closed: str | None


@guarded
def create_session(store: Store, session_id: str, mode: str, backend: str, owner: Identity, max_ttl: int) -> None:
    """Store an open session."""
    def add(conn: Connection) -> None:
        conn.execute(
            insert(sessions).values(
                session_id=session_id, mode=mode, backend=backend, owner_user=owner.user,
                owner_hub=owner.hub, owner_group=owner.group, owner_project=owner.project,
                max_ttl=max_ttl, created=now_iso(),
            )
        )

    store.write(add)


@guarded
def get_session(store: Store, session_id: str) -> SessionRow | None:
    """The stored session, or None."""
    rows = store.read(select(sessions).where(sessions.c.session_id == session_id))
    if not rows:
        return None
    row = rows[0]
    return SessionRow(
        session_id=row["session_id"],
        mode=row["mode"],
        backend=row["backend"],
        owner=Identity(
            user=row["owner_user"], hub=row["owner_hub"], group=row["owner_group"], project=row["owner_project"]
        ),
        max_ttl=row["max_ttl"],
        created=row["created"],
        accepting_jobs=bool(row["accepting_jobs"]),
        closed=row["closed"],
    )


@guarded
def close_session(store: Store, session_id: str) -> None:
    """Stop accepting jobs; the first close time stays."""

    def close(conn: Connection) -> None:
        conn.execute(
            update(sessions).where(sessions.c.session_id == session_id)
            .values(accepting_jobs=0, closed=func.coalesce(sessions.c.closed, now_iso()))
        )

    store.write(close)


@guarded
def session_jobs(store: Store, session_id: str) -> list[dict[str, Any]]:
    """(job_id, status) of a session's jobs, oldest first."""
    query = select(jobs.c.job_id, jobs.c.status).where(jobs.c.session_id == session_id).order_by(jobs.c.seq)
    rows = store.read(query)
    return [dict(row) for row in rows]

"""Sessions and batches of the runtime API, in the job store's ``sessions`` table.

These use the :class:`~prefect_ibmq.server.store.Store`'s one connection and lock, so
they share its transactions and busy handling. (Runtime jobs themselves are jobs of
the store: ``Store.list_jobs`` lists them.)
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from prefect_ibmq.wire import Identity

from ..store import Store, _guarded, now_iso


@dataclass
class SessionRow:
    session_id: str
    mode: str
    backend: str
    owner: Identity
    max_ttl: int
    created: str
    accepting_jobs: bool
    closed: str | None


@_guarded
def create_session(store: Store, session_id: str, mode: str, backend: str, owner: Identity, max_ttl: int) -> None:
    def insert(conn: sqlite3.Connection) -> None:
        conn.execute(
            """INSERT INTO sessions (session_id, mode, backend, owner_user, owner_hub, owner_group,
               owner_project, max_ttl, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)""",
            (session_id, mode, backend, owner.user, owner.hub, owner.group, owner.project, max_ttl, now_iso()),
        )

    store._write(insert)


@_guarded
def get_session(store: Store, session_id: str) -> SessionRow | None:
    rows = store._read("SELECT * FROM sessions WHERE session_id = ?", (session_id,))
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


@_guarded
def close_session(store: Store, session_id: str) -> None:
    """Stop accepting jobs; the first close time stays."""

    def update(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE sessions SET accepting_jobs = 0, closed = COALESCE(closed, ?) WHERE session_id = ?",
            (now_iso(), session_id),
        )

    store._write(update)


@_guarded
def session_jobs(store: Store, session_id: str) -> list[dict[str, Any]]:
    """(job_id, status) of a session's jobs, oldest first."""
    rows = store._read("SELECT job_id, status FROM jobs WHERE session_id = ? ORDER BY seq", (session_id,))
    return [dict(row) for row in rows]

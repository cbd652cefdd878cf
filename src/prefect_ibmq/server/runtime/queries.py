"""The runtime API's reads and writes of the job store: listing runtime jobs, sessions.

They use the :class:`~prefect_ibmq.server.store.Store`'s one connection and lock
(its tables ``jobs``, ``runtime_params`` and ``sessions``), so they share its
transactions, busy handling and visibility rules.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from typing import Any

from prefect_ibmq.wire import FINAL_STATUSES, Identity, JobRecord

from ..store import Store, _guarded, now_iso


@dataclass
class RuntimeJobFilter:
    """The filters of ``GET /api/v1/jobs`` (None: not filtered); tags are ANDed."""

    tags: list[str] | None = None
    backend: str | None = None
    pending: bool | None = None
    program_id: str | None = None
    session_id: str | None = None
    created_after: str | None = None
    created_before: str | None = None
    ascending: bool = False


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
    cancelled: bool


@_guarded
def list_jobs(store: Store, viewer: Identity, filters: RuntimeJobFilter, limit: int, offset: int) -> tuple[list[JobRecord], int]:
    """Runtime jobs ``viewer`` may see, matching ``filters``, and their total count."""
    visible, values = store._visible_clause(viewer)
    clauses = [visible, "program_id IS NOT NULL"]
    for column, value in (("backend", filters.backend), ("program_id", filters.program_id), ("session_id", filters.session_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            values.append(value)
    if filters.pending is not None:
        finals = [s.value for s in FINAL_STATUSES]
        clauses.append(f"status {'NOT ' if filters.pending else ''}IN ({','.join('?' * len(finals))})")
        values.extend(finals)
    for tag in dict.fromkeys(filters.tags or []):
        clauses.append("EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value = ?)")
        values.append(tag)
    if filters.created_after is not None:
        clauses.append("creation_date >= ?")
        values.append(filters.created_after)
    if filters.created_before is not None:
        clauses.append("creation_date <= ?")
        values.append(filters.created_before)
    where = " AND ".join(clauses)
    order = "ASC" if filters.ascending else "DESC"
    total = store._read(f"SELECT COUNT(*) AS n FROM jobs WHERE {where}", values)[0]["n"]
    rows = store._read(f"SELECT * FROM jobs WHERE {where} ORDER BY seq {order} LIMIT ? OFFSET ?", [*values, limit, offset])
    return store._records(rows), total


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
        session_id=row["session_id"], mode=row["mode"], backend=row["backend"],
        owner=Identity(user=row["owner_user"], hub=row["owner_hub"], group=row["owner_group"], project=row["owner_project"]),
        max_ttl=row["max_ttl"], created=row["created"], accepting_jobs=bool(row["accepting_jobs"]),
        closed=row["closed"], cancelled=bool(row["cancelled"]),
    )


@_guarded
def close_session(store: Store, session_id: str, cancel: bool) -> None:
    """Stop accepting jobs (and, with ``cancel``, mark it cancelled); the first close time stays."""

    def update(conn: sqlite3.Connection) -> None:
        conn.execute(
            "UPDATE sessions SET accepting_jobs = 0, closed = COALESCE(closed, ?), cancelled = MAX(cancelled, ?) "
            "WHERE session_id = ?",
            (now_iso(), int(cancel), session_id),
        )

    store._write(update)


@_guarded
def session_jobs(store: Store, session_id: str) -> list[dict[str, Any]]:
    """(job_id, status) of a session's jobs, oldest first."""
    rows = store._read("SELECT job_id, status FROM jobs WHERE session_id = ? ORDER BY seq", (session_id,))
    return [dict(row) for row in rows]

"""The SQLite store: jobs, their steps (time_per_step), circuits and results.

One connection in WAL mode, used under a lock: SQLite serialises writers anyway
and a single connection keeps every multi-statement change (a transition and
its step, a result and its final status) in one transaction. The busy timeout
is short and "locked" / "disk I/O" / "full" errors become
:class:`~prefect_ibmq.server.errors.StoreUnavailable` (503), never a hang.
"""

from __future__ import annotations

import functools
import json
import logging
import re
import sqlite3
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from prefect_ibmq.wire import ApiJobStatus, Identity, JobError, JobRecord, RunOptions

from .errors import StoreUnavailable

logger = logging.getLogger("prefect_ibmq.server.store")

DB_FILE = "jobs.sqlite3"
BUSY_TIMEOUT_S = 2.0
_UNAVAILABLE = ("locked", "busy", "disk i/o error", "database or disk is full", "unable to open")

SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL UNIQUE,
    backend TEXT NOT NULL,
    status TEXT NOT NULL,
    creation_date TEXT NOT NULL,
    name TEXT,
    tags TEXT NOT NULL,
    share_level TEXT NOT NULL,
    experiment_id TEXT,
    client_info TEXT NOT NULL,
    options TEXT NOT NULL,
    header TEXT NOT NULL,
    private INTEGER NOT NULL,
    owner_user TEXT NOT NULL,
    owner_hub TEXT NOT NULL,
    owner_group TEXT NOT NULL,
    owner_project TEXT NOT NULL,
    num_experiments INTEGER NOT NULL,
    run_mode TEXT,
    error_code INTEGER,
    error_message TEXT,
    result_consumed INTEGER NOT NULL DEFAULT 0,
    requeued INTEGER NOT NULL DEFAULT 0,
    idempotency_key TEXT
);
-- The same key from the same identity makes one job, even from concurrent requests.
CREATE UNIQUE INDEX IF NOT EXISTS jobs_idempotency
    ON jobs(owner_user, owner_hub, owner_group, owner_project, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
CREATE INDEX IF NOT EXISTS jobs_status ON jobs(status);
CREATE TABLE IF NOT EXISTS steps (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL,
    status TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS steps_job ON steps(job_id);
CREATE TABLE IF NOT EXISTS circuits (
    job_id TEXT PRIMARY KEY,
    qpy BLOB NOT NULL,
    -- The circuits as they run (transpiled where needed); NULL until validated.
    runnable_qpy BLOB
);
CREATE TABLE IF NOT EXISTS results (
    job_id TEXT PRIMARY KEY,
    result TEXT NOT NULL
);
-- A private job's result held for the one reader (read key) that has it, until acknowledged.
CREATE TABLE IF NOT EXISTS result_reads (
    job_id TEXT PRIMARY KEY,
    read_key TEXT NOT NULL
);
"""

P = ParamSpec("P")
T = TypeVar("T")


def now_iso() -> str:
    """Now, as ISO 8601 UTC with microseconds (the format of every stored time)."""
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def to_iso(value: datetime) -> str:
    """A datetime in the stored format (naive ones are taken as UTC), so strings compare."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _guarded(method: Callable[P, T]) -> Callable[P, T]:
    """Turn SQLite's busy/I-O/full errors into StoreUnavailable (503)."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except sqlite3.OperationalError as exc:
            text = str(exc).lower()
            if any(marker in text for marker in _UNAVAILABLE):
                logger.warning("store unavailable: %s", exc)
                raise StoreUnavailable(str(exc)) from exc
            raise

    return wrapper


@functools.lru_cache(maxsize=64)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def _regexp(pattern: str, value: str | None) -> bool:
    return value is not None and _compiled(pattern).search(value) is not None


@dataclass
class NewJob:
    """What :meth:`Store.create_job` needs."""

    job_id: str
    backend: str
    owner: Identity
    qpy: bytes
    num_experiments: int
    options: RunOptions
    name: str | None = None
    tags: list[str] = field(default_factory=list)
    share_level: str = "none"
    experiment_id: str | None = None
    client_info: dict[str, str] = field(default_factory=dict)
    header: dict[str, Any] = field(default_factory=dict)
    private: bool = False
    idempotency_key: str | None = None


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


class Store:
    """Persistence of jobs; every method is thread-safe."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / DB_FILE
        self._lock = threading.RLock()
        self._conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        self._conn.row_factory = sqlite3.Row
        self._conn.create_function("REGEXP", 2, _regexp, deterministic=True)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    # --- transactions ----------------------------------------------------------------

    def _write(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``fn`` in one IMMEDIATE transaction (taken up front: no deadlock on upgrade)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                out = fn(self._conn)
                self._conn.execute("COMMIT")
            except BaseException:
                # SQLite may already have rolled back (a full disk, an I/O error): a second
                # ROLLBACK would raise and hide the real error; none at all would leave the
                # transaction open, and every later BEGIN would fail.
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise
            return out

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    @staticmethod
    def _enter_step(conn: sqlite3.Connection, job_id: str, status: str, at: str) -> None:
        # Entering a step again (after a restart) replaces its earlier entry, keeping order.
        conn.execute("DELETE FROM steps WHERE job_id = ? AND status = ?", (job_id, status))
        conn.execute("INSERT INTO steps (job_id, status, at) VALUES (?, ?, ?)", (job_id, status, at))

    # --- creating and reading --------------------------------------------------------

    @_guarded
    def create_job(self, job: NewJob) -> tuple[str, bool]:
        """Store a job going CREATING -> CREATED; returns (job_id, created).

        With an idempotency key already used by the same owner, nothing is stored and
        the first job's id comes back with ``created=False``.
        """

        def insert(conn: sqlite3.Connection) -> tuple[str, bool]:
            if job.idempotency_key is not None:
                existing = self._find_idempotent(conn, job.owner, job.idempotency_key)
                if existing:
                    return existing, False
            created = now_iso()
            conn.execute(
                """INSERT INTO jobs (job_id, backend, status, creation_date, name, tags, share_level,
                   experiment_id, client_info, options, header, private, owner_user, owner_hub,
                   owner_group, owner_project, num_experiments, idempotency_key)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)""",
                (
                    job.job_id, job.backend, ApiJobStatus.CREATED.value, created, job.name,
                    json.dumps(job.tags), job.share_level, job.experiment_id,
                    json.dumps(job.client_info), job.options.model_dump_json(), json.dumps(job.header),
                    int(job.private), job.owner.user, job.owner.hub, job.owner.group,
                    job.owner.project, job.num_experiments, job.idempotency_key,
                ),
            )
            conn.execute("INSERT INTO circuits (job_id, qpy) VALUES (?, ?)", (job.job_id, job.qpy))
            self._enter_step(conn, job.job_id, ApiJobStatus.CREATING.value, created)
            self._enter_step(conn, job.job_id, ApiJobStatus.CREATED.value, now_iso())
            return job.job_id, True

        try:
            return self._write(insert)
        except sqlite3.IntegrityError:
            # Another connection (another server process) won the race for this key.
            assert job.idempotency_key is not None
            with self._lock:
                existing = self._find_idempotent(self._conn, job.owner, job.idempotency_key)
            if existing is None:
                raise
            return existing, False

    @staticmethod
    def _find_idempotent(conn: sqlite3.Connection, owner: Identity, key: str) -> str | None:
        row = conn.execute(
            """SELECT job_id FROM jobs WHERE owner_user = ? AND owner_hub = ? AND owner_group = ?
               AND owner_project = ? AND idempotency_key = ?""",
            (owner.user, owner.hub, owner.group, owner.project, key),
        ).fetchone()
        return row["job_id"] if row else None

    @_guarded
    def get_job(self, job_id: str) -> JobRecord | None:
        rows = self._read("SELECT * FROM jobs WHERE job_id = ?", (job_id,))
        if not rows:
            return None
        return self._records(rows)[0]

    @_guarded
    def get_status(self, job_id: str) -> ApiJobStatus | None:
        rows = self._read("SELECT status FROM jobs WHERE job_id = ?", (job_id,))
        return ApiJobStatus(rows[0]["status"]) if rows else None

    def _records(self, rows: list[sqlite3.Row]) -> list[JobRecord]:
        ids = [row["job_id"] for row in rows]
        steps: dict[str, dict[str, str]] = {job_id: {} for job_id in ids}
        for start in range(0, len(ids), 500):  # stay under SQLite's bound-parameter limit
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for step in self._read(
                f"SELECT job_id, status, at FROM steps WHERE job_id IN ({marks}) ORDER BY id", chunk
            ):
                steps[step["job_id"]][step["status"]] = step["at"]
        return [self._record(row, steps[row["job_id"]]) for row in rows]

    @staticmethod
    def _record(row: sqlite3.Row, steps: dict[str, str]) -> JobRecord:
        error = None
        if row["error_code"] is not None:
            error = JobError(code=row["error_code"], message=row["error_message"] or "")
        return JobRecord(
            job_id=row["job_id"],
            backend=row["backend"],
            status=ApiJobStatus(row["status"]),
            creation_date=row["creation_date"],
            name=row["name"],
            tags=json.loads(row["tags"]),
            share_level=row["share_level"],
            experiment_id=row["experiment_id"],
            client_info=json.loads(row["client_info"]),
            options=RunOptions.model_validate_json(row["options"]),
            header=json.loads(row["header"]),
            private=bool(row["private"]),
            owner=Identity(
                user=row["owner_user"], hub=row["owner_hub"],
                group=row["owner_group"], project=row["owner_project"],
            ),
            num_experiments=row["num_experiments"],
            time_per_step=steps,
            run_mode=row["run_mode"],
            error=error,
            result_consumed=bool(row["result_consumed"]),
            requeued=row["requeued"],
        )

    @_guarded
    def list_jobs(
        self, viewer: Identity, filters: JobFilter, limit: int, offset: int
    ) -> tuple[list[JobRecord], int]:
        """Jobs ``viewer`` may see matching ``filters``, newest first, and their total count."""
        where, params = self._visible_clause(viewer)
        clauses, values = [where], list(params)
        if filters.backend is not None:
            clauses.append("backend = ?")
            values.append(filters.backend)
        if filters.statuses:
            clauses.append(f"status IN ({','.join('?' * len(filters.statuses))})")
            values.extend(filters.statuses)
        if filters.tags:
            marks = ",".join("?" * len(filters.tags))
            if filters.tags_and:
                clauses.append(
                    f"(SELECT COUNT(DISTINCT value) FROM json_each(jobs.tags) WHERE value IN ({marks})) = ?"
                )
                values.extend(filters.tags)
                values.append(len(set(filters.tags)))
            else:
                clauses.append(f"EXISTS (SELECT 1 FROM json_each(jobs.tags) WHERE value IN ({marks}))")
                values.extend(filters.tags)
        if filters.name_regex is not None:
            clauses.append("name REGEXP ?")
            values.append(filters.name_regex)
        if filters.created_after is not None:
            clauses.append("creation_date >= ?")
            values.append(filters.created_after)
        if filters.created_before is not None:
            clauses.append("creation_date <= ?")
            values.append(filters.created_before)
        if filters.experiment_id is not None:
            clauses.append("experiment_id = ?")
            values.append(filters.experiment_id)
        condition = " AND ".join(clauses)
        with self._lock:
            total = self._conn.execute(f"SELECT COUNT(*) FROM jobs WHERE {condition}", values).fetchone()[0]
            rows = self._conn.execute(
                f"SELECT * FROM jobs WHERE {condition} ORDER BY seq DESC LIMIT ? OFFSET ?",
                [*values, limit, offset],
            ).fetchall()
        return self._records(rows), total

    @staticmethod
    def _visible_clause(viewer: Identity) -> tuple[str, list[Any]]:
        """SQL for "the owner, or shared with the viewer by its share level" (see auth.can_see)."""
        sql = """(
            (owner_user = ? AND owner_hub = ? AND owner_group = ? AND owner_project = ?)
            OR share_level = 'global'
            OR (share_level = 'hub' AND owner_hub = ?)
            OR (share_level = 'group' AND owner_hub = ? AND owner_group = ?)
            OR (share_level = 'project' AND owner_hub = ? AND owner_group = ? AND owner_project = ?)
        )"""
        v = viewer
        return sql, [v.user, v.hub, v.group, v.project, v.hub, v.hub, v.group, v.hub, v.group, v.project]

    @_guarded
    def circuits(self, job_id: str, runnable: bool = False) -> bytes | None:
        column = "runnable_qpy" if runnable else "qpy"
        rows = self._read(f"SELECT {column} AS data FROM circuits WHERE job_id = ?", (job_id,))
        return bytes(rows[0]["data"]) if rows and rows[0]["data"] is not None else None

    @_guarded
    def jobs_in(self, statuses: Iterable[ApiJobStatus]) -> list[JobRecord]:
        """Jobs in any of ``statuses``, oldest first (used to resume work after a restart)."""
        values = [s.value for s in statuses]
        rows = self._read(
            f"SELECT * FROM jobs WHERE status IN ({','.join('?' * len(values))}) ORDER BY seq", values
        )
        return self._records(rows)

    @_guarded
    def pending_counts(self) -> dict[str, int]:
        """backend -> number of jobs not yet final."""
        finals = [s.value for s in ApiJobStatus if s.is_final]
        rows = self._read(
            f"SELECT backend, COUNT(*) AS n FROM jobs WHERE status NOT IN ({','.join('?' * len(finals))})"
            " GROUP BY backend",
            finals,
        )
        return {row["backend"]: row["n"] for row in rows}

    # --- changing --------------------------------------------------------------------

    @_guarded
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
    ) -> bool:
        """Move a job to ``to`` if it is in one of ``allowed_from``; False if it was not.

        Conditional updates make races (cancel vs. completion) resolve to exactly one winner.
        """
        allowed = [s.value for s in allowed_from]

        def apply(conn: sqlite3.Connection) -> bool:
            sets = ["status = ?"]
            values: list[Any] = [to.value]
            if error is not None:
                sets += ["error_code = ?", "error_message = ?"]
                values += [error.code, error.message]
            if run_mode is not None:
                sets.append("run_mode = ?")
                values.append(run_mode)
            if requeue:
                sets.append("requeued = requeued + 1")
            cursor = conn.execute(
                f"UPDATE jobs SET {', '.join(sets)} WHERE job_id = ? AND status IN ({','.join('?' * len(allowed))})",
                [*values, job_id, *allowed],
            )
            if cursor.rowcount != 1:
                return False
            for step in drop_steps:
                conn.execute("DELETE FROM steps WHERE job_id = ? AND status = ?", (job_id, step.value))
            if runnable_qpy is not None:
                conn.execute("UPDATE circuits SET runnable_qpy = ? WHERE job_id = ?", (runnable_qpy, job_id))
            self._enter_step(conn, job_id, to.value, now_iso())
            return True

        return self._write(apply)

    @_guarded
    def finish_run(self, job_id: str, to: ApiJobStatus, result_json: str, error: JobError | None) -> bool:
        """Store a run's result and final status together, if the job is still RUNNING."""

        def apply(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute(
                "UPDATE jobs SET status = ?, error_code = ?, error_message = ? WHERE job_id = ? AND status = ?",
                (
                    to.value, error.code if error else None, error.message if error else None,
                    job_id, ApiJobStatus.RUNNING.value,
                ),
            )
            if cursor.rowcount != 1:
                return False
            conn.execute("INSERT OR REPLACE INTO results (job_id, result) VALUES (?, ?)", (job_id, result_json))
            self._enter_step(conn, job_id, to.value, now_iso())
            return True

        return self._write(apply)

    @_guarded
    def read_result(self, job_id: str, consume: bool, read_key: str | None = None) -> str | None:
        """The stored result JSON; with ``consume`` it goes to one reader only (None for others).

        Without a ``read_key`` a consumed result is deleted as it is handed out. With
        one, the first reader's key holds the result: the same key may read it again
        (its answer may have been lost) until :meth:`acknowledge_result` deletes it;
        any other reader gets None. The check, the read and the mark happen in one
        transaction, so two concurrent readers of a private job cannot both get it.
        """

        def take(conn: sqlite3.Connection) -> str | None:
            row = conn.execute(
                "SELECT r.result, j.result_consumed, h.read_key FROM results r JOIN jobs j USING (job_id) "
                "LEFT JOIN result_reads h USING (job_id) WHERE job_id = ?",
                (job_id,),
            ).fetchone()
            if row is None or row["result_consumed"]:
                return None
            if not consume:
                return row["result"]
            if row["read_key"] is not None:
                return row["result"] if row["read_key"] == read_key else None
            if read_key is not None:
                conn.execute("INSERT INTO result_reads (job_id, read_key) VALUES (?, ?)", (job_id, read_key))
            else:
                self._consume_result(conn, job_id)
            return row["result"]

        return self._write(take)

    @_guarded
    def acknowledge_result(self, job_id: str, read_key: str) -> bool:
        """Delete the result held for ``read_key``; True when that key holds (or held) it."""

        def apply(conn: sqlite3.Connection) -> bool:
            row = conn.execute("SELECT read_key FROM result_reads WHERE job_id = ?", (job_id,)).fetchone()
            if row is None or row["read_key"] != read_key:
                return False
            self._consume_result(conn, job_id)  # a repeated acknowledgement finds nothing left to delete
            return True

        return self._write(apply)

    @staticmethod
    def _consume_result(conn: sqlite3.Connection, job_id: str) -> None:
        conn.execute("UPDATE jobs SET result_consumed = 1 WHERE job_id = ?", (job_id,))
        conn.execute("DELETE FROM results WHERE job_id = ?", (job_id,))

    @_guarded
    def rename(self, job_id: str, name: str) -> bool:
        def apply(conn: sqlite3.Connection) -> bool:
            return conn.execute("UPDATE jobs SET name = ? WHERE job_id = ?", (name, job_id)).rowcount == 1

        return self._write(apply)

    @_guarded
    def update_tags(self, job_id: str, change: Callable[[list[str]], list[str]]) -> list[str] | None:
        """Apply ``change`` to the job's tags in one transaction (no lost concurrent update)."""

        def apply(conn: sqlite3.Connection) -> list[str] | None:
            row = conn.execute("SELECT tags FROM jobs WHERE job_id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            tags = change(json.loads(row["tags"]))
            conn.execute("UPDATE jobs SET tags = ? WHERE job_id = ?", (json.dumps(tags), job_id))
            return tags

        return self._write(apply)

    @_guarded
    def delete_job(self, job_id: str) -> bool:
        def apply(conn: sqlite3.Connection) -> bool:
            cursor = conn.execute("DELETE FROM jobs WHERE job_id = ?", (job_id,))
            for table in ("steps", "circuits", "results", "result_reads"):
                conn.execute(f"DELETE FROM {table} WHERE job_id = ?", (job_id,))
            return cursor.rowcount == 1

        return self._write(apply)

"""Database engines for the store, and the guard that turns an unusable database into a 503.

SQLite gets one connection in WAL mode (the store serialises it under a lock) whose
write transactions begin ``IMMEDIATE``; PostgreSQL gets a pool. "locked" / "busy" /
"full" SQLite errors and a lost or refused PostgreSQL connection become
:class:`~prefect_ibmq.server.errors.StoreUnavailable`, never a hang.

No statement may hold the store: :func:`limit_statements` gives PostgreSQL a
``statement_timeout`` and SQLite a progress handler that interrupts a statement
past the same time (either answers 503). The data is the service's alone: the
data directory is made 0700 and the SQLite files 0600 (:func:`protect_data_dir`,
:func:`make_engine`), whatever the umask.
"""

from __future__ import annotations

import functools
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc

from .errors import StoreUnavailable
from .namematch import register_sqlite

logger = logging.getLogger("prefect_ibmq.server.store")

DB_FILE = "jobs.sqlite3"
BUSY_TIMEOUT_S = 2.0
#: What SQLite's interrupt says (its progress handler stopped a statement).
_INTERRUPTED = "interrupted"
_SQLITE_UNAVAILABLE = (
    "locked", "busy", "disk i/o error", "database or disk is full", "unable to open", _INTERRUPTED,
)
#: PostgreSQL connections per replica: request threads, workers, the lease keeper.
PG_POOL_SIZE = 8
PG_POOL_OVERFLOW = 8
#: SQLite virtual-machine steps between two looks at a statement's deadline (~0.1 ms of work).
PROGRESS_STEPS = 10_000

P = ParamSpec("P")
T = TypeVar("T")


def sqlite_url(data_dir: Path) -> str:
    """The URL of the default SQLite store in ``data_dir``."""
    return f"sqlite:///{data_dir / DB_FILE}"


def protect_data_dir(data_dir: Path) -> None:
    """Make ``data_dir`` (and its parents as needed) and let only this user enter it (0700)."""
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(data_dir, 0o700)


def _protect_sqlite_files(database: Path) -> None:
    """Create the database file 0600 before SQLite does (its -wal and -shm take the file's mode)."""
    os.close(os.open(database, os.O_RDWR | os.O_CREAT, 0o600))
    for path in (database, database.with_name(database.name + "-wal"), database.with_name(database.name + "-shm")):
        if path.exists():
            os.chmod(path, 0o600)


def make_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite with one locked connection, PostgreSQL with a pool."""
    if url.startswith("sqlite"):
        database = url.removeprefix("sqlite:///")
        if database and database != ":memory:":
            _protect_sqlite_files(Path(database))
        engine = create_engine(
            url, pool_size=1, max_overflow=0, pool_timeout=BUSY_TIMEOUT_S * 4,
            connect_args={"timeout": BUSY_TIMEOUT_S, "check_same_thread": False},
        )
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(
        url, pool_size=PG_POOL_SIZE, max_overflow=PG_POOL_OVERFLOW, pool_timeout=10
    )


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # Autocommit at the driver: SQLAlchemy's "begin" event below issues the BEGIN itself.
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA journal_mode=WAL")
    dbapi_connection.execute("PRAGMA synchronous=NORMAL")
    register_sqlite(dbapi_connection)  # name filters by RE2, never by backtracking re


def _sqlite_begin(connection: Connection) -> None:
    # Writers take the write lock up front: no deadlock when a reader upgrades.
    immediate = connection.info.pop("immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def limit_statements(engine: Engine, timeout_s: float) -> None:
    """Cancel any statement running longer than ``timeout_s`` (answered 503), on either engine.

    PostgreSQL: ``statement_timeout`` on every connection. SQLite: a progress handler that
    interrupts a statement once its deadline (set as it starts) has passed; a commit or a
    rollback is never interrupted. Pooled connections are dropped, so every connection
    made from now on is limited.
    """
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", lambda dbapi, record: _sqlite_deadline(dbapi, record))
        event.listen(engine, "before_cursor_execute", lambda conn, *args: _start_deadline(conn, timeout_s))
        for ending in ("commit", "rollback"):
            event.listen(engine, ending, lambda conn: _start_deadline(conn, math.inf))
    else:
        milliseconds = max(1, int(timeout_s * 1000))
        event.listen(engine, "connect", lambda dbapi, record: _pg_timeout(dbapi, milliseconds))
    engine.dispose()


def _sqlite_deadline(dbapi_connection: Any, record: Any) -> None:
    deadline = [math.inf]  # this connection's current statement must end by then
    record.info["deadline"] = deadline
    dbapi_connection.set_progress_handler(lambda: time.monotonic() > deadline[0], PROGRESS_STEPS)


def _start_deadline(conn: Connection, seconds: float) -> None:
    deadline = conn.connection.info.get("deadline")
    if deadline is not None:
        deadline[0] = time.monotonic() + seconds


def _pg_timeout(dbapi_connection: Any, milliseconds: int) -> None:
    dbapi_connection.execute(f"SET statement_timeout = {milliseconds}")
    dbapi_connection.commit()  # a SET in a transaction rolled back (the pool's reset) would be undone


def guarded(method: Callable[P, T]) -> Callable[P, T]:
    """Turn a busy/full/failing SQLite or an unreachable PostgreSQL into StoreUnavailable (503)."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return method(*args, **kwargs)
        except sa_exc.TimeoutError as exc:  # no pooled connection free in time
            logger.warning("store unavailable: %s", exc)
            raise StoreUnavailable(f"no database connection free: {exc}") from exc
        except sa_exc.OperationalError as exc:
            reason = str(exc.orig)
            if reason == _INTERRUPTED:  # SQLite's progress handler: the statement ran out of time
                reason = "a statement ran longer than limits.statement_timeout_s and was cancelled"
            if exc.connection_invalidated or _unavailable(exc):
                logger.warning("store unavailable: %s", reason)
                raise StoreUnavailable(reason) from exc
            raise

    return wrapper


def _unavailable(exc: sa_exc.OperationalError) -> bool:
    if type(exc.orig).__module__.startswith("psycopg"):
        return True  # connection lost/refused, server shutting down, deadlock, serialization
    text_ = str(exc.orig).lower()
    return any(marker in text_ for marker in _SQLITE_UNAVAILABLE)

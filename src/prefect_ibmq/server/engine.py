"""Database engines for the store, and the guard that turns an unusable database into a 503.

SQLite gets one connection in WAL mode (the store serialises it under a lock) whose
write transactions begin ``IMMEDIATE``; PostgreSQL gets a pool. "locked" / "busy" /
"full" SQLite errors and a lost or refused PostgreSQL connection become
:class:`~prefect_ibmq.server.errors.StoreUnavailable`, never a hang.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc

from .errors import StoreUnavailable

logger = logging.getLogger("prefect_ibmq.server.store")

DB_FILE = "jobs.sqlite3"
BUSY_TIMEOUT_S = 2.0
_SQLITE_UNAVAILABLE = ("locked", "busy", "disk i/o error", "database or disk is full", "unable to open")
#: PostgreSQL connections per replica: request threads, workers, the lease keeper.
PG_POOL_SIZE = 8
PG_POOL_OVERFLOW = 8

P = ParamSpec("P")
T = TypeVar("T")


def sqlite_url(data_dir: Path) -> str:
    """The URL of the default SQLite store in ``data_dir``."""
    return f"sqlite:///{data_dir / DB_FILE}"


def make_engine(url: str) -> Engine:
    """An engine for ``url``: SQLite with one locked connection, PostgreSQL with a pool."""
    if url.startswith("sqlite"):
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


def _sqlite_begin(connection: Connection) -> None:
    # Writers take the write lock up front: no deadlock when a reader upgrades.
    immediate = connection.info.pop("immediate", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


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

"""Each identity's share of the queue: at most ``limits.max_jobs_in_flight`` jobs not yet final.

Counted in the transaction that stores the job (on both APIs), so the bound is exact
across concurrent requests and replicas: SQLite serialises every writer, and on
PostgreSQL the identity's advisory lock (held to the commit) makes its submissions
count one after the other. An idempotent replay of a stored job is answered before
the count: it adds nothing.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import Connection, Select, func, select, text

from prefect_ibmq.wire import ErrorCode, Identity

from .errors import ApiError
from .limits import Limits
from .schema import IN_FLIGHT_ROWS, jobs

#: Seconds to wait before submitting again once the bound is reached (a job takes about that to run).
RETRY_AFTER_S = 5


def in_flight_count(who: Identity) -> Select[int]:
    """The count of ``who``'s jobs not yet final: read from the partial index ``jobs_in_flight``."""
    c = jobs.c
    return select(func.count()).select_from(jobs).where(
        text(IN_FLIGHT_ROWS), c.owner_user == who.user, c.owner_hub == who.hub,
        c.owner_group == who.group, c.owner_project == who.project,
    )


def jobs_in_flight(conn: Connection, who: Identity) -> int:
    """Jobs of ``who`` (this very identity) not yet final, as ``conn`` sees them."""
    return int(conn.execute(in_flight_count(who)).scalar_one())


def in_flight_admission(who: Identity, limits: Limits) -> Callable[[Connection], None]:
    """What ``Store.create_job`` runs once it has added a job of ``who``: 429 (``Retry-After``) past the bound."""

    def admit(conn: Connection) -> None:
        if conn.dialect.name == "postgresql":
            conn.execute(select(func.pg_advisory_xact_lock(_lock_key(who))))
        count = jobs_in_flight(conn, who) - 1  # the others: the count sees this transaction's job too
        if count >= limits.max_jobs_in_flight:
            raise ApiError(
                429, ErrorCode.SERVICE_UNAVAILABLE,
                f"{who.user} ({who.hub}/{who.group}/{who.project}) has {count} jobs not yet final; "
                f"limits.max_jobs_in_flight={limits.max_jobs_in_flight}: wait for some to finish "
                f"(retry in {RETRY_AFTER_S} s)",
                headers={"Retry-After": str(RETRY_AFTER_S)},
            )

    return admit


def _lock_key(who: Identity) -> int:
    """The identity's advisory-lock key (a signed 64-bit int; two identities sharing one only wait on each other)."""
    name = "\0".join(("in-flight", who.user, who.hub, who.group, who.project)).encode()
    return int.from_bytes(hashlib.blake2b(name, digest_size=8).digest(), "big", signed=True)

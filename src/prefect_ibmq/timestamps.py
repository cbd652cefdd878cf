"""Times as the store and the wire write them: ISO 8601 in UTC with microseconds.

Only the standard library: the job server and the client both import it (the
server imports nothing else of the package but :mod:`prefect_ibmq.wire`). One
format for every stored time means the strings compare as the times do.
"""

from __future__ import annotations

from datetime import UTC, datetime


def now_iso() -> str:
    """Now, as ISO 8601 UTC with microseconds (the format of every stored time)."""
    return to_iso(datetime.now(UTC))


def to_iso(value: datetime) -> str:
    """A datetime in the stored format (naive ones are taken as UTC), so strings compare."""
    return as_utc(value).isoformat(timespec="microseconds")


def parse_iso(text: str) -> datetime:
    """A tz-aware UTC datetime from ISO 8601 text (``Z`` or ``z`` suffix, or naive meaning UTC).

    Raises:
        ValueError: ``text`` is not an ISO 8601 time.
    """
    return as_utc(datetime.fromisoformat(text.upper().replace("Z", "+00:00")))


def as_utc(value: datetime) -> datetime:
    """``value`` in UTC, a naive one taken as UTC already."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)

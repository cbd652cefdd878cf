"""Times on the wire are ISO 8601 in UTC; users see tz-aware local datetimes."""

from __future__ import annotations

from datetime import UTC, datetime

from prefect_ibmq.timestamps import parse_iso

_UNITS = (("day", 86400), ("hour", 3600), ("minute", 60))


def utc_iso_to_local(value: str) -> datetime:
    """A tz-aware datetime in the local time zone from an ISO 8601 string (naive means UTC)."""
    return parse_iso(value).astimezone()


def to_utc_iso(moment: datetime) -> str:
    """An ISO 8601 UTC string for the wire (naive means local time, as in the legacy provider)."""
    return moment.astimezone(UTC).isoformat()


def humanize(moment: datetime, now: datetime | None = None) -> str:
    """``moment`` relative to now, e.g. "in 3 minutes" or "12 seconds ago"."""
    now = now or datetime.now(UTC)
    seconds = (moment - now).total_seconds()
    amount = abs(seconds)
    # The largest unit that fits at least once; seconds below a minute.
    unit, size = next(((u, s) for u, s in _UNITS if amount >= s), ("second", 1))
    count = int(amount // size)
    phrase = f"{count} {unit}{'' if count == 1 else 's'}"
    return f"in {phrase}" if seconds >= 0 else f"{phrase} ago"

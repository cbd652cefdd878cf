"""Times on the wire are ISO 8601 in UTC; users see tz-aware local datetimes."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_iso_to_local(value: str) -> datetime:
    """A tz-aware datetime in the local time zone from an ISO 8601 string (naive means UTC)."""
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone()


def to_utc_iso(moment: datetime) -> str:
    """An ISO 8601 UTC string for the wire (naive means local time, as in the legacy provider)."""
    return moment.astimezone(UTC).isoformat()


def humanize(moment: datetime, now: datetime | None = None) -> str:
    """``moment`` relative to now, e.g. "in 3 minutes" or "12 seconds ago"."""
    now = now or datetime.now(UTC)
    seconds = (moment - now).total_seconds()
    amount = abs(seconds)
    unit, count = "second", int(amount)
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if amount >= size:
            unit, count = name, int(amount // size)
            break
    phrase = f"{count} {unit}{'' if count == 1 else 's'}"
    return f"in {phrase}" if seconds >= 0 else f"{phrase} ago"

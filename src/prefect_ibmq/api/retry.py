"""When and how long to wait before repeating a failed request."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prefect_ibmq.api.calls import Call

logger = logging.getLogger("prefect_ibmq.api.client")

#: Answers that say "try again": rate limited, or the server or a proxy failed transiently.
RETRYABLE_STATUS_CODES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, capped, for at most ``max_retries`` repeats."""

    max_retries: int = 5
    backoff_base: float = 0.25
    backoff_max: float = 8.0

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to sleep before repeat number ``attempt + 1`` (``attempt`` counts from 0).

        The jitter spreads clients that failed together so they do not come back
        in lockstep; a server's ``Retry-After`` is a lower bound.
        """
        cap = min(self.backoff_max, self.backoff_base * 2**attempt)
        jittered = random.uniform(cap / 2, cap)
        return max(jittered, retry_after or 0.0)

    def should_repeat(self, call: Call, status_code: int, attempt: int) -> bool:
        """Whether an answer with ``status_code`` to repeat number ``attempt`` is worth repeating."""
        return call.repeatable and status_code in RETRYABLE_STATUS_CODES and attempt < self.max_retries

    def back_off(self, call: Call, attempt: int, reason: str, retry_after: float | None) -> float:
        """Log the repeat to come and return the seconds to sleep before it."""
        delay = self.delay(attempt, retry_after)
        logger.warning(
            "%s %s failed (%s); repeat %d of %d in %.2f s",
            call.method, call.path, reason, attempt + 1, self.max_retries, delay,
        )
        return delay


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date); None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())

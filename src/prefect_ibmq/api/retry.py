"""When and how long to wait before repeating a failed request, decided without doing any I/O.

:class:`Attempts` is the retry core both clients drive: after each attempt the
client tells it what happened (no answer, or an answer) and gets a
:class:`Decision` back: return the answer, raise an error, or repeat after a
delay. The sync client (requests) sleeps with ``time.sleep``, the async one
(httpx) with ``anyio.sleep``; the rules are the same because they are here once.
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Literal

from prefect_ibmq.api.errors import Answer, error_from_response, unreachable_error
from prefect_ibmq.exceptions import IBMQError, IBMQJobApiError

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


@dataclass(frozen=True)
class Decision:
    """What to do after one attempt: ``return`` the answer, ``repeat`` after ``delay`` s, or ``raise`` ``error``."""

    action: Literal["return", "repeat", "raise"]
    delay: float = 0.0
    error: IBMQError | None = None


RETURN_ANSWER = Decision("return")


class Attempts:
    """The attempts at one call: counts them and decides after each, by the policy and the call's safety.

    Args:
        call: The call being sent (``repeatable`` says whether a repeat is safe).
        policy: How often and how long to back off.
        url: The service's base URL (named when it cannot be reached).
        secret: The token, masked should the server ever echo it.
    """

    def __init__(self, call: Call, policy: RetryPolicy, url: str, secret: str) -> None:
        self.call = call
        self.policy = policy
        self.url = url
        self.secret = secret
        self.attempt = 0  # repeats made so far

    def no_answer(self, reason: str, transient: bool = True) -> Decision:
        """The request got no answer: ``reason`` names why (the exception type's name).

        ``transient`` failures (no connection, a timeout) are repeated while that
        is safe and allowed; any other (a malformed request, say) is raised at once.
        """
        if not transient:
            error = IBMQJobApiError(f"{self.call.what} failed: {reason} for {self.url}.", job_id=self.call.job_id)
            return Decision("raise", error=error)
        if self.call.repeatable and self.attempt < self.policy.max_retries:
            return self._repeat(reason, None)
        return Decision("raise", error=unreachable_error(self.call, self.url, reason, self.attempt))

    def answered(self, response: Answer, retry_after: str | None) -> Decision:
        """The server answered ``response``; ``retry_after`` is its ``Retry-After`` header, if any."""
        status = response.status_code
        logger.debug("%s %s -> %s", self.call.method, self.call.path, status)
        if 200 <= status < 300:
            return RETURN_ANSWER
        if self.policy.should_repeat(self.call, status, self.attempt):
            return self._repeat(f"HTTP {status}", parse_retry_after(retry_after))
        error = error_from_response(response, self.call.what, self.secret, self.call.overrides, self.call.job_id)
        return Decision("raise", error=error)

    def _repeat(self, reason: str, retry_after: float | None) -> Decision:
        delay = self.policy.back_off(self.call, self.attempt, reason, retry_after)
        self.attempt += 1
        return Decision("repeat", delay=delay)

"""Waiting for a job to be final: how long each long-poll may be, when to give up, and riding out outages.

:class:`Waiting` decides and does no I/O (the clock is given), so the sync
``IBMQJob.wait_for_final_state`` and the async ``JobServicePlatform.wait`` drive
the same rules: each asks the service, and tells ``Waiting`` what happened.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from prefect_ibmq.exceptions import IBMQJobApiError, IBMQJobTimeoutError
from prefect_ibmq.wire import MAX_STATUS_WAIT, ApiJobStatus

logger = logging.getLogger(__name__)

#: Shortest long-poll: a wait of 0 would turn waiting into a busy loop.
MIN_POLL_SECONDS = 0.1
#: How long a wait rides out a service it cannot reach (a restart, say) before it gives up.
#: Each failed status query has already been repeated by the client with backoff.
WAIT_OUTAGE_TOLERANCE_S = 30.0
#: Pause between status queries while the service is unreachable: the client already backed off.
OUTAGE_PAUSE_S = 1.0


def poll_seconds(wait: float | None) -> float:
    """The long-poll length for a ``wait`` argument: within [MIN_POLL_SECONDS, MAX_STATUS_WAIT]; None is the most."""
    if wait is None:
        return MAX_STATUS_WAIT
    return min(max(float(wait), MIN_POLL_SECONDS), MAX_STATUS_WAIT)


class Waiting:
    """The rules of one wait for job ``job_id``: deadline, long-poll length, outage tolerance.

    Args:
        job_id: The job waited for (named in messages and errors).
        timeout: Seconds to wait in all; None waits as long as it takes.
        poll: The longest single long-poll, in seconds.
        now: The monotonic clock (``time.monotonic`` or the event loop's time).
    """

    def __init__(self, job_id: str, timeout: float | None, poll: float, now: Callable[[], float]) -> None:
        self.job_id = job_id
        self._timeout = timeout
        self._poll = poll
        self._now = now
        self._deadline = None if timeout is None else now() + timeout
        self._outage_since: float | None = None

    def next_poll(self, status: ApiJobStatus) -> float:
        """Seconds the next long-poll may last, for a job last seen in ``status``.

        Raises:
            IBMQJobTimeoutError: If the timeout has passed.
        """
        if self._deadline is None:
            return self._poll
        remaining = self._deadline - self._now()
        if remaining <= 0:
            raise IBMQJobTimeoutError(
                f"Job {self.job_id} is still {status.value} after {self._timeout} s. "
                "Wait again, or cancel it with job.cancel().",
                job_id=self.job_id,
            )
        return min(self._poll, max(remaining, MIN_POLL_SECONDS))

    def answered(self) -> None:
        """The service answered: an outage, if any, is over."""
        self._outage_since = None

    def unreachable(self, error: IBMQJobApiError) -> float:
        """The service could not be reached; returns the seconds to pause before asking again.

        Waiting only reads, so asking again is safe: this rides out a restart of the service.

        Raises:
            IBMQJobApiError: ``error`` itself, once the service has been unreachable for
                ``WAIT_OUTAGE_TOLERANCE_S`` seconds.
        """
        now = self._now()
        if self._outage_since is None:
            self._outage_since = now
        if now - self._outage_since >= WAIT_OUTAGE_TOLERANCE_S:
            raise error
        logger.warning(
            "Job %s: the job service is unreachable (for %.1f s); still waiting", self.job_id, now - self._outage_since
        )
        return OUTAGE_PAUSE_S

"""The thread that expires sessions at their ``max_ttl``: one timer for all of them.

It keeps the deadlines of the sessions it knows in a heap and sleeps until the next
(or until told of a new session). Every :data:`RESCAN_S` it also reads, from the
store, the sessions that still have jobs waiting, so it learns of sessions another
replica opened, and of those that expired while no server ran (a restart expires them
at once). Expiring is idempotent (conditional status changes), so two replicas
expiring one session cancel each job once.
"""

from __future__ import annotations

import heapq
import logging
import threading
import time
from collections.abc import Callable

logger = logging.getLogger("prefect_ibmq.server.runtime.sessions")

#: How often the store is read for sessions with waiting jobs (seconds).
RESCAN_S = 30.0


class SessionExpiry:
    """Calls ``expire(session_id)`` when each session's deadline passes."""

    def __init__(
        self,
        expire: Callable[[str], object],
        waiting: Callable[[], list[tuple[str, float]]],
        rescan_s: float = RESCAN_S,
    ) -> None:
        """``waiting()``: (session id, deadline epoch) of the sessions with jobs not yet running."""
        self._expire = expire
        self._waiting = waiting
        self._rescan_s = rescan_s
        self._heap: list[tuple[float, str]] = []
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the timer thread."""
        self._thread = threading.Thread(target=self._run, name="prefect-ibmq-session-expiry", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the timer thread and wait for it."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def watch(self, session_id: str, deadline: float) -> None:
        """Expire ``session_id`` at ``deadline`` (epoch seconds)."""
        with self._cond:
            heapq.heappush(self._heap, (deadline, session_id))
            self._cond.notify_all()

    def _rescan(self) -> None:
        try:
            found = self._waiting()
        except Exception:  # the store may be unavailable for a while: try again at the next rescan
            logger.exception("could not read the sessions with waiting jobs")
            return
        with self._cond:
            known = {session_id for _, session_id in self._heap}
            for session_id, deadline in found:
                if session_id not in known:
                    heapq.heappush(self._heap, (deadline, session_id))

    def _run(self) -> None:
        next_rescan = 0.0
        while True:
            now = time.time()
            if now >= next_rescan:
                self._rescan()
                next_rescan = now + self._rescan_s
            with self._cond:
                if self._stopping:
                    return
                due = self._heap[0][0] if self._heap else next_rescan
                if due > now:
                    self._cond.wait(min(due, next_rescan) - now)
                    continue
                _, session_id = heapq.heappop(self._heap)
            try:
                self._expire(session_id)
            except Exception:  # a store error: the next rescan finds it again if it still has waiting jobs
                logger.exception("could not expire session %s", session_id)

"""Wake long-polling status requests the moment a job changes.

Waiters are asyncio events owned by the server's event loop; any thread (the
executor's workers, request threads) calls :meth:`StatusNotifier.notify`, which
hands the wake-up to the loop with ``call_soon_threadsafe``. There is no polling
and no thread per waiter: a waiting request costs one Event.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable


class StatusNotifier:
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        # Touched only on the loop's thread, so it needs no lock.
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called at app startup, on the loop that serves requests."""
        self._loop = loop
        self._closed = False

    def subscribe(self, job_id: str) -> asyncio.Event:
        """An event set whenever ``job_id`` changes (call on the loop)."""
        event = asyncio.Event()
        if self._closed:
            event.set()
        self._waiters.setdefault(job_id, set()).add(event)
        return event

    def unsubscribe(self, job_id: str, event: asyncio.Event) -> None:
        events = self._waiters.get(job_id)
        if events is not None:
            events.discard(event)
            if not events:
                del self._waiters[job_id]

    def notify(self, job_ids: str | Iterable[str]) -> None:
        """Wake the waiters of these jobs; safe from any thread."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        ids = [job_ids] if isinstance(job_ids, str) else list(job_ids)
        if not ids:
            return
        try:
            loop.call_soon_threadsafe(self._wake, ids)
        except RuntimeError:  # the loop closed between the check and the call
            pass

    def _wake(self, ids: list[str]) -> None:
        for job_id in ids:
            for event in self._waiters.get(job_id, ()):
                event.set()

    def waiting(self) -> int:
        """Long-polling requests parked right now (call on the loop)."""
        return sum(len(events) for events in self._waiters.values())

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Release every waiter (server shutting down); call on the loop."""
        self._closed = True
        for events in self._waiters.values():
            for event in events:
                event.set()

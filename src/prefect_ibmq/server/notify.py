"""Wake long-polling status requests the moment a job changes, on this replica or another.

Waiters are asyncio events owned by the server's event loop; any thread (the
executor's workers, request threads) calls :meth:`StatusNotifier.notify`, which
hands the wake-up to the loop with ``call_soon_threadsafe``. There is no polling
and no thread per waiter: a waiting request costs one Event. Waiters on a queue
position also wake at :meth:`StatusNotifier.notify_queue` (a job entered or left
the queue).

Replicas sharing a PostgreSQL database hear each other through ``LISTEN``: the
store's writes ``pg_notify`` the change in their transaction, and a
:class:`ReplicaListener` thread hands what other replicas announced to a callback
(which wakes the notifier, and stops a job cancelled elsewhere). Notifications
sent while the listener's connection is down are lost to it, so once it listens
again it calls ``on_reconnect``, which catches up as if every job had changed:
each waiter reads its job again, idle workers look at the queue, a running job
cancelled meanwhile stops.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable

logger = logging.getLogger("prefect_ibmq.server.notify")
#: Pause before listening again after the database connection was lost.
RECONNECT_S = 1.0


class StatusNotifier:
    """Wakes the long polls waiting on a job (or on the queue) when it changes; lives on the event loop."""
    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        # Touched only on the loop's thread, so it needs no lock.
        self._waiters: dict[str, set[asyncio.Event]] = {}
        self._queue_watchers: set[asyncio.Event] = set()
        self._closed = False

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Called at app startup, on the loop that serves requests."""
        self._loop = loop
        self._closed = False

    def subscribe(self, job_id: str, watch_queue: bool = False) -> asyncio.Event:
        """An event set whenever ``job_id`` changes (call on the loop).

        ``watch_queue``: also whenever the queue changes (the job's position may have moved).
        """
        event = asyncio.Event()
        if self._closed:
            event.set()
        self._waiters.setdefault(job_id, set()).add(event)
        if watch_queue:
            self._queue_watchers.add(event)
        return event

    def unsubscribe(self, job_id: str, event: asyncio.Event) -> None:
        """Stop waking ``event`` (the long poll answered)."""
        self._queue_watchers.discard(event)
        events = self._waiters.get(job_id)
        if events is not None:
            events.discard(event)
            if not events:
                del self._waiters[job_id]

    def notify(self, job_ids: str | Iterable[str]) -> None:
        """Wake the waiters of these jobs; safe from any thread."""
        ids = [job_ids] if isinstance(job_ids, str) else list(job_ids)
        if ids:
            self._on_loop(self._wake, ids)

    def notify_queue(self) -> None:
        """Wake the waiters on a queue position; safe from any thread."""
        self._on_loop(self._wake_queue_watchers)

    def wake_all(self) -> None:
        """Wake every waiter, to read its job again (after notifications may have been missed); any thread."""
        self._on_loop(self._wake_everyone)

    def _on_loop(self, wake: Callable[..., None], *args: object) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(wake, *args)
        except RuntimeError:  # the loop closed between the check and the call
            pass

    def _wake_queue_watchers(self) -> None:
        for event in self._queue_watchers:
            event.set()

    def _wake(self, ids: list[str]) -> None:
        for job_id in ids:
            for event in self._waiters.get(job_id, ()):
                event.set()

    def _wake_everyone(self) -> None:
        for events in self._waiters.values():
            for event in events:
                event.set()

    def waiting(self) -> int:
        """Long-polling requests parked right now (call on the loop)."""
        return sum(len(events) for events in self._waiters.values())

    @property
    def closed(self) -> bool:
        """Whether the notifier is closed (the server is shutting down)."""
        return self._closed

    def close(self) -> None:
        """Release every waiter (server shutting down); call on the loop."""
        self._closed = True
        for events in self._waiters.values():
            for event in events:
                event.set()


class ReplicaListener:
    """``LISTEN`` on PostgreSQL in a thread; ``on_change(job_id, status)`` for other replicas' writes."""

    def __init__(
        self,
        conninfo: str,
        channel: str,
        origin: str,
        on_change: Callable[[str, str], None],
        on_reconnect: Callable[[], None] = lambda: None,
    ) -> None:
        self._conninfo = conninfo
        self._channel = channel
        self._origin = origin
        self._on_change = on_change
        self._on_reconnect = on_reconnect
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread = threading.Thread(target=self._run, name="prefect-ibmq-listen", daemon=True)

    def start(self, timeout: float = 10.0) -> None:
        """Start listening; returns once LISTEN is in place (or after ``timeout``)."""
        self._thread.start()
        self._listening.wait(timeout)

    def stop(self) -> None:
        """Stop listening and join the listener thread."""
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        import psycopg

        while not self._stop.is_set():
            try:
                # Named, so an operator (or a test) can tell this connection from the store's.
                with psycopg.connect(self._conninfo, autocommit=True, application_name=self.application_name) as conn:
                    conn.execute(f'LISTEN "{self._channel}"')
                    if self._listening.is_set():  # listening again: what was sent meanwhile is lost
                        self._catch_up()
                    self._listening.set()
                    while not self._stop.is_set():
                        for message in conn.notifies(timeout=0.5):
                            self._deliver(message.payload)
            except psycopg.Error as exc:
                logger.warning("listening for other replicas failed (%s); again in %.0f s", exc, RECONNECT_S)
                self._stop.wait(RECONNECT_S)

    @property
    def application_name(self) -> str:
        """The name of the listening connection in ``pg_stat_activity``."""
        return f"prefect-ibmq-listen {self._origin}"

    def _catch_up(self) -> None:
        logger.info("listening to the other replicas again; catching up on what was missed")
        try:
            self._on_reconnect()
        except Exception:
            logger.exception("catching up after the listener reconnected failed")

    def _deliver(self, payload: str) -> None:
        origin, _, rest = payload.partition(" ")
        job_id, _, status = rest.partition(" ")
        if origin == self._origin or not job_id:
            return  # our own write: already handled in this process
        try:
            self._on_change(job_id, status)
        except Exception:
            logger.exception("handling %r from another replica failed", payload)

"""Stopping a running job at once: its stop event, and what a chunk abandoned on the way raises.

A worker thread waiting for a chunk is blocked in ``ChunkCall.result()``; the job's
:class:`StopEvent` (set by a cancel, a delete or the server's shutdown) runs the
callbacks its run registered, which abandon the chunks in flight: a simulator process
running one is replaced (:meth:`.simpool.SimulatorPool.abandon`), a Dask future is
cancelled. The waiting thread then gets :class:`ChunkAbandoned` and lets the job go.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

logger = logging.getLogger("prefect_ibmq.server.stopping")


class ChunkAbandoned(Exception):
    """The chunk was given up while it ran (its job was cancelled, or the server is stopping)."""


class StopEvent(threading.Event):
    """A job's stop event: :meth:`on_set` callbacks run once, when it is set (at once if it already is)."""

    def __init__(self) -> None:
        super().__init__()
        self._callbacks: list[Callable[[], object]] = []
        self._callbacks_lock = threading.Lock()

    def on_set(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` when the event is set; now, if it is set already."""
        with self._callbacks_lock:
            if not self.is_set():
                self._callbacks.append(callback)
                return
        _call(callback)

    def set(self) -> None:
        """Set the event and run the callbacks registered so far."""
        with self._callbacks_lock:
            super().set()
            callbacks, self._callbacks = self._callbacks, []
        for callback in callbacks:
            _call(callback)


def _call(callback: Callable[[], object]) -> None:
    try:
        callback()
    except Exception:  # a failed abandon must not keep the others from running
        logger.exception("stopping a job: %r failed", callback)

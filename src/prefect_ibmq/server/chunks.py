"""Chunks of a ``/v1`` job's circuits on their way to aer: the runner protocols and the chunk size.

A job's experiments run in chunks through a :class:`ChunkRunner`: in the calling
thread (:class:`ThreadRunner`) or, by default, in the executor's pool of
simulator processes (:mod:`.runners`, :mod:`.simpool`; :func:`.aerrun.simulate_qpy`
is what they run, on the job's QPY as stored), so aer, which holds the GIL while it
simulates, neither serialises the workers nor stalls the server's other threads.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Any, Protocol

from .aerrun import JobQpy, simulate_qpy
from .config import BackendSpec

#: Experiments per aer call when nothing forces one at a time: big enough to
#: amortise the call (and, in a pool process, the QPY round trip), small enough
#: that a cancel is seen soon: ~64 ms for 2-5 qubit circuits. With simulation in
#: threads, aer holds the GIL for a whole call, so this also bounds how long the
#: server's other threads (requests, long-poll wake-ups) wait behind one.
CHUNK = 64


class SimulatorCrashed(Exception):
    """A simulator process died running a chunk, also when retried on a fresh pool: the job fails."""


class ServerStopping(Exception):
    """The server stopped while a chunk was still to run: the job is left RUNNING for the restart."""


class ChunkCall(Protocol):
    """A chunk of experiments on its way: its answer, or its cancellation."""

    def result(self) -> list[dict[str, Any]]:
        """The chunk's experiment dicts, once simulated; raises what running it raised."""
        ...

    def cancel(self) -> bool:
        """Drop the chunk if it has not started, else abandon it where it runs if that can be done.

        True if dropped or abandoned; a waiting :meth:`result` then raises ChunkAbandoned
        (or CancelledError, if it never started).
        """
        ...


class ChunkRunner(Protocol):
    """Runs chunks of circuits; ``lookahead`` chunks of one job may be in flight at once."""

    @property
    def lookahead(self) -> int:
        """Chunks of one job that may be in flight at once."""
        ...

    def submit(
        self, spec: BackendSpec, job: JobQpy, start: int, stop: int, run_options: dict[str, Any]
    ) -> ChunkCall:
        """Start simulating circuits ``start:stop`` of ``job``."""
        ...


class ThreadRunner:
    """Simulates in the calling thread (``ServerConfig.simulation = "threads"``), on aer of its own."""

    lookahead = 1

    def __init__(self, threads: int) -> None:
        self._threads = threads

    def submit(
        self, spec: BackendSpec, job: JobQpy, start: int, stop: int, run_options: dict[str, Any]
    ) -> ChunkCall:
        """Simulate the chunk now; the returned call is done."""
        future: Future[list[dict[str, Any]]] = Future()
        try:
            future.set_result(simulate_qpy(spec, self._threads, job, start, stop, run_options))
        except Exception as exc:
            future.set_exception(exc)
        return future

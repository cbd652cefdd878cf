"""Simulation on a Dask cluster: ``ServerConfig.simulation = "dask"``.

The executor sends each chunk of circuits (the job's QPY and its range) to the workers of a Dask
scheduler instead of to its own simulator processes (:mod:`.simpool`):
:meth:`DaskSimulators.submit` takes the same arguments as
:meth:`.simpool.SimulatorPool.submit` and a worker runs the same function,
:func:`.aerrun.simulate_qpy`, which answers aer's per-experiment dicts
(counts as plain data, not a qiskit ``Result``). Workers need prefect-ibmq
installed, to import that function, and one thread each
(``dask worker --nthreads 1``): the executor gives each chunk one aer thread,
and more aer threads than cores slow everything down. aer holds the GIL while
it simulates, so a worker answers the scheduler only between chunks: chunks
stay short (:data:`.chunks.CHUNK` circuits, ~64 ms for 2-5 qubits).

qiskit-aer's own ``executor=`` option is not used: 0.18 accepts it and never
calls the executor. ``LocalCluster`` is not used either: its workers re-import
the caller's ``__main__``; workers are started with ``dask worker``.

A worker that dies while it runs a chunk is the scheduler's to handle: it runs
the chunk again on another worker, until more workers died running it than
``distributed.scheduler.allowed-failures`` allows (3 by default); then, or when
the scheduler loses the chunk, :class:`DaskCall` raises :class:`.chunks.SimulatorCrashed` and only
that job fails. Only :mod:`.runners` imports this module, and only with
``simulation = "dask"``: other servers never import ``distributed``.

A cancelled job's chunks are cancelled on the cluster: queued ones never run, the server
stops waiting for running ones at once; the worker still finishes a running chunk (Dask
cannot interrupt a task), and its result is dropped.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import CancelledError
from typing import Any

try:
    from distributed import Client, Future, KilledWorker
except ImportError as exc:  # the optional extra is missing
    raise ImportError(
        "simulation=\"dask\" needs Dask's distributed package: pip install 'prefect-ibmq[dask]'"
    ) from exc

from .aerrun import simulate_qpy
from .chunks import ServerStopping, SimulatorCrashed
from .stopping import ChunkAbandoned

#: How long the server waits for the scheduler at start before giving up.
CONNECT_TIMEOUT_S = 30.0
#: How old the cluster's thread count may be (workers come and go).
THREADS_REFRESH_S = 2.0
#: How often a wait for a chunk checks whether the server is stopping.
STOP_CHECK_S = 0.2


class DaskSchedulerUnreachable(Exception):
    """The Dask scheduler named by ``ServerConfig.dask_scheduler`` did not answer."""


class DaskSimulators:
    """A client of the Dask scheduler at ``address``, connected when made; :meth:`submit` runs a chunk.

    ``stopping`` is the server's shutdown event: a wait for a chunk ends when it is set,
    also when the cluster has no worker left to run the chunk.
    """

    def __init__(
        self, address: str, stopping: threading.Event, connect_timeout_s: float = CONNECT_TIMEOUT_S
    ) -> None:
        self.address = address
        self._stopping = stopping
        try:
            self._client = Client(address, timeout=connect_timeout_s, set_as_default=False)
        except OSError as exc:  # TimeoutError included
            raise DaskSchedulerUnreachable(
                f"cannot reach the Dask scheduler at {address!r} within {connect_timeout_s:g} s "
                f"(is `dask scheduler` running there?): {exc}"
            ) from exc
        self._lock = threading.Lock()
        self._threads = 0
        self._threads_at = float("-inf")

    def submit(self, *args: Any) -> DaskCall:
        """Run ``aerrun.simulate_qpy(*args)`` on a Dask worker."""
        # pure=False: two jobs' identical chunks must stay two tasks, or cancelling one job's
        # chunk would cancel the other's too.
        return DaskCall(self._client.submit(simulate_qpy, *args, pure=False), self._stopping)

    def threads(self) -> int:
        """Worker threads in the cluster now (refreshed at most every THREADS_REFRESH_S)."""
        with self._lock:
            if time.monotonic() - self._threads_at > THREADS_REFRESH_S:
                try:
                    info = self._client.scheduler_info(n_workers=0)
                    self._threads = int(info.get("total_threads", 0))
                except OSError:  # the scheduler is away: keep the last count
                    pass
                self._threads_at = time.monotonic()
            return self._threads

    def pids(self) -> list[int]:
        """No simulator process runs on the server's machine: the workers are the scheduler's."""
        return []

    def shutdown(self) -> None:
        """Close the client: the scheduler drops its chunks that are not done."""
        self._client.close()


class DaskCall:
    """A chunk on the cluster, as a :class:`.simulators.ChunkCall`.

    A Dask future is not a ``concurrent.futures.Future``.
    """

    def __init__(self, future: Future, stopping: threading.Event) -> None:
        self._future = future
        self._stopping = stopping
        self._cancelled = False
        done = self._done = threading.Event()
        # Set from Dask's callback thread (finished, failed or cancelled): a wait needs no
        # timeouts, whose exceptions would keep the future alive in reference cycles.
        future.add_done_callback(lambda _: done.set())

    def result(self) -> list[dict[str, Any]]:
        """The chunk's per-experiment dicts.

        Raises SimulatorCrashed when the cluster could not run it, ServerStopping when the
        server stops first.
        """
        while not self._done.wait(STOP_CHECK_S):
            if self._stopping.is_set():
                raise ServerStopping("the server stopped before the Dask cluster ran this chunk")
        try:
            return self._future.result()
        except KilledWorker as exc:
            raise SimulatorCrashed(
                f"every Dask worker that ran a chunk of this job's experiments died: {exc}"
            ) from exc
        except CancelledError as exc:
            if self._cancelled:  # our cancel: the job was stopped while this chunk was on the cluster
                raise ChunkAbandoned("the chunk was cancelled on the Dask cluster") from exc
            raise SimulatorCrashed(f"the Dask cluster dropped a chunk of this job's experiments: {exc}") from exc

    def cancel(self) -> bool:
        """Forget the chunk: a queued one never runs; a running one's result is dropped.

        The server stops waiting for it at once (:meth:`result` raises ChunkAbandoned). Dask does
        not interrupt a task that runs, so the worker finishes that chunk and then takes the next.
        """
        self._cancelled = True
        self._future.cancel(reason="the job was cancelled or the server is stopping")
        return True

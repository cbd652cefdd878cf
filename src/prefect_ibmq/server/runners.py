"""Where the executor's simulations run: its worker threads, the simulator processes, or a Dask cluster.

With ``simulation="processes"`` (the default) each chunk of circuits (QPY) and
each runtime program goes to a pool of simulator processes (:mod:`.simpool`),
made on the first call and shut down with the executor: aer holds the GIL while
it simulates, so in threads two jobs never simulate at once and requests, the
client and Prefect in the same process crawl meanwhile. A chunk whose process
dies runs once more on a fresh process; if that one dies too, the job fails
saying so (:class:`.chunks.SimulatorCrashed`).

With ``simulation="dask"`` the chunks go to the workers of a Dask scheduler
instead (:mod:`.dasksim`, connected at start), with one aer thread each and,
per job, as many chunks in flight as the cluster has worker threads; Dask reruns
the chunk of a worker that died. With ``simulation="threads"`` each worker
thread simulates on aer of its own (:class:`.chunks.ThreadRunner`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING, Any, Literal

from .aerrun import JobQpy
from .chunks import ChunkCall, ChunkRunner, SimulatorCrashed, ThreadRunner
from .config import BackendSpec
from .simpool import SimulatorPool, SimulatorProcessDied
from .simprocs import threads_per_worker, warm_argument

if TYPE_CHECKING:  # distributed is imported only with simulation="dask"
    from .dasksim import DaskCall, DaskSimulators

logger = logging.getLogger("prefect_ibmq.server.executor.runners")

#: Chunks of one job in flight in the process pool: the next is queued while one runs,
#: so a single job keeps every pool process busy and none waits on the worker thread.
POOL_LOOKAHEAD = 2
Simulation = Literal["processes", "threads", "dask"]


class SimulatorRunners:
    """The simulator processes or Dask client the executor's worker threads share (see the module's docstring)."""

    def __init__(
        self,
        workers: int,
        stopping: threading.Event,
        simulation: Simulation = "processes",
        dask_scheduler: str | None = None,
        warm_specs: Callable[[], list[BackendSpec]] = list,
    ) -> None:
        self.simulation = simulation
        self._workers = workers
        self._dask_scheduler = dask_scheduler
        #: The backends a prestarted pool's processes warm up (aer and noise model each).
        self._warm_specs = warm_specs
        #: OpenMP threads of each worker's aer: the cores divided among the workers
        #: (one per Dask worker thread: the cluster's cores are not ours to divide).
        self.aer_threads = 1 if simulation == "dask" else threads_per_worker(workers)
        #: The simulator processes (simulation="processes"), made on the first chunk, or the
        #: Dask client (simulation="dask"), connected at start.
        self._pool: SimulatorPool | DaskSimulators | None = None
        self._lock = threading.Lock()
        #: The executor's: once set, no call goes out and a Dask wait gives up.
        self._stopping = stopping
        #: Chunks sent to a fresh simulator process because the one running them died.
        self.chunks_rerun = 0
        #: A long-running service (``ServerConfig.prestart_simulators``): its simulator processes start
        #: with it, warm every backend's aer up, and have a spare to replace an abandoned one at once.
        self._prestart = False

    @property
    def in_processes(self) -> bool:
        """Whether runtime programs run in the simulator processes (else in the calling worker thread)."""
        return self.simulation == "processes"

    def start(self, prestart: bool = False) -> None:
        """Connect to Dask, or (``prestart``) start the simulator processes now rather than on the first chunk."""
        self._prestart = prestart
        if self.simulation == "dask" or (prestart and self.simulation == "processes"):
            with self._lock:
                self._pool = self._new_pool()  # processes start in the background; Dask connects now

    def shutdown(self) -> None:
        """Shut the processes down (or disconnect from Dask)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()

    def runner(self) -> ChunkRunner:
        """A worker thread's runner: aer of its own (threads), or these processes or cluster, shared."""
        if self.simulation == "threads":
            return ThreadRunner(self.aer_threads)
        return _PoolRunner(self)

    def lookahead(self) -> int:
        """Chunks of one job sent ahead: two, or on Dask one per worker thread of the cluster."""
        with self._lock:
            pool = self._pool
        if pool is None or isinstance(pool, SimulatorPool):
            return POOL_LOOKAHEAD
        return max(POOL_LOOKAHEAD, pool.threads())

    def submit_chunk(
        self, spec: BackendSpec, job: JobQpy, start: int, stop: int, run_options: dict[str, Any]
    ) -> ChunkCall:
        """Send circuits ``start:stop`` of ``job`` out (its QPY as stored); once more if its process dies."""
        return _PoolCall(self, (spec, self.aer_threads, job, start, stop, run_options), stop - start)

    def call(self, function: Callable[..., Any], *args: Any) -> Future:
        """Run ``function(*args)`` in a simulator process (made on the first call); processes only."""
        with self._lock:
            pool = self._pool_now()
            if not isinstance(pool, SimulatorPool):
                raise RuntimeError("runtime programs run in simulator processes, not on Dask")
            return pool.call(function, *args)

    def send(self, *args: Any) -> Future | DaskCall:
        """One chunk's simulate_qpy arguments to the processes or the cluster, without a rerun."""
        with self._lock:
            return self._pool_now().submit(*args)

    def rerun_counted(self) -> None:
        """Count a chunk sent once more because its process died."""
        with self._lock:
            self.chunks_rerun += 1

    # --- what tests and operators look at --------------------------------------------

    def pids(self) -> list[int]:
        """Process ids of the running simulator processes (none before the first run)."""
        with self._lock:
            pool = self._pool
        return pool.pids() if pool is not None else []

    def busy_pids(self) -> list[int]:
        """Process ids of the simulator processes simulating a chunk right now."""
        with self._lock:
            pool = self._pool
        return pool.busy_pids() if isinstance(pool, SimulatorPool) else []  # Dask's workers are not ours

    def spare_pid(self) -> int | None:
        """Process id of the warmed spare simulator process (long-running services have one), if ready."""
        with self._lock:
            pool = self._pool
        return pool.spare_pid() if isinstance(pool, SimulatorPool) else None

    # --- the pool --------------------------------------------------------------------

    def _pool_now(self) -> SimulatorPool | DaskSimulators:
        """The pool, made on the first call; the caller holds the lock."""
        if self._stopping.is_set():
            raise RuntimeError("the executor is stopping")
        if self._pool is None:
            self._pool = self._new_pool()
        return self._pool

    def _new_pool(self) -> SimulatorPool | DaskSimulators:
        if self.simulation == "dask":
            from .dasksim import DaskSimulators

            if not self._dask_scheduler:  # ServerConfig checks this; a hand-made Executor may not
                raise ValueError("simulation='dask' needs dask_scheduler, the address of a Dask scheduler")
            return DaskSimulators(self._dask_scheduler, self._stopping)
        # A fresh process always answers one call before it takes chunks (so a replacement is
        # ready when it does); a long-running service has it build every backend's aer first.
        specs = [spec.model_dump() for spec in self._warm_specs()] if self._prestart else []
        warm = warm_argument(specs, self.aer_threads)
        return SimulatorPool(self._workers, warm=warm, spare=self._prestart)


class _PoolRunner:
    """A worker thread's view of the shared processes or cluster."""

    def __init__(self, runners: SimulatorRunners) -> None:
        self._runners = runners

    @property
    def lookahead(self) -> int:
        """Chunks of one job in flight (see :meth:`SimulatorRunners.lookahead`)."""
        return self._runners.lookahead()

    def submit(
        self, spec: BackendSpec, job: JobQpy, start: int, stop: int, run_options: dict[str, Any]
    ) -> ChunkCall:
        """Send circuits ``start:stop`` of ``job`` out (see :meth:`SimulatorRunners.submit_chunk`)."""
        return self._runners.submit_chunk(spec, job, start, stop, run_options)


class _PoolCall:
    """One chunk in the simulator processes; run once more if the process running it dies.

    On Dask the scheduler reruns it instead, and :class:`.dasksim.DaskCall` raises
    SimulatorCrashed, not SimulatorProcessDied, when it gives up.
    """

    def __init__(self, runners: SimulatorRunners, args: tuple[Any, ...], size: int) -> None:
        self._runners = runners
        self._args = args
        self._size = size
        self._future = runners.send(*args)

    def result(self) -> list[dict[str, Any]]:
        try:
            return self._future.result()
        except SimulatorProcessDied as exc:
            logger.warning("running a chunk of %d experiments again: %s", self._size, exc)
        self._runners.rerun_counted()
        self._future = self._runners.send(*self._args)
        try:
            return self._future.result()
        except SimulatorProcessDied as exc:
            raise SimulatorCrashed(
                f"the simulator process died twice running a chunk of {self._size} of this job's "
                f"experiments (a new process was started in between); last: {exc}"
            ) from exc

    def cancel(self) -> bool:
        """Drop the chunk, or abandon it in the process running it (which is replaced)."""
        return self._future.cancel()

"""Background work: validating submitted jobs and running queued ones.

Validation runs on its own small pool so a slow transpile never delays a run;
runs happen on ``workers`` threads that take jobs from the fairshare queue.
Every status change goes through :meth:`Executor.move`, a conditional update
in the store followed by a wake-up of long-polling requests. A cancel or a
shutdown sets the job's stop event (:class:`.stopping.StopEvent`), which
abandons its chunks in flight: a simulator process running one is killed and
replaced, so the next job has it at once.

With ``simulation="processes"`` (the default) a worker thread sends each chunk
of circuits (QPY) to a pool of ``workers`` simulator processes
(:mod:`.simpool`), made on the first run and shut down with the executor: aer
holds the GIL while it simulates, so in threads two jobs never simulate at once
and requests, the client and Prefect in the same process crawl meanwhile. A
chunk whose process dies runs once more on a fresh process; if that one dies
too, the job fails with ERROR_RUNNING_JOB saying so.

With ``simulation="dask"`` the chunks go to the workers of a Dask scheduler
instead (:mod:`.dasksim`, connected at start), with one aer thread each and,
per job, as many chunks in flight as the cluster has worker threads; Dask reruns
the chunk of a worker that died.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from qiskit import QuantumCircuit

from prefect_ibmq.wire import ApiJobStatus as S
from prefect_ibmq.wire import (
    JobError,
    JobRecord,
    circuits_to_qpy,
    qpy_to_circuits,
)

from .aerrun import JobQpy
from .config import BackendSpec
from .errors import StoreUnavailable
from .notify import StatusNotifier
from .queue import FairshareQueue, QueuedJob
from .runtime.execute import execute
from .simpool import SimulatorPool, SimulatorProcessDied
from .simprocs import threads_per_worker, warm_argument
from .simulators import (
    ChunkCall,
    ChunkRunner,
    Simulator,
    SimulatorCrashed,
    ThreadRunner,
)
from .stopping import StopEvent
from .store import Store
from .stored_results import encode_result
from .validation import InvalidJob

if TYPE_CHECKING:  # distributed is imported only with simulation="dask"
    from .dasksim import DaskCall, DaskSimulators

logger = logging.getLogger("prefect_ibmq.server.executor")

#: JobError codes (in the style of the legacy service's numeric codes).
VALIDATION_ERROR_CODE = 1400
RUN_ERROR_CODE = 1500
#: Before validation the job may be in any of these (several after a restart).
BEFORE_VALIDATION = (S.CREATING, S.CREATED, S.VALIDATING, S.VALIDATED)
T = TypeVar("T")
#: Chunks of one job in flight in the process pool: the next is queued while one runs,
#: so a single job keeps every pool process busy and none waits on the worker thread.
POOL_LOOKAHEAD = 2


class Executor:
    """Validates submitted jobs and runs queued ones (see the module's docstring)."""

    def __init__(
        self,
        store: Store,
        queue: FairshareQueue,
        notifier: StatusNotifier,
        simulators: dict[str, Simulator],
        workers: int,
        simulation: Literal["processes", "threads", "dask"] = "processes",
        dask_scheduler: str | None = None,
    ) -> None:
        self._store = store
        self._queue = queue
        #: The name this replica's claims carry (the store's origin).
        self.replica_id = store.origin
        self._notifier = notifier
        self._simulators = simulators
        self._n_workers = workers
        self._validation: ThreadPoolExecutor | None = None
        self._threads: list[threading.Thread] = []
        self._stops: dict[str, StopEvent] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        #: OpenMP threads of each worker's aer: the cores divided among the workers
        #: (one per Dask worker thread: the cluster's cores are not ours to divide).
        self.aer_threads = 1 if simulation == "dask" else threads_per_worker(workers)
        self.simulation = simulation
        self._dask_scheduler = dask_scheduler
        #: The simulator processes (simulation="processes"), made on the first chunk, or the
        #: Dask client (simulation="dask"), connected at start.
        self._pool: SimulatorPool | DaskSimulators | None = None
        self._pool_lock = threading.Lock()
        #: Chunks sent to a fresh simulator process because the one running them died.
        self.chunks_rerun = 0
        #: A long-running service (``ServerConfig.prestart_simulators``): its simulator processes start
        #: with it, warm every backend's aer up, and have a spare to replace an abandoned one at once.
        self._prestart = False

    # --- status changes --------------------------------------------------------------

    def move(self, job_id: str, to: S, allowed_from: Iterable[S], **changes: Any) -> bool:
        """Conditionally change a job's status and wake its waiters; False if not allowed."""
        moved = self._store.transition(job_id, to, allowed_from, **changes)
        if moved:
            logger.info("job %s -> %s", job_id, to.value)
            self._notifier.notify(job_id)
        return moved

    # --- lifecycle -------------------------------------------------------------------

    def start(self, prestart_simulators: bool = False) -> None:
        """Start the validation pool and the workers (and the simulator processes, if asked)."""
        self._prestart = prestart_simulators
        if self.simulation == "dask" or (prestart_simulators and self.simulation == "processes"):
            with self._pool_lock:
                self._pool = self._new_pool()  # processes start in the background; Dask connects now
        self._validation = ThreadPoolExecutor(
            max_workers=min(2, self._n_workers), thread_name_prefix="prefect-ibmq-validate"
        )
        for index in range(self._n_workers):
            thread = threading.Thread(target=self._work, name=f"prefect-ibmq-worker-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop taking work, interrupt running jobs (left RUNNING: the reaper requeues them), join."""
        self._stopping.set()
        self._queue.close()
        with self._lock:
            for event in self._stops.values():
                event.set()
        if self._validation is not None:
            self._validation.shutdown(wait=True, cancel_futures=True)
        for thread in self._threads:
            thread.join()
        self._threads.clear()
        with self._pool_lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown()

    # --- the simulator processes -----------------------------------------------------

    def pool_pids(self) -> list[int]:
        """Process ids of the running simulator processes (none before the first run)."""
        with self._pool_lock:
            pool = self._pool
        return pool.pids() if pool is not None else []

    def running_job_ids(self) -> list[str]:
        """Ids of the jobs a worker is running now (until it has let go of them)."""
        with self._lock:
            return list(self._stops)

    def busy_pool_pids(self) -> list[int]:
        """Process ids of the simulator processes simulating a chunk right now."""
        with self._pool_lock:
            pool = self._pool
        return pool.busy_pids() if isinstance(pool, SimulatorPool) else []  # Dask's workers are not ours

    def spare_pool_pid(self) -> int | None:
        """Process id of the warmed spare simulator process (long-running services have one), if ready."""
        with self._pool_lock:
            pool = self._pool
        return pool.spare_pid() if isinstance(pool, SimulatorPool) else None

    def _pool_submit(self, *args: Any) -> Future | DaskCall:
        """Send a chunk to the simulator processes, made on the first call (or to the Dask cluster)."""
        with self._pool_lock:
            if self._stopping.is_set():
                raise RuntimeError("the executor is stopping")
            if self._pool is None:
                self._pool = self._new_pool()
            return self._pool.submit(*args)

    def _new_pool(self) -> SimulatorPool | DaskSimulators:
        if self.simulation == "dask":
            from .dasksim import DaskSimulators

            if not self._dask_scheduler:  # ServerConfig checks this; a hand-made Executor may not
                raise ValueError("simulation='dask' needs dask_scheduler, the address of a Dask scheduler")
            return DaskSimulators(self._dask_scheduler, self._stopping)
        # A fresh process always answers one call before it takes chunks (so a replacement is
        # ready when it does); a long-running service has it build every backend's aer first.
        specs = [simulator.spec.model_dump() for simulator in self._simulators.values()] if self._prestart else []
        warm = warm_argument(specs, self.aer_threads)
        return SimulatorPool(self._n_workers, warm=warm, spare=self._prestart)

    def chunks_in_flight(self) -> int:
        """Chunks of one job sent ahead: two, or on Dask one per worker thread of the cluster."""
        with self._pool_lock:
            pool = self._pool
        if pool is None or isinstance(pool, SimulatorPool):
            return POOL_LOOKAHEAD
        return max(POOL_LOOKAHEAD, pool.threads())

    def validate_later(self, job_id: str, circuits: list[QuantumCircuit] | None = None) -> None:
        """Queue a job for validation (``circuits``: already decoded, saves a second decode)."""
        if self._validation is None:
            raise RuntimeError(f"cannot validate job {job_id}: the executor is not started (call start() first)")
        self._validation.submit(self._guard, f"validating {job_id}", self._validate, job_id, circuits)

    def interrupt(self, job_id: str) -> None:
        """Stop a running job between experiments (after a cancel or delete)."""
        with self._lock:
            event = self._stops.get(job_id)
        if event is not None:
            event.set()

    # --- validation ------------------------------------------------------------------

    def _validate(self, job_id: str, circuits: list[QuantumCircuit] | None) -> None:
        # Steps after VALIDATING are dropped so a re-validation (restart) keeps lifecycle order.
        if not self._retry(
            lambda: self.move(job_id, S.VALIDATING, BEFORE_VALIDATION, drop_steps=(S.VALIDATED, S.QUEUED))
        ):
            return  # cancelled or deleted meanwhile
        record = self._retry(lambda: self._store.get_job(job_id))
        if record is None:
            return
        simulator = self._simulators.get(record.backend)
        if simulator is not None and record.program_id is not None:
            # A runtime job's inputs were checked in full at submit; the program runs them as sent.
            if self._retry(lambda: self.move(job_id, S.VALIDATED, (S.VALIDATING,))):
                self.enqueue(record, from_status=S.VALIDATED)
            return
        try:
            if simulator is None:
                raise InvalidJob(f"backend {record.backend!r} is no longer configured")
            if circuits is None:
                data = self._retry(lambda: self._store.circuits(job_id))
                if data is None:
                    return
                circuits = qpy_to_circuits(data)
            runnable, transpiled = simulator.prepare(circuits, record.options)
        except Exception as exc:  # InvalidJob, or QPY that no longer loads
            message = str(exc) if isinstance(exc, InvalidJob) else f"cannot load the job's circuits: {exc}"
            logger.info("job %s failed validation: %s", job_id, message)
            self._retry(
                lambda: self.move(
                    job_id, S.ERROR_VALIDATING_JOB, (S.VALIDATING,),
                    error=JobError(code=VALIDATION_ERROR_CODE, message=message),
                )
            )
            return
        runnable_qpy = circuits_to_qpy(runnable) if transpiled else None
        if not self._retry(lambda: self.move(job_id, S.VALIDATED, (S.VALIDATING,), runnable_qpy=runnable_qpy)):
            return
        self.enqueue(record, from_status=S.VALIDATED)

    def enqueue(self, record: JobRecord, from_status: S) -> bool:
        """Move to QUEUED: the job is in the fairshare queue (the table) for any replica to claim."""
        job_id = record.job_id
        if not self._retry(
            lambda: self.move(job_id, S.QUEUED, (from_status,), run_mode="fairshare", queued_at=time.time())
        ):
            return False
        self._queue.put(job_id)
        return True

    # --- running ---------------------------------------------------------------------

    def _work(self) -> None:
        runner: ChunkRunner
        if self.simulation == "threads":
            runner = ThreadRunner(self.aer_threads)  # aer instances private to this thread
        else:
            runner = _PoolRunner(self)
        while not self._stopping.is_set():
            item = self._queue.take(self.replica_id)
            if item is None:
                return
            self._notifier.notify(item.job_id)  # it is RUNNING now
            try:
                self._run(item, runner)
            except Exception:
                logger.exception("worker failed on job %s", item.job_id)
            finally:
                with self._lock:
                    self._stops.pop(item.job_id, None)

    def _run(self, item: QueuedJob, runner: ChunkRunner) -> bool:
        """Run a job this replica claimed (it is RUNNING under our name); True if it completed."""
        job_id = item.job_id
        stop = StopEvent()  # a cancel or shutdown sets it: the chunks in flight are abandoned at once
        with self._lock:
            self._stops[job_id] = stop
        if self._retry(lambda: self._store.get_status(job_id)) is not S.RUNNING:
            return False  # cancelled between the claim and now
        record = self._retry(lambda: self._store.get_job(job_id))
        data = self._retry(lambda: self._store.circuits(job_id, runnable=True)) or self._retry(
            lambda: self._store.circuits(job_id)
        )
        if record is None or data is None:
            return False  # deleted meanwhile
        simulator = self._simulators[record.backend]
        if record.program_id is not None:
            return self._run_program(record, simulator, stop)
        try:
            # The stored QPY goes to the simulator processes as it is: they decode it, not this process.
            job = JobQpy.of(data, record.num_experiments)
            outcome = simulator.run(runner, job, record.options, job_id, record.header, stop, record.name)
        except Exception as exc:
            if self._stopping.is_set():  # e.g. ServerStopping: left RUNNING, a restart queues it again
                logger.info("job %s interrupted by shutdown: %s", job_id, exc)
                return False
            logger.exception("job %s could not run", job_id)
            failure = JobError(code=RUN_ERROR_CODE, message=f"the job could not run: {type(exc).__name__}: {exc}")
            result = {"backend_name": record.backend, "backend_version": "1.0.0", "qobj_id": job_id,
                      "job_id": job_id, "success": False, "status": failure.message, "results": []}
            self._finish(job_id, S.ERROR_RUNNING_JOB, result, failure)
            return False
        if outcome is None:
            # Cancelled (the cancel already stored CANCELLED) or shutting down (stays RUNNING).
            logger.info("job %s interrupted%s", job_id, " by shutdown" if self._stopping.is_set() else "")
            return False
        error: JobError | None = None
        status = S.COMPLETED
        if outcome.failed:
            status = S.ERROR_RUNNING_JOB
            first = next(e for e in outcome.result["results"] if not e["success"])
            error = JobError(
                code=RUN_ERROR_CODE,
                message=f"{outcome.failed} of {outcome.total} experiments failed; first: {first.get('status')}",
            )
        return self._finish(job_id, status, outcome.result, error) and status is S.COMPLETED

    def _run_program(self, record: JobRecord, simulator: Simulator, stop: threading.Event) -> bool:
        """A Qiskit Runtime job: its program runs whole; the result (or the failure's reason) is stored."""
        job_id = record.job_id
        params = self._retry(lambda: self._store.runtime_params(job_id))
        if params is None or record.program_id is None:
            return False  # deleted meanwhile
        # In the simulator processes; otherwise (threads, or any other simulation) in this worker thread.
        submit = self._pool_call if self.simulation == "processes" else None
        outcome = execute(
            record.program_id, simulator.spec, self.aer_threads, job_id, params,
            record.num_experiments, stop, submit,
        )
        if outcome is None:
            logger.info("job %s interrupted%s", job_id, " by shutdown" if self._stopping.is_set() else "")
            return False
        if outcome.text is not None:
            return self._finish(job_id, S.COMPLETED, outcome.text, None)
        if outcome.reason_code is None or outcome.reason is None:
            raise RuntimeError(f"runtime job {job_id}'s program ended with neither a result nor a reason")
        error = JobError(code=outcome.reason_code, message=outcome.reason)
        # The failure's text is the result IBM serves for a failed job (error_message() reads it).
        self._finish(job_id, S.ERROR_RUNNING_JOB, outcome.reason, error)
        return False

    def _pool_call(self, function: Callable[..., Any], *args: Any) -> Future:
        """Run ``function(*args)`` in the simulator processes (made on the first call)."""
        with self._pool_lock:
            if self._stopping.is_set():
                raise RuntimeError("the executor is stopping")
            if self._pool is None:
                self._pool = self._new_pool()
            if not isinstance(self._pool, SimulatorPool):
                raise RuntimeError("runtime programs run in simulator processes, not on Dask")
            return self._pool.call(function, *args)

    def _finish(self, job_id: str, status: S, result: dict[str, Any] | str, error: JobError | None) -> bool:
        text = result if isinstance(result, str) else encode_result(result)
        stored = self._retry(
            lambda: self._store.finish_run(job_id, status, text, error, time.time(), claimed_by=self.replica_id)
        )
        if stored:
            logger.info("job %s -> %s", job_id, status.value)
            self._notifier.notify(job_id)
        return bool(stored)

    # --- resilience ------------------------------------------------------------------

    def _retry(self, action: Callable[[], T], attempts: int = 8) -> T:
        """Background work waits out a busy store instead of failing the job."""
        delay = 0.05
        for attempt in range(attempts):
            try:
                return action()
            except StoreUnavailable:
                if attempt == attempts - 1 or self._stopping.is_set():
                    raise
                time.sleep(delay)  # backoff before retrying a locked/failing store
                delay = min(delay * 2, 2.0)
        raise AssertionError("unreachable")

    @staticmethod
    def _guard(what: str, fn: Callable[..., None], *args: Any) -> None:
        try:
            fn(*args)
        except Exception:
            logger.exception("failed %s", what)


class _PoolRunner:
    """Sends chunks to the executor's process pool or Dask cluster (one per worker thread, sharing it)."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor

    @property
    def lookahead(self) -> int:
        """Chunks of one job in flight (see :meth:`Executor.chunks_in_flight`)."""
        return self._executor.chunks_in_flight()

    def submit(
        self, spec: BackendSpec, job: JobQpy, start: int, stop: int, run_options: dict[str, Any]
    ) -> ChunkCall:
        """Send circuits ``start:stop`` of ``job`` to the pool (the job's QPY goes along, as stored)."""
        args = (spec, self._executor.aer_threads, job, start, stop, run_options)
        return _PoolCall(self._executor, args, stop - start)


class _PoolCall:
    """One chunk in the simulator processes; run once more if the process running it dies.

    On Dask the scheduler reruns it instead, and :class:`.dasksim.DaskCall` raises
    SimulatorCrashed, not SimulatorProcessDied, when it gives up.
    """

    def __init__(self, executor: Executor, args: tuple[Any, ...], size: int) -> None:
        self._executor = executor
        self._args = args
        self._size = size
        self._future = executor._pool_submit(*args)

    def result(self) -> list[dict[str, Any]]:
        try:
            return self._future.result()
        except SimulatorProcessDied as exc:
            logger.warning("running a chunk of %d experiments again: %s", self._size, exc)
        with self._executor._lock:
            self._executor.chunks_rerun += 1
        self._future = self._executor._pool_submit(*self._args)
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

"""Background work: validating submitted jobs and running queued ones.

Validation runs on its own small pool so a slow transpile never delays a run;
runs happen on ``workers`` threads that take jobs from the fairshare queue.
What validating and running a job means is its kind's (:mod:`.kind_handler`, found
by the job's record in the :class:`.kind_handler.KindHandlers` given); where simulations
run is :class:`.runners.SimulatorRunners`'. Every status change goes through
:meth:`Executor.move`, a conditional update in the store followed by a wake-up
of long-polling requests. A cancel or a shutdown sets the job's stop event
(:class:`.stopping.StopEvent`), which abandons its chunks in flight: a
simulator process running one is killed and replaced, so the next job has it
at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

from qiskit import QuantumCircuit

from prefect_ibmq.wire import ApiJobStatus as S
from prefect_ibmq.wire import JobError, JobRecord

from .chunks import ChunkRunner
from .errors import StoreUnavailable
from .kind_handler import Finished, Inputs, KindHandlers, RunContext
from .limit_checks import InvalidJob
from .notify import StatusNotifier
from .queue import FairshareQueue, QueuedJob
from .runners import SimulatorRunners
from .simulators import Simulator
from .stopping import StopEvent
from .store import Store

logger = logging.getLogger("prefect_ibmq.server.executor")

#: JobError code of a job that failed validation (in the style of the legacy service's numeric codes).
VALIDATION_ERROR_CODE = 1400
#: Before validation the job may be in any of these (several after a restart).
BEFORE_VALIDATION = (S.CREATING, S.CREATED, S.VALIDATING, S.VALIDATED)
T = TypeVar("T")


class Executor:
    """Validates submitted jobs and runs queued ones (see the module's docstring)."""

    def __init__(
        self,
        store: Store,
        queue: FairshareQueue,
        notifier: StatusNotifier,
        simulators: dict[str, Simulator],
        workers: int,
        kinds: KindHandlers,
        simulation: Literal["processes", "threads", "dask"] = "processes",
        dask_scheduler: str | None = None,
    ) -> None:
        self._store = store
        self._queue = queue
        #: The name this replica's claims carry (the store's origin).
        self.replica_id = store.origin
        self._notifier = notifier
        self._simulators = simulators
        self._kinds = kinds
        self._n_workers = workers
        self._validation: ThreadPoolExecutor | None = None
        self._threads: list[threading.Thread] = []
        self._stops: dict[str, StopEvent] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        #: Where chunks and programs simulate (the processes are made on the first chunk, or at start).
        self.runners = SimulatorRunners(
            workers, self._stopping, simulation, dask_scheduler,
            warm_specs=lambda: [simulator.spec for simulator in simulators.values()],
        )
        self._inputs = Inputs(store, self._retry)

    @property
    def chunks_rerun(self) -> int:
        """Chunks sent to a fresh simulator process because the one running them died."""
        return self.runners.chunks_rerun

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
        self.runners.start(prestart=prestart_simulators)
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
        self.runners.shutdown()

    # --- what tests and operators look at --------------------------------------------

    def pool_pids(self) -> list[int]:
        """Process ids of the running simulator processes (none before the first run)."""
        return self.runners.pids()

    def busy_pool_pids(self) -> list[int]:
        """Process ids of the simulator processes simulating a chunk right now."""
        return self.runners.busy_pids()

    def spare_pool_pid(self) -> int | None:
        """Process id of the warmed spare simulator process (long-running services have one), if ready."""
        return self.runners.spare_pid()

    def running_job_ids(self) -> list[str]:
        """Ids of the jobs a worker is running now (until it has let go of them)."""
        with self._lock:
            return list(self._stops)

    # --- validation ------------------------------------------------------------------

    def validate_later(self, job_id: str, circuits: list[QuantumCircuit] | None = None) -> None:
        """Queue a job for validation (``circuits``: already decoded, saves a second decode)."""
        if self._validation is None:
            raise RuntimeError(f"cannot validate job {job_id}: the executor is not started (call start() first)")
        self._validation.submit(self._guard, f"validating {job_id}", self._validate, job_id, circuits)

    def _validate(self, job_id: str, circuits: list[QuantumCircuit] | None) -> None:
        # Steps after VALIDATING are dropped so a re-validation (restart) keeps lifecycle order.
        if not self._retry(
            lambda: self.move(job_id, S.VALIDATING, BEFORE_VALIDATION, drop_steps=(S.VALIDATED, S.QUEUED))
        ):
            return  # cancelled or deleted meanwhile
        record = self._retry(lambda: self._store.get_job(job_id))
        if record is None:
            return
        try:
            simulator = self._simulators.get(record.backend)
            if simulator is None:
                raise InvalidJob(f"backend {record.backend!r} is no longer configured")
            validated = self._kinds.of(record).validate(record, simulator, circuits, self._inputs)
        except InvalidJob as exc:
            logger.info("job %s failed validation: %s", job_id, exc)
            error = JobError(code=VALIDATION_ERROR_CODE, message=str(exc))
            self._retry(lambda: self.move(job_id, S.ERROR_VALIDATING_JOB, (S.VALIDATING,), error=error))
            return
        if validated is None:
            return  # deleted meanwhile
        runnable_qpy = validated.runnable_qpy
        if self._retry(lambda: self.move(job_id, S.VALIDATED, (S.VALIDATING,), runnable_qpy=runnable_qpy)):
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

    def interrupt(self, job_id: str) -> None:
        """Stop a running job between experiments (after a cancel or delete)."""
        with self._lock:
            event = self._stops.get(job_id)
        if event is not None:
            event.set()

    # --- running ---------------------------------------------------------------------

    def _work(self) -> None:
        runner = self.runners.runner()  # with simulation="threads", aer instances private to this thread
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
        if record is None:
            return False  # deleted meanwhile
        context = RunContext(
            self._simulators[record.backend], runner, self.runners, self._inputs, stop, self._stopping
        )
        finished = self._kinds.of(record).run(record, context)
        if finished is None:
            # Cancelled (the cancel already stored CANCELLED), shutting down (stays RUNNING), or deleted.
            logger.info("job %s interrupted%s", job_id, " by shutdown" if self._stopping.is_set() else "")
            return False
        return self._finish(job_id, finished) and finished.status is S.COMPLETED

    def _finish(self, job_id: str, finished: Finished) -> bool:
        stored = self._retry(
            lambda: self._store.finish_run(
                job_id, finished.status, finished.result, finished.error, time.time(), claimed_by=self.replica_id
            )
        )
        if stored:
            logger.info("job %s -> %s", job_id, finished.status.value)
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

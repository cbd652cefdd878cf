"""A pool of simulator processes: ``python -m prefect_ibmq.server.simworker`` children.

The executor sends each chunk of circuits (QPY), and each Qiskit Runtime job's
program, here when ``ServerConfig.simulation == "processes"``. aer holds the GIL while it
simulates, so simulations in the server's threads neither overlap each other
nor let requests, the client or Prefect (same process, embedded default) run.

Why not ``concurrent.futures.ProcessPoolExecutor``: with ``spawn`` or
``forkserver`` every child first re-runs the parent's ``__main__`` script (as
``__mp_main__``). A user script that calls ``IBMQService.local()`` at top level,
without an ``if __name__ == "__main__":`` guard, then starts a second server
in each child and every job fails; and plain ``fork`` of this threaded process
is unsafe. These children run only this module. Each one talks pickles over
its stdin and a private copy of its stdout (fd 1 itself goes to stderr, so
stray prints cannot corrupt the stream). A child whose parent is gone reads
EOF and exits. A child that dies fails only the chunk it was running
(:class:`SimulatorProcessDied`) and is started again for the next chunk.

A fresh child first runs the pool's warm-up call (imports, each backend's aer and noise
model) before it takes chunks, so no chunk waits for that. A chunk can be abandoned
while it runs (its job was cancelled, the server stops): its child is killed at once and
replaced, by the pool's warmed spare child when it has one, so the cancelled job's
chunk never holds a process that the next job could use.
"""

from __future__ import annotations

import logging
import pickle
import queue
import signal
import subprocess
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from .aerrun import simulate_qpy
from .simprocs import spawn, take_early, warm_argument
from .stopping import ChunkAbandoned

logger = logging.getLogger("prefect_ibmq.server.simpool")

#: How long shutdown waits for a child to exit after its stdin is closed.
EXIT_TIMEOUT_S = 5.0


class SimulatorProcessDied(Exception):
    """The simulator process running a chunk died (killed, out of memory, crashed in aer)."""


class SimulatorPool:
    """``size`` simulator processes, started with the pool; :meth:`submit` returns a Future.

    ``warm``: what each fresh process warms up before it takes chunks (:func:`.simprocs.warm_argument`).
    ``spare``: keep one more process started and warmed, to replace an abandoned one at once.
    """

    def __init__(self, size: int, warm: str = "", spare: bool = False) -> None:
        self._tasks: queue.SimpleQueue[tuple[Future, tuple[Any, ...]] | None] = queue.SimpleQueue()
        self.warm = warm or warm_argument([], 1)
        self._closed = False
        self._lock = threading.Lock()
        self._spare: subprocess.Popen[bytes] | None = None
        self._spare_wanted = spare
        self._spare_thread: threading.Thread | None = None
        self._spare_starting: subprocess.Popen[bytes] | None = None
        self._not_ready = size
        self._slots = [_Slot(self, self._tasks, index) for index in range(size)]

    def submit(self, *args: Any) -> Future:
        """Run ``aerrun.simulate_qpy(*args)`` in a pool process."""
        return self.call(simulate_qpy, *args)

    def call(self, function: Callable[..., Any], *args: Any) -> Future:
        """Run ``function(*args)`` in a pool process (a module-level function: it is pickled by name).

        The future's ``cancel()`` also abandons the call while it runs (see :meth:`abandon`).
        """
        future = _PoolFuture(self)
        with self._lock:
            if self._closed:
                raise RuntimeError("the simulator pool is shut down")
            self._tasks.put((future, (function, args)))
        return future

    def abandon(self, future: Future) -> bool:
        """Give up a running call: its process is killed and replaced; the future raises ChunkAbandoned.

        False if no process is running it (not started, or done).
        """
        return any(slot.abandon(future) for slot in self._slots)

    def pids(self) -> list[int]:
        """Process ids of the running simulator processes (the spare is not one of them)."""
        return [pid for slot in self._slots if (pid := slot.pid()) is not None]

    def spare_pid(self) -> int | None:
        """Process id of the warmed spare process, when there is one ready."""
        with self._lock:
            spare = self._spare
        return spare.pid if spare is not None and spare.poll() is None else None

    def busy_pids(self) -> list[int]:
        """Process ids of the simulator processes simulating a chunk right now."""
        return [pid for slot in self._slots if slot.busy and (pid := slot.pid()) is not None]

    def shutdown(self) -> None:
        """Cancel queued chunks, abandon running ones, stop the processes and their threads."""
        with self._lock:
            self._closed = True
            while True:
                try:
                    item = self._tasks.get_nowait()
                except queue.Empty:
                    break
                if item is not None:
                    item[0].cancel()
            for _ in self._slots:
                self._tasks.put(None)
            spare, self._spare = self._spare, None
            starting = self._spare_starting
        if starting is not None and starting.poll() is None:
            starting.kill()
        for slot in self._slots:
            slot.abandon_current()
        for slot in self._slots:
            slot.join()
        if self._spare_thread is not None:
            self._spare_thread.join()
        with self._lock:
            spare = spare or self._spare
            self._spare = None
        if spare is not None:
            _stop(spare)

    # --- fresh processes, and the spare ----------------------------------------------

    def fresh_process(self) -> subprocess.Popen[bytes]:
        """The spare if one is ready (a new spare is then made), else a new process; warmed either way."""
        with self._lock:
            proc, self._spare = self._spare, None
        if proc is not None and proc.poll() is None:
            self._make_spare()
            return proc
        return self._start_warmed()

    def slot_ready(self) -> None:
        """A slot's first process is up; once all are, the spare is made (not before: it would slow them)."""
        with self._lock:
            self._not_ready -= 1
            due = self._not_ready == 0
        if due:
            self._make_spare()

    def _make_spare(self) -> None:
        with self._lock:
            if not self._spare_wanted or self._closed or self._spare is not None:
                return
            if self._spare_thread is not None and self._spare_thread.is_alive():
                return
            self._spare_thread = threading.Thread(target=self._fill_spare, name="prefect-ibmq-simpool-spare",
                                                  daemon=True)
            self._spare_thread.start()

    def _fill_spare(self) -> None:
        try:
            proc = self._start_warmed(spare=True)
        except Exception:
            if not self._closed:
                logger.exception("cannot start a spare simulator process")
            return
        with self._lock:
            kept = not self._closed and self._spare is None
            if kept:
                self._spare = proc
        if not kept:
            _stop(proc)

    def _start_warmed(self, spare: bool = False) -> subprocess.Popen[bytes]:
        """A process started early (:func:`.simprocs.start_early`) or now, once it says it is ready."""
        proc = take_early(self.warm) or spawn(self.warm)
        if spare:
            with self._lock:
                self._spare_starting = proc  # shutdown kills it rather than wait for its imports
        try:
            if proc.stdout is None:  # Popen with PIPE always has it
                raise OSError("the simulator process has no stdout")
            ok, value = pickle.load(proc.stdout)
        except Exception:
            _stop(proc)
            raise
        if not ok:
            logger.warning("a simulator process did not warm up (it runs chunks all the same): %s", value)
        return proc


class _PoolFuture(Future):
    """A pool call's future: :meth:`cancel` drops it when queued, or abandons it when running."""

    def __init__(self, pool: SimulatorPool) -> None:
        super().__init__()
        self._pool = pool

    def cancel(self) -> bool:
        return super().cancel() or self._pool.abandon(self)


class _Slot:
    """One dispatcher thread and its process (started with the pool, again after it died or was abandoned)."""

    def __init__(self, pool: SimulatorPool, tasks: queue.SimpleQueue, index: int) -> None:
        self._pool = pool
        self._tasks = tasks
        self._proc: subprocess.Popen[bytes] | None = None
        #: True while a chunk is with the process (sent, answer not yet read).
        self.busy = False
        self._current: Future | None = None
        self._abandoned = False
        self._state = threading.Lock()
        self._thread = threading.Thread(target=self._serve, name=f"prefect-ibmq-simpool-{index}", daemon=True)
        self._thread.start()

    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def join(self) -> None:
        self._thread.join()

    def abandon(self, future: Future) -> bool:
        """Kill the process if it is running ``future``; True if it was."""
        with self._state:
            if self._current is not future or self._abandoned:
                return False
            self._abandoned = True
            proc = self._proc
        if proc is not None:
            logger.info("abandoning the chunk running in simulator process %s (killed and replaced)", proc.pid)
            proc.kill()  # the thread reading its answer gets EOF and replaces it
        return True

    def abandon_current(self) -> None:
        """Kill the process if it is running anything (shutdown)."""
        with self._state:
            current = self._current
        if current is not None:
            self.abandon(current)

    def _serve(self) -> None:
        try:
            try:
                self._process()  # start at once: every process imports qiskit (~1 s) in parallel
            except Exception:
                logger.exception("cannot start a simulator process")  # the first chunk tries again
            self._pool.slot_ready()
            while True:
                item = self._tasks.get()
                if item is None:
                    return
                future, args = item
                if future.set_running_or_notify_cancel():
                    self._run(future, args)
        finally:
            self._stop_process()

    def _run(self, future: Future, args: tuple[Any, ...]) -> None:
        try:
            proc = self._process()
            with self._state:
                self._current, self._abandoned = future, False
            self.busy = True
            ok, value = _exchange(proc, args)
        except Exception as exc:  # EOF or a broken pipe: it died (or its stream broke: not reused)
            if self._let_go():
                future.set_exception(ChunkAbandoned("the chunk was abandoned: its job was cancelled or stopped"))
                self._replace()
                return
            future.set_exception(SimulatorProcessDied(self._death(exc)))
            return
        finally:
            self.busy = False
        self._let_go()  # abandoned just as it answered: the answer stands; a killed process is replaced later
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def _let_go(self) -> bool:
        """Forget the current call; whether it was abandoned."""
        with self._state:
            abandoned, self._current, self._abandoned = self._abandoned, None, False
        return abandoned

    def _replace(self) -> None:
        """After an abandon: reap the killed process and have a warmed one before taking the next chunk."""
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.wait()
            _close(proc)
        try:
            self._process()
        except Exception:
            logger.exception("cannot replace an abandoned simulator process")  # the next chunk tries again

    def _process(self) -> subprocess.Popen[bytes]:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            if proc is not None:
                _close(proc)
            self._proc = None
            proc = self._proc = self._pool.fresh_process()
        return proc

    def _death(self, exc: BaseException) -> str:
        proc, self._proc = self._proc, None
        if proc is None:
            return f"the simulator process could not be reached: {exc}"
        try:
            code = proc.wait(timeout=EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:  # alive but its stream broke: do not reuse it
            proc.kill()
            code = proc.wait()
        _close(proc)
        how = f"signal {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
        logger.warning("simulator process %s died (%s); a new one starts for the next chunk", proc.pid, how)
        return f"the simulator process (pid {proc.pid}) died with {how}"

    def _stop_process(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _stop(proc)


def _exchange(proc: subprocess.Popen[bytes], request: tuple[Any, ...]) -> tuple[bool, Any]:
    """Send one (function, args) request to a child and read its (ok, value) answer."""
    if proc.stdin is None or proc.stdout is None:  # Popen with PIPE always has both
        raise OSError("the simulator process has no pipes")
    pickle.dump(request, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
    proc.stdin.flush()
    ok, value = pickle.load(proc.stdout)
    return ok, value


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ask a child to exit (EOF on its stdin); kill it if it does not within EXIT_TIMEOUT_S."""
    try:
        if proc.stdin is not None:
            proc.stdin.close()  # EOF: the child exits
        proc.wait(timeout=EXIT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
    _close(proc)


def _close(proc: subprocess.Popen[bytes]) -> None:
    for stream in (proc.stdin, proc.stdout):
        try:
            if stream is not None:
                stream.close()
        except OSError:
            pass

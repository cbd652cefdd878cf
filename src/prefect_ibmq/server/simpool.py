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
"""

from __future__ import annotations

import logging
import pickle
import queue
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from .aerrun import simulate_qpy

logger = logging.getLogger("prefect_ibmq.server.simpool")

#: How long shutdown waits for a child to exit after its stdin is closed.
EXIT_TIMEOUT_S = 5.0


class SimulatorProcessDied(Exception):
    """The simulator process running a chunk died (killed, out of memory, crashed in aer)."""


class SimulatorPool:
    """``size`` simulator processes, started with the pool; :meth:`submit` returns a Future."""

    def __init__(self, size: int) -> None:
        self._tasks: queue.SimpleQueue[tuple[Future, tuple[Any, ...]] | None] = queue.SimpleQueue()
        self._slots = [_Slot(self._tasks, index) for index in range(size)]
        self._closed = False
        self._lock = threading.Lock()

    def submit(self, *args: Any) -> Future:
        """Run ``aerrun.simulate_qpy(*args)`` in a pool process."""
        return self.call(simulate_qpy, *args)

    def call(self, function: Callable[..., Any], *args: Any) -> Future:
        """Run ``function(*args)`` in a pool process (a module-level function: it is pickled by name)."""
        future: Future = Future()
        with self._lock:
            if self._closed:
                raise RuntimeError("the simulator pool is shut down")
            self._tasks.put((future, (function, args)))
        return future

    def pids(self) -> list[int]:
        """Process ids of the running simulator processes."""
        return [pid for slot in self._slots if (pid := slot.pid()) is not None]

    def busy_pids(self) -> list[int]:
        """Process ids of the simulator processes simulating a chunk right now."""
        return [pid for slot in self._slots if slot.busy and (pid := slot.pid()) is not None]

    def shutdown(self) -> None:
        """Cancel queued chunks, let running ones finish, stop the processes and their threads."""
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
        for slot in self._slots:
            slot.join()


class _Slot:
    """One dispatcher thread and its process (started with the pool, again after it died)."""

    def __init__(self, tasks: queue.SimpleQueue, index: int) -> None:
        self._tasks = tasks
        self._proc: subprocess.Popen[bytes] | None = None
        #: True while a chunk is with the process (sent, answer not yet read).
        self.busy = False
        self._thread = threading.Thread(target=self._serve, name=f"prefect-ibmq-simpool-{index}", daemon=True)
        self._thread.start()

    def pid(self) -> int | None:
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def join(self) -> None:
        self._thread.join()

    def _serve(self) -> None:
        try:
            try:
                self._process()  # start at once: every process imports qiskit (~1 s) in parallel
            except Exception:
                logger.exception("cannot start a simulator process")  # the first chunk tries again
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
            if proc.stdin is None or proc.stdout is None:  # Popen with PIPE always has both
                raise OSError("the simulator process has no pipes")
            self.busy = True
            pickle.dump(args, proc.stdin, protocol=pickle.HIGHEST_PROTOCOL)
            proc.stdin.flush()
            ok, value = pickle.load(proc.stdout)
        except Exception as exc:  # EOF or a broken pipe: it died (or its stream broke: not reused)
            future.set_exception(SimulatorProcessDied(self._death(exc)))
            return
        finally:
            self.busy = False
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def _process(self) -> subprocess.Popen[bytes]:
        proc = self._proc
        if proc is None or proc.poll() is not None:
            proc = self._proc = subprocess.Popen(
                [sys.executable, "-m", "prefect_ibmq.server.simworker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                close_fds=True,
            )
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
        if proc is None:
            return
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

"""The plumbing of ``make e2e``: named checks, child processes stopped as a group, bounded waits."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def log(message: str) -> None:
    print(f"[e2e {time.strftime('%H:%M:%S')}] {message}", flush=True)


class Checks:
    """Named checks; a failing one stops the run (what follows would only fail for the same reason)."""

    def __init__(self) -> None:
        self.passed: list[str] = []
        self.failed: list[str] = []

    def __call__(self, name: str, ok: Any, detail: Any = "") -> None:
        if not ok:
            self.failed.append(name)
            raise AssertionError(f"check failed: {name}{f' ({detail})' if detail != '' else ''}")
        self.passed.append(name)
        log(f"ok: {name}")


class Processes:
    """Child processes, each in its own session so that stopping one stops its children too."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: list[tuple[str, subprocess.Popen]] = []
        self.afterwards: list[Callable[[], None]] = []  # run once every process is stopped (a database)

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        out = open(self.logs / f"{name}.log", "wb")
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        self.running.append((name, proc))
        with open(self.logs.parent / "pids", "a") as pids:  # run.sh's trap kills these groups if we die
            pids.write(f"{proc.pid}\n")
        log(f"started {name} (pid {proc.pid}): {' '.join(argv[:4])} ...")
        return proc

    def run(self, argv: list[str], env: dict[str, str], timeout: float, log_name: str) -> str:
        """Run a command to completion (bounded, in its own recorded group); its output is returned
        and written to ``<logs>/<log_name>.log``."""
        log(f"$ {' '.join(argv)}")
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        self.running.append((log_name, proc))  # stopped with the rest should we be interrupted
        with open(self.logs.parent / "pids", "a") as pids:
            pids.write(f"{proc.pid}\n")
        try:
            stdout, stderr = proc.communicate(timeout=timeout)
        finally:
            _signal_group(proc, signal.SIGKILL)  # a timeout, or children it left behind
            proc.wait()
            self.running.remove((log_name, proc))
        (self.logs / f"{log_name}.log").write_text(f"$ {' '.join(argv)}\n{stdout}\n--- stderr ---\n{stderr}")
        if proc.returncode:
            raise RuntimeError(f"{argv[0]} {argv[1]} exited {proc.returncode}:\n{stdout[-2000:]}\n{stderr[-3000:]}")
        return stdout

    def stop_all(self) -> None:
        for name, proc in reversed(self.running):
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    _signal_group(proc, signal.SIGKILL)
                    proc.wait(timeout=5)
            # children left behind in the group (e.g. a flow run the worker started)
            _signal_group(proc, signal.SIGKILL)
            log(f"stopped {name} (exit {proc.returncode})")
        self.running.clear()
        (self.logs.parent / "pids").unlink(missing_ok=True)
        while self.afterwards:
            try:
                self.afterwards.pop()()
            except Exception as exc:  # the others must still run
                log(f"cleanup failed: {exc!r}")


def _signal_group(proc: subprocess.Popen, signum: int) -> None:
    try:
        os.killpg(proc.pid, signum)  # the group of this child only: it was started with start_new_session
    except (ProcessLookupError, PermissionError):
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(what: str, probe: Callable[[], Any], timeout: float, every: float = 0.5,
               alive: subprocess.Popen | None = None) -> Any:
    """Call ``probe`` until it returns something truthy; fail after ``timeout`` s or when ``alive`` exits."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if alive is not None and alive.poll() is not None:
            raise RuntimeError(f"{what}: the process exited with {alive.returncode} (see its log)")
        try:
            value = probe()
            if value:
                return value
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(every)
    raise TimeoutError(f"{what}: not ready after {timeout:.0f} s (last: {last!r})")


def api(client: httpx.Client, method: str, path: str, **kwargs: Any) -> Any:
    response = client.request(method, path, **kwargs)
    response.raise_for_status()
    return response.json()

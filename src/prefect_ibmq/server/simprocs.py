"""Starting simulator processes (``python -m prefect_ibmq.server.simworker``), and starting them early.

A process is started with what to warm up (:func:`warm_argument`: every backend's aer,
the noisy one's noise model too); it does that right after its imports and then
answers a first ``(True, pid)``, so whoever reads that answer knows it is ready.
``IBMQService.local()`` calls :func:`start_early` before it imports the server: the
processes then import and warm up while this process imports and starts the server,
and the server's pool (:mod:`.simpool`) adopts them (:func:`take_early`). Standard
library only, so calling it costs nothing before those imports.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from typing import Any

_early: list[tuple[str, subprocess.Popen[bytes]]] = []
_early_lock = threading.Lock()


def threads_per_worker(workers: int) -> int:
    """Aer's OpenMP threads in each of ``workers`` simulator processes: the cores divided among them."""
    return max(1, (os.cpu_count() or 1) // workers)


def warm_argument(backends: list[dict[str, Any]], threads: int) -> str:
    """What a process warms up: these backends' specs (``BackendSpec.model_dump()``), with ``threads`` each."""
    return json.dumps({"threads": threads, "backends": backends}, sort_keys=True)


def spawn(warm: str) -> subprocess.Popen[bytes]:
    """A new simulator process that warms up ``warm`` (see :func:`warm_argument`), then takes requests."""
    return subprocess.Popen(
        [sys.executable, "-m", "prefect_ibmq.server.simworker", warm],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        close_fds=True,
    )


def start_early(count: int, warm: str) -> None:
    """Have ``count`` simulator processes warming up ``warm``, for the pool about to be made."""
    with _early_lock:
        _early[:] = [(w, proc) for w, proc in _early if proc.poll() is None]
        _early.extend((warm, spawn(warm)) for _ in range(count - len(_early)))


def take_early(warm: str) -> subprocess.Popen[bytes] | None:
    """A process :func:`start_early` started for the same ``warm``, if one is left and alive."""
    with _early_lock:
        for index, (early_warm, proc) in enumerate(_early):
            if early_warm == warm and proc.poll() is None:
                del _early[index]
                return proc
    return None


def discard_early() -> None:
    """End the early processes nobody took (the server did not start, or runs elsewhere)."""
    with _early_lock:
        procs, _early[:] = [proc for _, proc in _early], []
    for proc in procs:
        if proc.stdin is not None:
            proc.stdin.close()  # EOF: it exits once imported
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()

"""Helpers shared by the figure modules: circuits, servers, a Prefect server, figure rows."""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qiskit import QuantumCircuit

from prefect_ibmq import circuits

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
ROOT = Path(__file__).resolve().parent.parent
_stack = contextlib.ExitStack()
atexit.register(_stack.close)
_prefect_started = False


def ghz(width: int, index: int = 0) -> QuantumCircuit:
    """A GHZ circuit as a user writes it (h, a cx ladder, measure all; not transpiled), named by index."""
    qc = circuits.ghz(width)
    qc.name = f"ghz{width}_{index}"
    return qc


def ghz_circuits(n: int, low: int = 2, high: int = 5) -> list[QuantumCircuit]:
    """``n`` GHZ circuits whose widths cycle through ``low``..``high``."""
    span = high - low + 1
    return [ghz(low + i % span, i) for i in range(n)]


SHOTS = 1024


def floor(circuits: list) -> float:
    """aer alone on every core: the circuits as they are, experiments in parallel, counts read out."""
    from qiskit_aer import AerSimulator

    start = time.perf_counter()
    # Experiments in parallel (max_parallel_experiments=0), as issue 10 defines the floor: aer's
    # default splits each experiment's shots over the cores instead, whose fork/join costs several
    # times a 2-5 qubit simulation and swings 10x with the machine's load.
    result = AerSimulator().run(circuits, shots=SHOTS, max_parallel_experiments=0).result()
    result.get_counts()
    return time.perf_counter() - start


def prefect_server() -> None:
    """Start one temporary Prefect server for the whole run (the first call costs ~10 s)."""
    global _prefect_started
    if _prefect_started:
        return
    from prefect.testing.utilities import prefect_test_harness

    _stack.enter_context(prefect_test_harness(server_startup_timeout=120))
    _prefect_started = True


def prefect_env() -> dict[str, str]:
    """Environment for a subprocess that should use this run's Prefect server."""
    from prefect.settings import PREFECT_API_URL

    env = dict(os.environ)
    url = PREFECT_API_URL.value()
    if url:
        env["PREFECT_API_URL"] = url
    return env


def tmp_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=f"prefect-ibmq-bench-{prefix}-"))
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def server_process(token: str = "bench-token-0123456789", workers: int | None = None,
                   config: dict[str, Any] | None = None) -> Iterator[str]:
    """``prefect-ibmq server`` in its own process; yields its URL (the token is ``token``)."""
    import json

    from prefect_ibmq.api import AccountClient

    data_dir = tmp_dir("server")
    port = free_port()
    cmd = [sys.executable, "-m", "prefect_ibmq.cli", "server", "--port", str(port), "--token", token,
           "--data-dir", str(data_dir), "--log-level", "WARNING"]
    if workers:
        cmd += ["--workers", str(workers)]
    if config is not None:
        path = data_dir / "server.json.config.json"
        path.write_text(json.dumps({"data_dir": str(data_dir), **config}))
        cmd += ["--config", str(path)]
    log = open(data_dir / "server.log", "wb")
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log)
    url = f"http://127.0.0.1:{port}"
    client = AccountClient(url, token)
    try:
        deadline = time.monotonic() + 60
        while not client.health():
            if proc.poll() is not None:
                raise RuntimeError(f"job server exited: {(data_dir / 'server.log').read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("job server did not start within 60 s")
            time.sleep(0.1)
        yield url
    finally:
        client.close()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def figure(name: str, value: float, baseline: float, target: str, met: bool, unit: str = "s",
           **extra: Any) -> dict[str, Any]:
    """One row of the table (the keys of benchmarks/tables.py, plus unit and met)."""
    return {
        "name": name,
        "value_s": round(value, 4),
        "baseline_s": round(baseline, 4),
        "ratio": round(value / baseline, 4) if baseline else float("nan"),
        "target": target,
        "unit": unit,
        "met": bool(met),
        **extra,
    }


def percentile(values: list[float], q: float) -> float:
    import numpy as np

    return float(np.percentile(values, q))

"""Figure 11: replicas of the job service on one PostgreSQL database, 1 against 2 and 3.

For each replica count: a fresh database on a throwaway PostgreSQL cluster
(``tests/pgcluster.py``), that many ``prefect-ibmq server --store-url ...``
processes (one worker each, simulating in its thread), then ``JOBS`` one-circuit
jobs (a Bell pair, 4 shots) posted by ``CLIENTS`` threads spread over the
replicas. Values: submissions per second (until the last POST answered) and
completed jobs per second (from the first POST until the database counts every
job COMPLETED). Baseline: one replica on the same database engine in the same run.

On 2 cores the replicas share the cores the single one already used, so more
replicas cannot add throughput here; the figure shows what the shared queue
costs (claims with SKIP LOCKED, NOTIFY between replicas) rather than what it
buys. On a machine with a core per replica (or a replica per machine) the
submissions, validations and runs of different replicas proceed in parallel.

Run ``python -m benchmarks replicas``.
"""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests
from sqlalchemy import create_engine, text

from benchmarks.common import ROOT, figure, free_port, tmp_dir
from prefect_ibmq.circuits import bell
from prefect_ibmq.wire import circuits_to_base64

TOKEN = "bench-token-0123456789"
JOBS = 600
CLIENTS = 8
COUNTS = (1, 2, 3)


@contextlib.contextmanager
def replicas(store_url: str, count: int) -> Iterator[list[str]]:
    """``count`` server processes on ``store_url``; yields their URLs."""
    procs, urls = [], []
    try:
        for index in range(count):
            data_dir = tmp_dir(f"replica{index}")
            config = data_dir / "config.json"
            config.write_text(json.dumps({
                "data_dir": str(data_dir), "store_url": store_url, "workers": 1, "simulation": "threads",
                "tokens": {TOKEN: {"user": "bench", "hub": "h", "group": "g", "project": "p"}},
                "backends": [{"name": "aer_simulator", "n_qubits": 2}],
            }))
            port = free_port()
            log = open(data_dir / "server.log", "wb")
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "prefect_ibmq.cli", "server", "--config", str(config),
                 "--port", str(port), "--log-level", "WARNING"],
                cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log,
            ))
            urls.append(f"http://127.0.0.1:{port}")
        for url, proc in zip(urls, procs, strict=False):
            deadline = time.monotonic() + 90
            while True:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"replica {url} did not start")
                with contextlib.suppress(requests.RequestException):
                    if requests.get(f"{url}/v1/health", timeout=2).ok:
                        break
                time.sleep(0.1)
        yield urls
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()


def _body() -> dict[str, Any]:
    return {"backend": "aer_simulator", "qpy": circuits_to_base64([bell()]), "options": {"shots": 4}}


def measure(store_url: str, count: int) -> tuple[float, float]:
    """(submissions/s, completed jobs/s) of ``count`` replicas."""
    body = _body()
    local = threading.local()
    with replicas(store_url, count) as urls:
        def submit(index: int) -> None:
            http = getattr(local, "http", None) or requests.Session()
            local.http = http
            answer = http.post(f"{urls[index % count]}/v1/jobs", json=body,
                               headers={"Authorization": f"Bearer {TOKEN}"}, timeout=120)
            answer.raise_for_status()

        engine = create_engine(store_url)
        started = time.perf_counter()
        with ThreadPoolExecutor(CLIENTS) as pool:
            list(pool.map(submit, range(JOBS)))
        submitted = time.perf_counter() - started
        done_sql = text("SELECT count(*) FROM jobs WHERE status = 'COMPLETED'")
        while True:
            with engine.connect() as conn:
                if conn.execute(done_sql).scalar() >= JOBS:
                    break
            time.sleep(0.05)
        completed = time.perf_counter() - started
        engine.dispose()
    return JOBS / submitted, JOBS / completed


def run() -> list[dict[str, Any]]:
    sys.path.insert(0, str(ROOT))
    from tests.pgcluster import PostgresCluster

    rates: dict[int, tuple[float, float]] = {}
    with PostgresCluster() as cluster:
        for count in COUNTS:
            rates[count] = measure(cluster.create_database(f"bench_{count}"), count)
            print(f"{count} replica(s): {rates[count][0]:.0f} submissions/s, {rates[count][1]:.0f} completed/s",
                  file=sys.stderr, flush=True)
    rows = []
    for count in COUNTS[1:]:
        for index, what in enumerate(("submissions", "completed jobs")):
            rows.append(figure(
                f"11. {what}/s, {JOBS} 1-circuit jobs, {count} replicas on PostgreSQL (vs 1 replica)",
                rates[count][index], rates[1][index], "report (2 cores: no gain possible)", True, unit="/s",
            ))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)

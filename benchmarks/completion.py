"""Figure 2: completion detection, from the server's COMPLETED timestamp to the client knowing.

Over 200 jobs: the time from the COMPLETED step in the job's ``time_per_step``
(server clock) to ``IBMQJob.wait_for_final_state`` returning (client clock; both on
this machine). Jobs run a random 0-200 ms (a backend with a 5 ms delay per
experiment, 1-40 experiments), so completion falls at a random point of any poll
interval. Four clients wait at once, each on its own jobs.

Baseline, in the same run and on the same kind of jobs: a loop calling ``status()``
and sleeping 0.5 s until the job is final (as prefect-qiskit does).

Target: median <= 20 ms, p95 <= 50 ms.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from benchmarks.common import figure, percentile, tmp_dir

N_JOBS = 200
CLIENTS = 4
POLL_S = 0.5
TOKEN = "bench-token-0123456789"


def _poll_loop(job: Any) -> None:
    while not job.in_final_state():
        time.sleep(POLL_S)


def _long_poll(job: Any) -> None:
    job.wait_for_final_state()


def _latencies(url: str, n_jobs: int, wait: Callable[[Any], None], seed: int) -> list[float]:
    from benchmarks.common import ghz
    from prefect_ibmq import IBMQService

    latencies: list[float] = []
    lock = threading.Lock()

    def client(index: int) -> None:
        rng = random.Random(seed + index)
        service = IBMQService(url=url, token=TOKEN)
        backend = service.backend("timed_simulator")
        for _ in range(n_jobs // CLIENTS):
            circuits = [ghz(2, i) for i in range(rng.randint(1, 40))]
            job = backend.run(circuits, shots=16)
            wait(job)
            known = time.time()
            completed = datetime.fromisoformat(job.record.time_per_step["COMPLETED"]).timestamp()
            with lock:
                latencies.append(known - completed)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(latencies) == n_jobs - n_jobs % CLIENTS, "every job was waited on"
    return latencies


def run(n_jobs: int = N_JOBS) -> list[dict[str, Any]]:
    from prefect_ibmq.server import BackendSpec, JobServer, ServerConfig
    from prefect_ibmq.server.config import LOCAL_IDENTITY

    config = ServerConfig(
        data_dir=tmp_dir("completion"),
        tokens={TOKEN: LOCAL_IDENTITY},
        backends=[BackendSpec(name="timed_simulator", n_qubits=5, experiment_delay_s=0.005)],
        workers=CLIENTS,
    )
    with JobServer(config) as server:
        _latencies(server.url, 8, _long_poll, seed=99)  # warm-up
        ours = _latencies(server.url, n_jobs, _long_poll, seed=1)
        polled = _latencies(server.url, n_jobs, _poll_loop, seed=1)
    ms = 1000.0
    median, p95 = percentile(ours, 50) * ms, percentile(ours, 95) * ms
    base_median, base_p95 = percentile(polled, 50) * ms, percentile(polled, 95) * ms
    label = f"completion detection, {n_jobs} jobs"
    return [
        figure(f"{label}: median", median, base_median, "<= 20 ms", median <= 20, unit="ms"),
        figure(f"{label}: p95", p95, base_p95, "<= 50 ms", p95 <= 50, unit="ms"),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)

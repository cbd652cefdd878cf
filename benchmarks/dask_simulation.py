"""Figure 7: simulation on a Dask cluster against the server's own simulator processes.

1,000 GHZ circuits of 2-5 qubits, 1,024 shots, as 10 jobs of 100 submitted at
once through the HTTP API to ``prefect-ibmq server --workers 2``, from the
first submit to the last result read. Value: the server simulating on a Dask
cluster of this machine (``dask scheduler`` and ``dask worker --nworkers 2
--nthreads 1``, the README's commands); baseline: the same server with its 2
simulator processes (the default).

On 2 cores this can only show the cost of Dask: both setups share the same two
cores, and Dask adds its scheduler and nanny processes, a pickle of each chunk
and of its counts through the scheduler, and a hop per chunk. What a cluster
buys is cores the server's machine does not have; see the README's
"Performance" notes.

Run ``python -m benchmarks dask_simulation``.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchmarks.common import figure, ghz_circuits, server_process, tmp_dir

TOKEN = "bench-token-0123456789"
N_CIRCUITS = 1000
PER_JOB = 100
SHOTS = 1024
WORKERS = 2
LOOPBACK = ["--host", "127.0.0.1", "--no-dashboard", "--dashboard-address", "127.0.0.1:0"]


@contextlib.contextmanager
def dask_cluster(workers: int) -> Iterator[str]:
    """``dask scheduler`` and ``dask worker --nworkers <workers> --nthreads 1`` on 127.0.0.1; yields the address."""
    from distributed import Client

    folder = tmp_dir("dask")
    scheduler_file = folder / "scheduler.json"
    dask = str(Path(sys.executable).with_name("dask"))
    log = open(folder / "cluster.log", "wb")
    commands = [
        [dask, "scheduler", "--port", "0", *LOOPBACK, "--scheduler-file", str(scheduler_file)],
        [dask, "worker", "--scheduler-file", str(scheduler_file), "--nworkers", str(workers), "--nthreads", "1",
         *LOOPBACK, "--local-directory", str(folder)],
    ]
    processes: list[subprocess.Popen] = []
    try:
        processes.append(subprocess.Popen(commands[0], stdout=log, stderr=log, start_new_session=True))
        deadline = time.monotonic() + 60
        while not scheduler_file.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"no Dask scheduler within 60 s; see {folder / 'cluster.log'}")
            time.sleep(0.1)  # waiting for the scheduler to write its address
        address = json.loads(scheduler_file.read_text())["address"]
        processes.append(subprocess.Popen(commands[1], stdout=log, stderr=log, start_new_session=True))
        with Client(address, timeout=60, set_as_default=False) as client:
            client.wait_for_workers(workers, timeout=60)
        yield address
    finally:
        for process in reversed(processes):
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()


def throughput(url: str, circuits: list) -> float:
    """Seconds from the first submit of all jobs to the last result read (after a warm-up job)."""
    from prefect_ibmq import IBMQService

    backend = IBMQService(url=url, token=TOKEN).backend("aer_simulator")
    backend.run(circuits[:8], shots=SHOTS).result()  # warm-up: the simulators import qiskit
    start = time.perf_counter()
    jobs = [backend.run(circuits[i : i + PER_JOB], shots=SHOTS) for i in range(0, len(circuits), PER_JOB)]
    counts = [job.result().get_counts() for job in jobs]
    elapsed = time.perf_counter() - start
    assert sum(len(c) for c in counts) == len(circuits), "every circuit has counts"
    return elapsed


def run(n_circuits: int = N_CIRCUITS) -> list[dict[str, Any]]:
    """Measure figure 10 (~1 minute on 2 cores)."""
    circuits = ghz_circuits(n_circuits)
    with server_process(TOKEN, workers=WORKERS) as url:
        processes_s = throughput(url, circuits)
    with dask_cluster(WORKERS) as address:
        config = {"simulation": "dask", "dask_scheduler": address}
        with server_process(TOKEN, workers=WORKERS, config=config) as url:
            dask_s = throughput(url, circuits)
    label = (f"{n_circuits:,} GHZ circuits ({n_circuits // PER_JOB} jobs, {SHOTS} shots): Dask cluster "
             f"({WORKERS} workers x 1 thread, this machine) / {WORKERS} simulator processes")
    return [figure(label, dask_s, processes_s, "report (same 2 cores: no gain possible)", True)]


if __name__ == "__main__":
    for row in run():
        print(row)

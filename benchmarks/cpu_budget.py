"""CPU per circuit of the job server process and of its simulator processes (README's budget table).

Submits N GHZ circuits (2-5 qubits, 1,024 shots) in jobs of 300 from 4 client threads to
``prefect-ibmq server`` in its own process, waits on the long-poll, reads every result,
and prints CPU microseconds per circuit of the server process and of its simulator
processes (``psutil`` process times, so the machine's other load does not count) and of
the clients reading results. Not a ``make bench`` figure (it reports, it has no baseline):
run ``python -m benchmarks.cpu_budget 3000`` on old and new code back to back.
"""

from __future__ import annotations

import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import psutil
from qiskit.result import Result

from benchmarks.common import ghz_circuits, server_process
from prefect_ibmq.api import AccountClient
from prefect_ibmq.wire import JobSubmission, RunOptions, circuits_to_base64

TOKEN = "bench-token-0123456789"
PER_JOB = 300


def cpu_seconds(processes: list[psutil.Process]) -> dict[int, float]:
    """User + system CPU seconds of each live process, by pid."""
    seconds = {}
    for process in processes:
        try:
            times = process.cpu_times()
        except psutil.NoSuchProcess:
            continue
        seconds[process.pid] = times.user + times.system
    return seconds


class Clients:
    """Runs one job per submission, from its own client, and adds up the CPU spent reading results."""

    def __init__(self, url: str) -> None:
        self.url, self.result_cpu, self._lock = url, 0.0, threading.Lock()

    def run(self, submission: JobSubmission, key: str) -> int:
        """Submit, wait on the long-poll, read the result; returns its experiments."""
        client = AccountClient(self.url, TOKEN)
        job_id = client.submit_job(submission, key).job_id
        while not client.get_job_status(job_id, wait=30, until_final=True).status.is_final:
            pass
        started = time.thread_time()
        experiments = len(Result.from_dict(client.get_job_result(job_id)).get_counts())
        with self._lock:
            self.result_cpu += time.thread_time() - started
        return experiments


def main(n: int = 3000, repeats: int = 2) -> None:
    """Print the budget of ``repeats`` runs of ``n`` circuits."""
    circuits = ghz_circuits(n)
    options = RunOptions(shots=1024)
    jobs = [JobSubmission(backend="aer_simulator", qpy=circuits_to_base64(circuits[i:i + PER_JOB]), options=options)
            for i in range(0, n, PER_JOB)]
    with server_process(token=TOKEN) as url:
        clients = Clients(url)
        warm = JobSubmission(backend="aer_simulator", qpy=circuits_to_base64(circuits[:8]), options=options)
        clients.run(warm, "warm-up")
        server = next(p for p in psutil.Process().children() if "prefect_ibmq.cli" in " ".join(p.cmdline()))
        for repeat in range(repeats):
            processes = [server, *server.children(recursive=True)]
            before, clients.result_cpu = cpu_seconds(processes), 0.0
            started = time.perf_counter()
            with ThreadPoolExecutor(4) as pool:
                done = list(pool.map(clients.run, jobs, [f"budget-{repeat}-{k}" for k in range(len(jobs))]))
            wall = time.perf_counter() - started
            after = cpu_seconds(processes)
            if sum(done) != n:
                raise RuntimeError(f"{sum(done)} experiments read back for {n} circuits")
            served = after[server.pid] - before[server.pid]
            simulated = sum(after[pid] - before.get(pid, 0.0) for pid in after if pid != server.pid)
            print(f"{n} circuits: wall {wall:.2f} s; CPU per circuit: server {served * 1e6 / n:.0f} us, "
                  f"simulator processes {simulated * 1e6 / n:.0f} us, "
                  f"clients reading results {clients.result_cpu * 1e6 / n:.0f} us", flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)

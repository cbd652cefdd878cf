"""Figure 5: the job server under load, on this 2-core machine.

The server runs as its own process (``prefect-ibmq server``); clients are threads of
this process, each with its own ``IBMQService`` (its own HTTP session).

- Submissions per second from 8 concurrent clients (one-circuit jobs, each client
  submitting its share), against one client submitting alone (baseline).
- p99 latency of ``status()`` while 32 waiters long-poll jobs that stay queued or
  running (a backend whose experiments take 60 s), against the same probe with no
  waiters (baseline).
- Afterwards the server must hold exactly the submitted jobs: listed by the run's
  tag, no job lost and none twice.
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import Any

from benchmarks.common import figure, ghz, percentile, server_process

TOKEN = "bench-token-0123456789"
CLIENTS = 8
JOBS_PER_CLIENT = 50
WAITERS = 32
PROBES = 300


def _submit(url: str, n_clients: int, per_client: int, tag: str) -> tuple[float, list[str]]:
    from prefect_ibmq import IBMQService

    backends = [IBMQService(url=url, token=TOKEN).backend("aer_simulator") for _ in range(n_clients)]
    circuit = ghz(2)
    ids: list[str] = []
    lock = threading.Lock()
    start_line = threading.Barrier(n_clients + 1)

    def client(backend: Any) -> None:
        start_line.wait()
        mine = [backend.run([circuit], shots=16, job_tags=[tag]).job_id() for _ in range(per_client)]
        with lock:
            ids.extend(mine)

    threads = [threading.Thread(target=client, args=(b,)) for b in backends]
    for thread in threads:
        thread.start()
    start_line.wait()
    start = time.perf_counter()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    return len(ids) / elapsed, ids


def _probe_latencies(url: str, job_id: str, n: int) -> list[float]:
    from prefect_ibmq.api import AccountClient

    client = AccountClient(url, TOKEN)
    latencies = []
    for _ in range(n):
        start = time.perf_counter()
        client.job_status(job_id)
        latencies.append(time.perf_counter() - start)
    client.close()
    return latencies


def _with_waiters(url: str, n_waiters: int, probe_job: str) -> list[float]:
    """Probe status latency while ``n_waiters`` threads long-poll slow jobs."""
    from prefect_ibmq import IBMQService
    from prefect_ibmq.api import AccountClient

    backend = IBMQService(url=url, token=TOKEN).backend("slow_simulator")
    jobs = [backend.run([ghz(2)], shots=16) for _ in range(n_waiters)]
    stop = threading.Event()
    polls = [0]

    def waiter(job_id: str) -> None:
        client = AccountClient(url, TOKEN)
        while not stop.is_set():
            client.job_status(job_id, wait=2.0)
            polls[0] += 1
        client.close()

    threads = [threading.Thread(target=waiter, args=(job.job_id(),)) for job in jobs]
    for thread in threads:
        thread.start()
    time.sleep(1.0)  # every waiter is parked in its long-poll
    try:
        return _probe_latencies(url, probe_job, PROBES)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for job in jobs:
            job.cancel()


def _drain(url: str) -> None:
    """Wait until the submitted jobs have run, so the probes measure the waiters, not the executor."""
    from prefect_ibmq.api import AccountClient

    client = AccountClient(url, TOKEN)
    deadline = time.monotonic() + 120
    while client.backend_status("aer_simulator").pending_jobs and time.monotonic() < deadline:
        time.sleep(0.2)
    client.close()


def run() -> list[dict[str, Any]]:
    from prefect_ibmq import IBMQService

    config = {"backends": [{"name": "aer_simulator"},
                           {"name": "slow_simulator", "n_qubits": 5, "experiment_delay_s": 60.0}]}
    tag = f"load-{uuid.uuid4().hex[:8]}"
    with server_process(token=TOKEN, config=config) as url:
        _submit(url, 2, 2, tag)  # warm-up (its jobs carry the tag too)
        single, single_ids = _submit(url, 1, JOBS_PER_CLIENT * 2, tag)
        many, many_ids = _submit(url, CLIENTS, JOBS_PER_CLIENT, tag)
        probe = single_ids[0]
        _drain(url)
        quiet = _probe_latencies(url, probe, PROBES)
        busy = _with_waiters(url, WAITERS, probe)
        listed = [job.job_id() for job in IBMQService(url=url, token=TOKEN).jobs(limit=1000, job_tags=[tag])]
    submitted = set(single_ids) | set(many_ids)
    assert len(single_ids) + len(many_ids) == len(submitted), "a job id was given out twice"
    assert len(listed) == len(set(listed)), "the server lists a job twice"
    listed_ids = set(listed)
    extra = listed_ids - submitted
    assert len(extra) == 4, f"warm-up jobs aside, the server holds jobs nobody submitted: {len(extra) - 4}"
    assert submitted <= listed_ids, f"the server lost {len(submitted - listed_ids)} jobs"
    p99, base_p99 = percentile(busy, 99) * 1000, percentile(quiet, 99) * 1000
    return [
        figure(f"server: submissions/s, {CLIENTS} clients (baseline 1 client)", many, single,
               "report (no loss, no duplicate: checked)", True, unit="jobs/s"),
        figure(f"server: p99 status latency, {WAITERS} long-polling waiters (baseline none)", p99, base_p99,
               "report", True, unit="ms"),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)

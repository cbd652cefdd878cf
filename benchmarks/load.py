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

``met`` is computed from each target: 8 clients at least as fast as one, with no job
lost or doubled; the p99 with waiters at most twice the quiet one, and all 32 waiters
counted as parked by the server (``GET /v1/stats``) before and after the probes. The
executor is drained before each measured run, so both see the same (idle) background.
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
WARM_UP_JOBS = 4
#: Each waiter's long-poll (s): longer than the probes take, so all stay parked meanwhile.
WAITER_POLL_S = 30.0
#: The waiters cost one asyncio Event each: they may not even double the probe's p99.
MAX_LATENCY_RATIO = 2.0


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
        client.get_job_status(job_id)
        latencies.append(time.perf_counter() - start)
    client.close()
    return latencies


def _parked(url: str) -> int:
    """Status requests parked in a long-poll on the server now (``GET /v1/stats``)."""
    import requests

    answer = requests.get(f"{url}/v1/stats", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
    answer.raise_for_status()
    return int(answer.json()["long_polls_waiting"])


def _until_parked(url: str, n: int, limit_s: float = 60.0) -> int:
    deadline = time.monotonic() + limit_s
    while (parked := _parked(url)) < n:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {parked} of {n} waiters parked in a long-poll after {limit_s} s")
        time.sleep(0.05)
    return parked


def _with_waiters(url: str, n_waiters: int, probe_job: str) -> tuple[list[float], dict[str, int]]:
    """Probe status latency while ``n_waiters`` threads long-poll slow jobs (checked parked on the server)."""
    from prefect_ibmq import IBMQService
    from prefect_ibmq.api import AccountClient

    backend = IBMQService(url=url, token=TOKEN).backend("slow_simulator")
    jobs = [backend.run([ghz(2)], shots=16) for _ in range(n_waiters)]
    stop = threading.Event()
    polls = [0] * n_waiters  # one counter per waiter: no shared increment

    def waiter(index: int, job_id: str) -> None:
        client = AccountClient(url, TOKEN)
        status = client.get_job_status(job_id).status
        while not stop.is_set():
            # Longer than the probes take: each waiter stays parked until its job changes.
            status = client.get_job_status(job_id, wait=WAITER_POLL_S, known=status).status
            polls[index] += 1
        client.close()

    threads = [threading.Thread(target=waiter, args=(i, job.job_id())) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    try:
        parked_before = _until_parked(url, n_waiters)
        latencies = _probe_latencies(url, probe_job, PROBES)
        parked_after = _parked(url)
    finally:
        stop.set()
        for job in jobs:
            job.cancel()  # a change of status: every parked long-poll answers at once
        for thread in threads:
            thread.join()
    return latencies, {"parked_before": parked_before, "parked_after": parked_after, "polls": sum(polls)}


def _drain(url: str) -> None:
    """Wait until the submitted jobs have run, so the probes measure the waiters, not the executor."""
    from prefect_ibmq.api import AccountClient

    client = AccountClient(url, TOKEN)
    deadline = time.monotonic() + 120
    while client.get_backend_status("aer_simulator").pending_jobs and time.monotonic() < deadline:
        time.sleep(0.2)
    client.close()


def run() -> list[dict[str, Any]]:
    from prefect_ibmq import IBMQService

    config = {"backends": [{"name": "aer_simulator"},
                           {"name": "slow_simulator", "n_qubits": 5, "experiment_delay_s": 60.0}]}
    tag = f"load-{uuid.uuid4().hex[:8]}"
    with server_process(token=TOKEN, config=config) as url:
        _submit(url, 2, 2, tag)  # warm-up (its jobs carry the tag too)
        _drain(url)  # each run starts with the executor idle: the same background for both
        single, single_ids = _submit(url, 1, JOBS_PER_CLIENT * 2, tag)
        _drain(url)
        many, many_ids = _submit(url, CLIENTS, JOBS_PER_CLIENT, tag)
        probe = single_ids[0]
        _drain(url)
        quiet = _probe_latencies(url, probe, PROBES)
        busy, waiting = _with_waiters(url, WAITERS, probe)
        listed = [job.job_id() for job in IBMQService(url=url, token=TOKEN).jobs(limit=1000, job_tags=[tag])]
    submitted = set(single_ids) | set(many_ids)
    integrity = {
        "ids_given_twice": len(single_ids) + len(many_ids) - len(submitted),
        "listed_twice": len(listed) - len(set(listed)),
        "lost": len(submitted - set(listed)),
        "unknown": len(set(listed) - submitted) - WARM_UP_JOBS,
    }
    p99, base_p99 = percentile(busy, 99) * 1000, percentile(quiet, 99) * 1000
    all_parked = waiting["parked_before"] == waiting["parked_after"] == WAITERS
    return [
        figure(f"server: submissions/s, {CLIENTS} clients (baseline 1 client)", many, single,
               "ratio >= 1; no job lost or doubled", many >= single and not any(integrity.values()),
               unit="jobs/s", **integrity),
        figure(f"server: p99 status latency, {WAITERS} long-polling waiters (baseline none)", p99, base_p99,
               f"ratio <= {MAX_LATENCY_RATIO}; all {WAITERS} waiters parked", p99 <= MAX_LATENCY_RATIO * base_p99
               and all_parked, unit="ms", **waiting),
    ]


if __name__ == "__main__":
    for row in run():
        print(row)

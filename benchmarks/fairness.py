"""Figure 13: another identity's latency while one identity floods the server, with the default limits.

``prefect-ibmq server`` in its own process, as configured by default (issue 18's
``[limits]``: 100 requests/s and a burst of 200 per identity, 4 served at once).
The flooder is 16 threads listing its 200 jobs (``GET /v1/jobs?limit=50``) as fast
as answers come; the bystander, another identity, reads one of its jobs 20 times
a second. The flood runs in windows interleaved with idle ones (the load the rest
of a shared machine adds falls on both alike); the figure is the bystander's median
latency under the flood against its median when idle, and its 90th percentile the
same way (recorded beside it). Target: within 2x (issue 18, "fairness under load").
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import Counter
from typing import Any

import requests

from benchmarks.common import figure, ghz, percentile, server_process

FLOODER = "bench-flooder-0123456789"
BYSTANDER = "bench-bystander-0123456789"
FLOODERS = 16
JOBS = 200
ROUNDS, WINDOW_S = 5, 2.0
MAX_RATIO = 2.0


def _read(url: str, job_id: str, seconds: float, into: list[float]) -> None:
    headers = {"Authorization": f"Bearer {BYSTANDER}"}
    with requests.Session() as http:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            started = time.perf_counter()
            answer = http.get(f"{url}/v1/jobs/{job_id}", headers=headers, timeout=60)
            into.append(time.perf_counter() - started)
            if answer.status_code != 200:
                raise RuntimeError(f"the bystander was answered {answer.status_code}: {answer.text[:200]}")
            time.sleep(0.05)


def _flood(url: str, stop: threading.Event, answers: Counter) -> None:
    headers = {"Authorization": f"Bearer {FLOODER}"}
    with requests.Session() as http:
        while not stop.is_set():
            answers[http.get(f"{url}/v1/jobs", params={"limit": 50}, headers=headers, timeout=60).status_code] += 1


def run() -> list[dict[str, Any]]:
    """The bystander's median and p90 latency under a flood, each against idle."""
    from prefect_ibmq.wire import circuits_to_base64

    config = {"tokens": {BYSTANDER: {"user": "bystander", "hub": "h2", "group": "g2", "project": "p2"}}, "workers": 1}
    with server_process(token=FLOODER, config=config) as url:
        body = {"backend": "aer_simulator", "qpy": circuits_to_base64([ghz(2)]), "options": {"shots": 4}}
        with requests.Session() as http:
            for index in range(JOBS):  # slower than the flooder's rate: its bucket stays full
                answer = http.post(f"{url}/v1/jobs", json=body, headers={"Authorization": f"Bearer {FLOODER}"})
                answer.raise_for_status()
                if index % 50 == 49:
                    time.sleep(1.0)
            job_id = http.post(f"{url}/v1/jobs", json=body,
                               headers={"Authorization": f"Bearer {BYSTANDER}"}).json()["job_id"]
        time.sleep(3.0)  # the flooder's bucket full again: each flood starts with its whole burst
        idle: list[float] = []
        flooded: list[float] = []
        answers: Counter = Counter()
        for _ in range(ROUNDS):
            _read(url, job_id, WINDOW_S, idle)
            stop = threading.Event()
            threads = [threading.Thread(target=_flood, args=(url, stop, answers)) for _ in range(FLOODERS)]
            for thread in threads:
                thread.start()
            _read(url, job_id, WINDOW_S, flooded)
            stop.set()
            for thread in threads:
                thread.join()
            time.sleep(WINDOW_S)  # its burst back before the next idle window ends
    median_idle, median_flood = statistics.median(idle), statistics.median(flooded)
    p90_idle, p90_flood = percentile(idle, 90), percentile(flooded, 90)
    note = f"{FLOODERS} flooding threads, default limits"
    return [
        figure(f"bystander median latency under a flood from another identity ({note})",
               median_flood, median_idle, f"<= {MAX_RATIO:g}x idle", met=median_flood <= MAX_RATIO * median_idle,
               p90_idle_s=round(p90_idle, 4), p90_flood_s=round(p90_flood, 4), flood_answers=dict(answers),
               bystander_reads=len(idle) + len(flooded)),
    ]

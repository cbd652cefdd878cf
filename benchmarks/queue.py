"""Figure 14: the queue at depth, on SQLite and on PostgreSQL.

- Claim of the next job (``FairshareQueue.claim``) with 1,000 / 10,000 / 100,000 jobs queued
  by 10 projects on one backend, median of ``CLAIMS``; baseline: the same at 1,000.
- ``FairshareQueue.info`` (position and estimates) of the last job in the queue at the same
  depths, median of ``INFOS``; baseline: at 1,000.
- First page of ``GET /v1/jobs?limit=50`` over HTTP with 100,000 jobs stored (10 projects,
  the caller's own 10,000 among them, in sweeps of 1,000 jobs tagged ``ibmq_jobset_<n>``), with
  and without a tag filter (the caller's newest sweep), median of ``PAGES``; baseline: the same
  page with 1,000 jobs stored.
- Drain: one replica (``JobServer``, its default simulator processes and workers, warmed by one
  job) completing one-circuit jobs (a Bell pair, 16 shots) from a queue of 10,000, against the
  same with 100 queued; jobs per second from the first claim to the last completion
  (``started_at`` and ``finished_at`` of the rows). ``make bench`` completes the first ``DRAIN_WINDOW`` of the
  10,000 (the queue stays over 9,000 deep throughout; ``BENCH_DRAIN_WINDOW`` sets another number);
  ``BENCH_LARGE=1`` completes all of them.

Jobs are inserted as rows (``benchmarks/queue_fill.py``); every claim, position and page goes
through the service's own code. Run ``python -m benchmarks queue``.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import requests
from sqlalchemy import func, select

from benchmarks.common import ROOT, figure, tmp_dir
from benchmarks.queue_fill import BACKEND, PROJECTS, Filler
from prefect_ibmq.server.queue import FairshareQueue
from prefect_ibmq.server.schema import jobs
from prefect_ibmq.server.store import Store

DEPTHS = (1_000, 10_000, 100_000)
CLAIMS = 30
INFOS = 10
PAGES = 20
STORED = 100_000
SWEEP = 1_000
DRAIN_JOBS = 10_000
DRAIN_BASELINE = 100
DRAIN_WINDOW = int(os.environ.get("BENCH_DRAIN_WINDOW", "1000"))
TOKEN = "bench-token-0123456789"


def _median_ms(fn: Callable[[], Any], times: int) -> float:
    fn()  # warm: statements built, pages cached
    taken = []
    for _ in range(times):
        started = time.perf_counter()
        fn()
        taken.append(time.perf_counter() - started)
    return statistics.median(taken) * 1000


@contextmanager
def _engines() -> Iterator[Callable[[str], str | None]]:
    """Yields ``url(name)``: None for SQLite (the store's file), a fresh PostgreSQL database otherwise."""
    sys.path.insert(0, str(ROOT))
    from tests.pgcluster import PostgresCluster

    with PostgresCluster() as cluster:
        yield lambda name: cluster.create_database(name)


def claims_and_positions(url: str | None) -> dict[int, tuple[float, float]]:
    """Depth -> (claim ms, info-of-the-last-job ms)."""
    store = Store(tmp_dir("queue"), url, origin="bench")
    try:
        filler = Filler(store)
        queue = FairshareQueue(store, {BACKEND: 0.01}, workers=2)
        out = {}
        for depth in DEPTHS:
            queued = _count(store, "QUEUED")
            ids = filler.add(depth - queued, "QUEUED")
            last = ids[-1]
            info = queue.info(last)
            assert info is not None and info.position == depth, (depth, info)
            info_ms = _median_ms(lambda last=last: queue.info(last), INFOS)
            claim_ms = _median_ms(lambda: queue.claim("bench"), CLAIMS)
            out[depth] = (claim_ms, info_ms)
            print(f"  depth {depth}: claim {claim_ms:.2f} ms, info {info_ms:.2f} ms", file=sys.stderr, flush=True)
        return out
    finally:
        store.close()


def _count(store: Store, status: str, *where: Any) -> int:
    with store.engine.connect() as conn:
        query = select(func.count()).select_from(jobs).where(jobs.c.status == status, *where)
        return int(conn.execute(query).scalar_one())


@contextmanager
def _server(url: str | None, data_dir: Any = None, **config: Any) -> Iterator[Any]:
    from prefect_ibmq.server import JobServer
    from prefect_ibmq.server.config import BackendSpec, ServerConfig

    settings: dict[str, Any] = {
        "data_dir": data_dir or tmp_dir("queue-server"), "store_url": url,
        "tokens": {TOKEN: PROJECTS[0]}, "backends": [BackendSpec(name=BACKEND, kind="ideal", n_qubits=5)],
    }
    settings.update(config)
    server = JobServer(ServerConfig(**settings)).start()
    try:
        yield server
    finally:
        server.stop()


def listing(url_for: Callable[[str], str | None], engine: str) -> dict[tuple[int, bool], float]:
    """(jobs stored, tag filter) -> ms of the first page of ``GET /v1/jobs?limit=50``."""
    out = {}
    for stored in (SWEEP, STORED):
        data_dir = tmp_dir("listing")
        url = url_for(f"listing_{stored}") if engine == "postgresql" else None
        store = Store(data_dir, url, origin="fill")
        Filler(store).add(stored, "COMPLETED", tags=lambda index: [f"ibmq_jobset_{index // SWEEP}"])
        store.close()
        newest_sweep = f"ibmq_jobset_{(stored - 1) // SWEEP}"
        with _server(url, data_dir, workers=1, simulation="threads") as server:
            http = requests.Session()
            http.headers["Authorization"] = f"Bearer {TOKEN}"
            for tagged in (False, True):
                params: dict[str, Any] = {"limit": 50, **({"tags": newest_sweep} if tagged else {})}

                def page(params: dict[str, Any] = params, http: requests.Session = http) -> None:
                    answer = http.get(f"{server.url}/v1/jobs", params=params, timeout=60)
                    answer.raise_for_status()
                    assert len(answer.json()["jobs"]) == 50

                out[(stored, tagged)] = _median_ms(page, PAGES)
                print(f"  {stored} stored, tag filter {tagged}: {out[(stored, tagged)]:.1f} ms",
                      file=sys.stderr, flush=True)
            http.close()
    return out


def drain(url_for: Callable[[str], str | None], engine: str) -> dict[int, float]:
    """Jobs queued -> jobs completed per second by one replica (its simulator processes warmed by one job first)."""
    large = os.environ.get("BENCH_LARGE") == "1"
    out = {}
    for queued in (DRAIN_BASELINE, DRAIN_JOBS):
        data_dir = tmp_dir("drain")
        url = url_for(f"drain_{queued}") if engine == "postgresql" else None
        wanted = queued if large or queued == DRAIN_BASELINE else min(queued, DRAIN_WINDOW)
        with _server(url, data_dir, prestart_simulators=True) as server:
            _one_job(server.url)
            store = Store(data_dir, url, origin="fill")
            Filler(store).add(queued, "QUEUED", with_circuits=True)  # the workers look within a second
            filled = jobs.c.job_id.like("job%")
            while _count(store, "COMPLETED", filled) < wanted:
                time.sleep(0.2)
        with store.engine.connect() as conn:
            first, last, done = conn.execute(
                select(func.min(jobs.c.started_at), func.max(jobs.c.finished_at), func.count())
                .where(jobs.c.status == "COMPLETED", filled)
            ).one()
        store.close()
        out[queued] = done / (last - first)
        print(f"  {queued} queued: {done} completed at {out[queued]:.1f} jobs/s", file=sys.stderr, flush=True)
    return out


def _one_job(url: str) -> None:
    """A Bell pair through HTTP, waited for: the simulator processes are up and warm."""
    from prefect_ibmq.circuits import bell
    from prefect_ibmq.wire import circuits_to_base64

    headers = {"Authorization": f"Bearer {TOKEN}"}
    body = {"backend": BACKEND, "qpy": circuits_to_base64([bell()]), "options": {"shots": 16}}
    job = requests.post(f"{url}/v1/jobs", json=body, headers=headers, timeout=60).json()
    answer = requests.get(f"{url}/v1/jobs/{job['job_id']}/status", params={"wait": 60, "until": "final"},
                          headers=headers, timeout=90).json()
    assert answer["status"] == "COMPLETED", answer


def run() -> list[dict[str, Any]]:
    rows = []
    with _engines() as url_for:
        for engine in ("sqlite", "postgresql"):
            print(f"{engine}:", file=sys.stderr, flush=True)
            url = url_for(f"queue_{engine}") if engine == "postgresql" else None
            depth = claims_and_positions(url)
            base_claim, base_info = depth[DEPTHS[0]]
            for n in DEPTHS:
                claim_ms, info_ms = depth[n]
                rows.append(figure(f"14. claim of the next job, {n:,} queued, {engine} (vs 1,000)", claim_ms,
                                   base_claim, "<= 5 ms; 100k/1k <= 2", claim_ms <= 5 and claim_ms / base_claim <= 2,
                                   unit="ms"))
            for n in DEPTHS:
                info_ms = depth[n][1]
                rows.append(figure(f"14. queue_info of the last job, {n:,} queued, {engine} (vs 1,000)", info_ms,
                                   base_info, "<= 20 ms", info_ms <= 20, unit="ms"))
            pages = listing(url_for, engine)
            for tagged in (False, True):
                what = "tag filter" if tagged else "no filter"
                value, base = pages[(STORED, tagged)], pages[(SWEEP, tagged)]
                rows.append(figure(f"14. GET /v1/jobs?limit=50, {STORED:,} jobs stored, {what}, {engine} (vs 1,000)",
                                   value, base, "<= 50 ms", value <= 50, unit="ms"))
            rates = drain(url_for, engine)
            window = "" if os.environ.get("BENCH_LARGE") == "1" else f" (first {DRAIN_WINDOW:,})"
            rows.append(figure(f"14. drain: jobs/s completed from {DRAIN_JOBS:,} queued{window}, one replica, "
                               f"{engine} (vs {DRAIN_BASELINE} queued)", rates[DRAIN_JOBS], rates[DRAIN_BASELINE],
                               ">= 40 /s, not slower than 100 queued",
                               rates[DRAIN_JOBS] >= 40 and rates[DRAIN_JOBS] >= 0.9 * rates[DRAIN_BASELINE],
                               unit="/s"))
    return rows


if __name__ == "__main__":
    for row in run():
        print(row)

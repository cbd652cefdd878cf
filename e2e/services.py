"""The services of ``make e2e``, as a lab runs them past one machine (README, "The whole stack").

One PostgreSQL cluster (``e2e/postgres.py``) holds two databases: ``prefect`` for the
Prefect server and ``jobs`` for the job service. A Dask scheduler with two worker
processes (one thread each) simulates; two job-service replicas share the ``jobs``
database and the Dask cluster. A job service without ``--store-url`` (an older store)
runs as one replica on its SQLite data dir instead, and the run says so.
"""

from __future__ import annotations

import json
import secrets
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from e2e.postgres import E2EPostgres
from e2e.procs import BIN, Processes, free_port, log, wait_until

DASK_WORKERS = 2
REPLICAS = 2
#: Only loopback, no dashboard (its HTTP server would otherwise listen on every interface).
DASK_LOOPBACK = ["--host", "127.0.0.1", "--no-dashboard", "--dashboard-address", "127.0.0.1:0"]
#: The Dask scheduler's name for the job service's chunks (client.submit keys them after the function).
CHUNK_TASK = "simulate_qpy-"
START_LIMIT_S = 120


@dataclass
class Stack:
    """Where each service of the running stack answers."""

    ui: str
    job_urls: list[str]
    token: str
    postgres: E2EPostgres
    dask_scheduler: str
    dask: object = field(repr=False)  # a distributed.Client recording the scheduler's task stream

    @property
    def shared_store(self) -> bool:
        """Whether the job service runs as replicas on PostgreSQL (else one replica on SQLite)."""
        return len(self.job_urls) > 1


def start_stack(procs: Processes, out: Path, env: dict[str, str]) -> Stack:
    """Start PostgreSQL, the Prefect server on it, the Dask cluster and the job-service replicas."""
    postgres = E2EPostgres(record_dir_in=out)
    procs.afterwards.append(lambda: postgres.stop(keep_log_as=out / "logs" / "postgres.log"))
    postgres.start()
    for database in ("prefect", "jobs"):
        postgres.create_database(database)
    log(f"PostgreSQL {postgres.bin.parent.name} on 127.0.0.1:{postgres.port} (folder {postgres.root})")
    ui, server = _start_prefect_server(procs, env, postgres)
    scheduler, dask = _start_dask(procs, out, env)
    token = secrets.token_urlsafe(24)
    job_urls = _start_job_service(procs, out, env, postgres, scheduler, token)
    env.update(PREFECT_IBMQ_URL=job_urls[0], PREFECT_IBMQ_TOKEN=token)
    wait_until("Prefect server", lambda: httpx.get(f"{ui}/api/health", timeout=2).is_success, START_LIMIT_S,
               alive=server)
    log(f"Prefect server at {ui} on PostgreSQL, job service at {', '.join(job_urls)}, Dask at {scheduler}")
    return Stack(ui, job_urls, token, postgres, scheduler, dask)


def _start_prefect_server(procs: Processes, env: dict[str, str], postgres: E2EPostgres) -> tuple[str, object]:
    port = free_port()
    ui = f"http://127.0.0.1:{port}"
    env.update(PREFECT_API_URL=f"{ui}/api", PREFECT_UI_API_URL=f"{ui}/api", PREFECT_UI_URL=ui)
    # Only the server talks to the database; workers and flow runs only to its API.
    server_env = dict(env, PREFECT_API_DATABASE_CONNECTION_URL=postgres.url("prefect", "asyncpg"))
    server = procs.start("prefect-server", [str(BIN / "prefect"), "server", "start", "--host", "127.0.0.1",
                                            "--port", str(port)], server_env)
    return ui, server


def _start_dask(procs: Processes, out: Path, env: dict[str, str]) -> tuple[str, object]:
    """``dask scheduler`` and ``dask worker --nworkers 2 --nthreads 1``, as the README runs them."""
    from distributed import Client

    folder = out / "dask"
    folder.mkdir()
    scheduler_file = folder / "scheduler.json"
    # Port 0 and a scheduler file: the scheduler picks a free port and tells the workers.
    scheduler = procs.start("dask-scheduler", [str(BIN / "dask"), "scheduler", "--port", "0", *DASK_LOOPBACK,
                                               "--scheduler-file", str(scheduler_file)], env)
    wait_until("Dask scheduler", scheduler_file.exists, 60, every=0.2, alive=scheduler)
    address = json.loads(scheduler_file.read_text())["address"]
    procs.start("dask-workers", [str(BIN / "dask"), "worker", address, "--nworkers", str(DASK_WORKERS),
                                 "--nthreads", "1", *DASK_LOOPBACK, "--local-directory", str(folder)], env)
    client = Client(address, timeout=START_LIMIT_S, set_as_default=False)
    client.get_task_stream()  # the scheduler records tasks from now on
    client.wait_for_workers(DASK_WORKERS, timeout=START_LIMIT_S)
    return address, client


def _has_store_url() -> bool:
    helped = subprocess.run([str(BIN / "prefect-ibmq"), "server", "--help"], capture_output=True, text=True,
                            timeout=60, stdin=subprocess.DEVNULL)
    return "--store-url" in helped.stdout


def _start_job_service(procs: Processes, out: Path, env: dict[str, str], postgres: E2EPostgres,
                       scheduler: str, token: str) -> list[str]:
    if _has_store_url():
        store, replicas = ["--store-url", postgres.url("jobs")], REPLICAS
    else:
        log("this job service has no --store-url: ONE replica on SQLite instead of two on PostgreSQL")
        store, replicas = [], 1
    urls, started = [], []
    for index in range(replicas):
        port = free_port()
        urls.append(f"http://127.0.0.1:{port}")
        # Each replica still has a data dir of its own (its lock file; the SQLite store without --store-url).
        started.append(procs.start(f"job-service-{index}", [
            str(BIN / "prefect-ibmq"), "server", "--port", str(port), "--token", token,
            "--data-dir", str(out / f"job-service-{index}"), "--dask-scheduler", scheduler, *store], env))
    for url, proc in zip(urls, started, strict=False):
        wait_until(f"job service {url}", lambda u=url: httpx.get(f"{u}/v1/health", timeout=2).is_success,
                   START_LIMIT_S, alive=proc)
    return urls


def chunks_run(stack: Stack, since: float) -> list[dict]:
    """The scheduler's task-stream records of the job service's chunks finished after ``since`` (time.time())."""
    records = stack.dask.get_task_stream(start=since)  # type: ignore[attr-defined]
    return [r for r in records if str(r["key"]).startswith(CHUNK_TASK)]

"""Replicas (``prefect-ibmq server`` processes) sharing one PostgreSQL database.

Every job runs exactly once however the submissions spread over the replicas (the
claim count ``jobs.runs`` is read from the database), and the job of a replica
SIGKILLed mid-run is requeued by the reaper and completed by another replica.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from sqlalchemy import create_engine, text

from prefect_ibmq.circuits import bell
from prefect_ibmq.wire import circuits_to_base64
from tests.helpers import TOKENS
from tests.reliability.helpers import tokens_toml

ALICE = TOKENS["alice"][0]
BOB = TOKENS["bob"][0]
JOBS = 2000
SUBMITTERS = 12
LEASE_S = 2.0


def _config(tmp_path, name: str, store_url: str) -> str:
    return (
        f'data_dir = "{tmp_path / name}"\nstore_url = "{store_url}"\nworkers = 2\nsimulation = "threads"\n'
        f"lease_s = {LEASE_S}\n\n"
        '[[backends]]\nname = "aer_simulator"\nn_qubits = 2\n\n'
        '[[backends]]\nname = "slow_simulator"\nn_qubits = 2\nexperiment_delay_s = 0.25\n\n'
        + tokens_toml(TOKENS)
    )


def _start_all(servers) -> None:
    # Each start imports qiskit (a few seconds): in parallel.
    with ThreadPoolExecutor(len(servers)) as pool:
        list(pool.map(lambda server: server.start(), servers))


def _scalar(engine, sql: str, **params):
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def test_three_replicas_run_2000_jobs_each_exactly_once(pg_cluster, server_process, tmp_path, figures):
    url = pg_cluster.create_database("three_replicas")
    servers = [server_process(_config(tmp_path, f"r{i}", url)) for i in range(3)]
    _start_all(servers)
    engine = create_engine(url)
    body = {"backend": "aer_simulator", "qpy": circuits_to_base64([bell()]), "options": {"shots": 4}}
    session = threading.local()

    def submit(index: int) -> str:
        http = getattr(session, "http", None) or requests.Session()
        session.http = http
        token = (ALICE, BOB)[index % 2]  # two projects: the fairshare order interleaves them
        answer = http.post(f"{servers[index % 3].url}/v1/jobs", json=body,
                           headers={"Authorization": f"Bearer {token}"}, timeout=60)
        assert answer.status_code == 201, answer.text
        return answer.json()["job_id"]

    started = time.monotonic()
    with ThreadPoolExecutor(SUBMITTERS) as pool:
        ids = list(pool.map(submit, range(JOBS)))
    submitted_s = time.monotonic() - started
    final = "SELECT count(*) FROM jobs WHERE status IN ('COMPLETED', 'ERROR_RUNNING_JOB', 'CANCELLED')"
    deadline = time.monotonic() + 120
    while _scalar(engine, final) < JOBS and time.monotonic() < deadline:
        time.sleep(0.2)  # waiting for the replicas to drain the queue
    drained_s = time.monotonic() - started
    with engine.connect() as conn:
        by_status = dict(conn.execute(text("SELECT status, count(*) FROM jobs GROUP BY status")).all())
        runs = dict(conn.execute(text("SELECT runs, count(*) FROM jobs GROUP BY runs")).all())
        per_replica = sorted(n for (n,) in conn.execute(text("SELECT count(*) FROM jobs GROUP BY claimed_by")))
        results = conn.execute(text("SELECT count(*) FROM results")).scalar()
    engine.dispose()
    figures.record(
        "replicas_2000_jobs",
        replicas=3, jobs=JOBS, submitted_s=round(submitted_s, 1), drained_s=round(drained_s, 1),
        completed=by_status.get("COMPLETED", 0), runs_per_job={str(k): v for k, v in runs.items()},
        jobs_per_replica=per_replica,
    )
    assert len(set(ids)) == JOBS
    assert by_status == {"COMPLETED": JOBS}, by_status
    assert runs == {1: JOBS}, f"claims per job (runs -> jobs): {runs}"  # each job ran exactly once
    assert results == JOBS
    assert len(per_replica) == 3 and min(per_replica) > 0, per_replica  # every replica took a share


def test_a_replica_killed_mid_job_has_its_job_requeued_and_completed_elsewhere(
    pg_cluster, server_process, tmp_path, figures
):
    url = pg_cluster.create_database("killed_replica")
    servers = [server_process(_config(tmp_path, f"k{i}", url)) for i in range(2)]
    _start_all(servers)
    auth = {"Authorization": f"Bearer {ALICE}"}
    names = {requests.get(f"{s.url}/v1/stats", headers=auth, timeout=10).json()["replica_id"]: s for s in servers}
    # ~3 s of work
    body = {"backend": "slow_simulator", "qpy": circuits_to_base64([bell()] * 12), "options": {"shots": 4}}
    job_id = requests.post(f"{servers[0].url}/v1/jobs", json=body, headers=auth, timeout=60).json()["job_id"]
    engine = create_engine(url)
    owner_sql = "SELECT claimed_by FROM jobs WHERE job_id = :j AND status = 'RUNNING'"
    deadline = time.monotonic() + 60
    while (victim := _scalar(engine, owner_sql, j=job_id)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert victim in names, f"job not claimed by a replica: {victim}"
    names[victim].kill()  # SIGKILL mid-job: no shutdown code, the lease is not given back
    killed_at = time.monotonic()
    survivor = next(s for name, s in names.items() if name != victim)
    answer = requests.get(f"{survivor.url}/v1/jobs/{job_id}/status", params={"wait": 60, "until": "final"},
                          headers=auth, timeout=90).json()
    recovered_s = time.monotonic() - killed_at
    with engine.connect() as conn:
        row = conn.execute(
            text("SELECT status, runs, requeued, claimed_by FROM jobs WHERE job_id = :j"), {"j": job_id}
        ).one()
    engine.dispose()
    figures.record(
        "replica_killed_mid_job",
        lease_s=LEASE_S, recovered_s=round(recovered_s, 1), runs=row.runs, requeued=row.requeued,
    )
    assert answer["status"] == "COMPLETED" and answer["timed_out"] is False
    assert row.status == "COMPLETED" and row.runs == 2 and row.requeued == 1
    assert row.claimed_by != victim and row.claimed_by in names
    result = requests.get(f"{survivor.url}/v1/jobs/{job_id}/result", headers=auth, timeout=30).json()
    assert len(result["results"]) == 12

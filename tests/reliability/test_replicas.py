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
#: A long poll's wait in the listener test: its deadline is what a missed notification costs.
WAIT_S = 60


def _config(tmp_path, name: str, store_url: str, workers: int = 2) -> str:
    return (
        f'data_dir = "{tmp_path / name}"\nstore_url = "{store_url}"\nworkers = {workers}\nsimulation = "threads"\n'
        f"lease_s = {LEASE_S}\n\n"
        # 2,000 jobs of two identities in flight at once: more than the default allows one identity.
        # and their requests, however long a loaded machine takes to serve them, never past their share.
        "[limits]\nmax_jobs_in_flight = 5000\nrequests_per_second = 1000\nrequest_burst = 2000\nserver_share = 10.0\n"
        "server_share_burst_s = 600.0\n\n"
        '[[backends]]\nname = "aer_simulator"\nn_qubits = 2\n\n'
        '[[backends]]\nname = "slow_simulator"\nn_qubits = 2\nexperiment_delay_s = 0.25\n\n'
        # Transpiling for its coupling map makes validation take seconds: long enough to be killed in.
        '[[backends]]\nname = "noisy_simulator"\nkind = "noisy"\nseed = 7\n\n'
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


# --- issue 18, item 10: every job has an owner with a lease ----------------------------------------


def _until(engine, sql: str, limit: float = 90.0, **params):
    """Poll the database until ``sql`` gives a truthy value (the store has no long poll for it)."""
    deadline = time.monotonic() + limit
    while not (value := _scalar(engine, sql, **params)):
        assert time.monotonic() < deadline, f"gave up waiting for: {sql} {params}"
        time.sleep(0.05)
    return value


def _final(server, job_id: str, auth) -> dict:
    answer = requests.get(f"{server.url}/v1/jobs/{job_id}/status", params={"wait": 60, "until": "final"},
                          headers=auth, timeout=90).json()
    assert answer["timed_out"] is False, answer
    return answer


def _replica_ids(servers, auth) -> dict:
    return {requests.get(f"{s.url}/v1/stats", headers=auth, timeout=10).json()["replica_id"]: s for s in servers}


def test_replicas_killed_during_validation_and_during_result_storage_leave_no_job_behind(
    pg_cluster, server_process, tmp_path, figures
):
    from qiskit.circuit.random import random_circuit

    url = pg_cluster.create_database("killed_twice")
    # One worker: one validation thread, so a second job waits CREATED behind the first.
    servers = [server_process(_config(tmp_path, f"v{i}", url, workers=1)) for i in range(3)]
    _start_all(servers)
    auth = {"Authorization": f"Bearer {ALICE}"}
    names = _replica_ids(servers, auth)
    engine = create_engine(url)
    status_sql = "SELECT status FROM jobs WHERE job_id = :j"

    # 1. Killed during validation: a job it is validating (transpiling 40 circuits takes seconds)
    # and one it took in and has not started (CREATED).
    victim = servers[0]
    slow = [random_circuit(5, 20, measure=True, seed=seed) for seed in range(40)]
    bodies = [{"backend": "noisy_simulator", "qpy": circuits_to_base64(slow), "options": {"shots": 4}},
              {"backend": "aer_simulator", "qpy": circuits_to_base64([bell()]), "options": {"shots": 4}}]
    validating, waiting = (requests.post(f"{victim.url}/v1/jobs", json=body, headers=auth, timeout=60).json()["job_id"]
                           for body in bodies)
    _until(engine, "SELECT status = 'VALIDATING' FROM jobs WHERE job_id = :j", j=validating)
    at_kill = {job_id: _scalar(engine, status_sql, j=job_id) for job_id in (validating, waiting)}
    victim.kill()
    killed_at = time.monotonic()
    survivors = servers[1:]
    for job_id in (validating, waiting):
        assert _final(survivors[0], job_id, auth)["status"] == "COMPLETED"
    validation_recovered_s = time.monotonic() - killed_at

    # 2. Killed while storing a result: the test holds the job's row, so the replica that ran the
    # job waits inside its finishing UPDATE; it is killed there, then the row is let go.
    body = {"backend": "slow_simulator", "qpy": circuits_to_base64([bell()] * 4), "options": {"shots": 4}}
    storing = requests.post(f"{survivors[0].url}/v1/jobs", json=body, headers=auth, timeout=60).json()["job_id"]
    runner = _until(engine, "SELECT claimed_by FROM jobs WHERE job_id = :j AND status = 'RUNNING'", j=storing)
    with engine.connect() as holder:
        holder.execute(text("SELECT 1 FROM jobs WHERE job_id = :j FOR UPDATE"), {"j": storing})
        _until(engine, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                       "AND query LIKE 'UPDATE jobs SET status%'")
        names[runner].kill()
        holder.rollback()
    stored_at = time.monotonic()
    last = next(s for name, s in names.items() if s in survivors and name != runner)
    assert _final(last, storing, auth)["status"] == "COMPLETED"
    storage_recovered_s = time.monotonic() - stored_at

    with engine.connect() as conn:
        rows = {row.job_id: row for row in conn.execute(text(
            "SELECT job_id, status, runs, requeued, claimed_by FROM jobs WHERE job_id IN (:a, :b, :c)"),
            {"a": validating, "b": waiting, "c": storing})}
        results = conn.execute(text("SELECT count(*) FROM results WHERE job_id IN (:a, :b, :c)"),
                               {"a": validating, "b": waiting, "c": storing}).scalar()
    engine.dispose()
    figures.record(
        "replicas_killed_at_each_step",
        lease_s=LEASE_S, status_at_kill=at_kill, validation_recovered_s=round(validation_recovered_s, 1),
        storage_recovered_s=round(storage_recovered_s, 1),
        runs={job_id: row.runs for job_id, row in rows.items()}, results_stored=results,
    )
    assert at_kill == {validating: "VALIDATING", waiting: "CREATED"}, at_kill
    victim_name = next(name for name, s in names.items() if s is victim)
    for job_id in (validating, waiting):  # taken over and validated elsewhere, run once
        assert rows[job_id].status == "COMPLETED" and rows[job_id].runs == 1
        assert rows[job_id].claimed_by not in (victim_name, None)
    # The run whose result was never stored ran again, once, on the last replica.
    assert rows[storing].status == "COMPLETED" and rows[storing].runs == 2 and rows[storing].requeued == 1
    assert rows[storing].claimed_by not in (runner, victim_name)
    assert results == 3
    result = requests.get(f"{last.url}/v1/jobs/{storing}/result", headers=auth, timeout=30).json()
    assert len(result["results"]) == 4


def test_a_listener_that_reconnects_replays_what_it_missed(pg_cluster, server_process, tmp_path, figures):
    url = pg_cluster.create_database("listener_gap")
    servers = [server_process(_config(tmp_path, f"l{i}", url)) for i in range(2)]
    _start_all(servers)
    auth = {"Authorization": f"Bearer {ALICE}"}
    names = _replica_ids(servers, auth)
    engine = create_engine(url)
    body = {"backend": "slow_simulator", "qpy": circuits_to_base64([bell()] * 40), "options": {"shots": 4}}
    job_id = requests.post(f"{servers[0].url}/v1/jobs", json=body, headers=auth, timeout=60).json()["job_id"]
    runner = names[_until(engine, "SELECT claimed_by FROM jobs WHERE job_id = :j AND status = 'RUNNING'", j=job_id)]
    waiter_replica = next(s for s in servers if s is not runner)
    waiter_name = next(name for name, s in names.items() if s is waiter_replica)
    answers: list = []

    def wait() -> None:
        started = time.monotonic()
        answer = requests.get(f"{waiter_replica.url}/v1/jobs/{job_id}/status", headers=auth,
                              params={"wait": WAIT_S, "until": "final"}, timeout=WAIT_S + 30).json()
        answers.append((answer, time.monotonic() - started))

    poll = threading.Thread(target=wait)
    poll.start()
    while requests.get(f"{waiter_replica.url}/v1/stats", headers=auth, timeout=10).json()["long_polls_waiting"] < 1:
        time.sleep(0.02)  # the long poll is parked
    listener = f"prefect-ibmq-listen {waiter_name}"
    with engine.connect() as conn:
        cut = conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE application_name = :a"), {"a": listener}).scalar()
        conn.commit()
    gone = "SELECT count(*) = 0 FROM pg_stat_activity WHERE application_name = :a"
    _until(engine, gone, a=listener)  # the old connection is closed, its backend gone
    # While the waiter's listener is away (it waits 1 s before listening again), the job is
    # cancelled on the replica running it: that notification is lost to the waiter's replica.
    assert requests.post(f"{runner.url}/v1/jobs/{job_id}/cancel", headers=auth, timeout=30).ok
    cancelled_by = _scalar(engine, "SELECT now()")  # the cancel was committed before its answer
    poll.join(timeout=90)
    relistened_at = _scalar(engine, "SELECT backend_start FROM pg_stat_activity WHERE application_name = :a",
                            a=listener)
    engine.dispose()
    (answer, waited_s), = answers
    figures.record("listener_replay", answered_status=answer["status"], waited_s=round(waited_s, 1), wait_s=WAIT_S)
    assert cut is True
    assert relistened_at > cancelled_by  # the cancellation was announced while nobody listened
    assert answer["status"] == "CANCELLED", answer
    # Missed, the cancellation would be seen only at the poll's deadline (it reads the job once more
    # then, so its answer alone cannot tell): answered long before it, the listener caught up.
    assert waited_s < WAIT_S / 2, waited_s

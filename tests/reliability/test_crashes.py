"""Crashes and restarts with real processes: a flow killed mid-sweep and rerun, a job
server killed mid-run and restarted on the same database and port while a client
waits, and a store that runs out of space.
"""

from __future__ import annotations

import resource
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import requests
from qiskit.providers import JobStatus

from prefect_ibmq import IBMQService
from prefect_ibmq.api import RetryPolicy
from prefect_ibmq.blocks import IBMQServiceCredentials
from prefect_ibmq.circuits import ghz
from prefect_ibmq.exceptions import IBMQJobApiError
from prefect_ibmq.flows import circuit_sweep
from prefect_ibmq.wire import JOBSET_TAG_PREFIX, circuits_to_base64
from tests.client.helpers import wait_for_status
from tests.helpers import TOKENS
from tests.reliability.helpers import ROOT, subprocess_env, tokens_toml
from tests.reliability.sweep_script import SHOTS, sweep_circuits

ALICE = TOKENS["alice"][0]


def _until(predicate, what: str, limit: float = 120.0, every: float = 0.2):
    """Poll until ``predicate()`` is truthy (and return it); fail naming ``what`` after ``limit`` s.

    Only for what the service has no long-poll for (a job list); a job's status is waited on.
    """
    deadline = time.monotonic() + limit
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(every)


# --- flow crash --------------------------------------------------------------------------


def test_flow_killed_mid_sweep_is_resumed_without_a_second_submission(
    job_server, prefect_api_url, tmp_path, figures
):
    sweep_id = f"crash-{uuid.uuid4().hex[:8]}"
    count, per_job = 24, 2
    expected = count // per_job
    tag = f"{JOBSET_TAG_PREFIX}_{sweep_id}"
    direct = IBMQService(job_server.url, ALICE)
    env = subprocess_env(
        PREFECT_IBMQ_URL=job_server.url, PREFECT_IBMQ_TOKEN=ALICE, PREFECT_API_URL=prefect_api_url,
        PREFECT_HOME=str(tmp_path / "prefect-home"),
    )
    log = open(tmp_path / "sweep.log", "wb")
    process = subprocess.Popen(
        [sys.executable, str(ROOT / "tests/reliability/sweep_script.py"), sweep_id, str(count), str(per_job),
         "slow_simulator"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
    )
    log.close()
    try:
        def in_flight():
            if process.poll() is not None:
                pytest.fail(f"the sweep exited early: {(tmp_path / 'sweep.log').read_text()[-3000:]}")
            jobs = direct.jobs(job_tags=[tag], limit=100)
            pending = [j for j in jobs if not j.record.status.is_final]
            return jobs if len(jobs) >= 3 and pending else None

        seen_before_kill = _until(in_flight, "the sweep's first jobs on the server")
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    left_by_crash = direct.jobs(job_tags=[tag], limit=100)
    unfinished_at_kill = sum(1 for j in seen_before_kill if not j.record.status.is_final)
    assert 3 <= len(left_by_crash) < expected

    # The rerun, in this process, with the same sweep id.
    report = circuit_sweep(
        sweep_circuits(count), backend_name="slow_simulator", shots=SHOTS, max_experiments_per_job=per_job,
        sweep_id=sweep_id, service=IBMQServiceCredentials(url=job_server.url, token=ALICE),
    )
    jobs = direct.jobs(job_tags=[tag], limit=100)
    names = Counter(job.name() for job in jobs)
    statuses = Counter(job.record.status.value for job in jobs)
    complete = _circuits_with_all_shots(report)
    figures.record(  # what was counted, recorded before it is judged
        "flow_crash",
        sweeps_completed=int(not report.failed_circuits and set(statuses) == {"COMPLETED"}),
        jobs_expected=expected,
        jobs_on_server=len(jobs),
        jobs_completed=statuses["COMPLETED"],
        jobs_before_kill=len(left_by_crash),
        unfinished_at_kill=unfinished_at_kill,
        reused_by_rerun=report.reused,
        submitted_by_rerun=report.submitted,
        duplicate_jobs=sum(n - 1 for n in names.values()),
        circuits=count,
        circuits_with_result=complete,
        lost_results=count - complete,
    )
    assert len(jobs) == expected
    assert set(names.values()) == {1}, names  # no job submitted twice
    assert report.reused == len(left_by_crash)
    assert report.submitted == expected - len(left_by_crash)
    assert set(statuses) == {"COMPLETED"}
    assert report.failed_circuits == []
    assert sorted(set(report.counts["circuit_index"])) == list(range(count))
    assert complete == count


def _circuits_with_all_shots(report) -> int:
    """Circuits of a sweep report whose counts add up to every shot."""
    shots = report.counts.groupby("circuit_index")["count"].sum()
    return int((shots == SHOTS).sum())


# --- server crash ------------------------------------------------------------------------


def _slow_server_config(data_dir: Path, delay: float) -> str:
    return (
        f'data_dir = "{data_dir}"\nworkers = 1\n\n'
        f'[[backends]]\nname = "slow_simulator"\nkind = "ideal"\nn_qubits = 5\nexperiment_delay_s = {delay}\n\n'
        + tokens_toml(TOKENS)
    )


def test_server_killed_mid_run_requeues_and_waiting_clients_resume(server_process, tmp_path, figures):
    server = server_process(_slow_server_config(tmp_path / "data", delay=0.4)).start()
    service = IBMQService(server.url, ALICE)
    backend = service.backend("slow_simulator")
    tag = f"srvcrash-{uuid.uuid4().hex[:6]}"
    jobs = [backend.run([ghz(3)] * 4, shots=SHOTS, job_tags=[tag], job_name=f"{tag}_{i}_") for i in range(5)]
    ids = [job.job_id() for job in jobs]

    # Clients waiting during the outage: on the job that will be running and on the last one.
    waited: dict[str, object] = {}

    def wait(job):
        try:
            job.wait_for_final_state(timeout=180)
            waited[job.job_id()] = job.record.status.value
        except Exception as exc:  # recorded, asserted below
            waited[job.job_id()] = exc

    # Their client gives up on a request after one quick repeat, so riding out the restart is
    # up to wait_for_final_state itself, not to the client's retries.
    impatient = IBMQService(server.url, ALICE, retry=RetryPolicy(max_retries=1, backoff_base=0.05))
    waiters = [threading.Thread(target=wait, args=(impatient.job(ids[i]),), daemon=True) for i in (0, 4)]
    for thread in waiters:
        thread.start()
    wait_for_status(service.job(ids[0]), {JobStatus.RUNNING}, timeout=120)
    before = {job_id: service.job(job_id).record.status.value for job_id in ids}
    server.kill()
    killed_at = time.monotonic()
    time.sleep(2.0)  # an outage the waiting clients see as refused connections
    server.start()
    outage_s = time.monotonic() - killed_at
    for thread in waiters:
        thread.join(timeout=240)
        assert not thread.is_alive(), "a waiting client hung"
    assert waited == {ids[0]: "COMPLETED", ids[4]: "COMPLETED"}, waited

    records = {}
    for job_id in ids:  # each waits on the service's long-poll
        job = service.job(job_id)
        job.wait_for_final_state(timeout=120)
        records[job_id] = job.record
    with_all_shots = 0
    for job_id in ids:
        counts = service.job(job_id).result().get_counts()
        with_all_shots += len(counts) == 4 and all(sum(c.values()) == SHOTS for c in counts)
    listed = [job.job_id() for job in service.jobs(job_tags=[tag], limit=100)]
    queued_at_kill = [job_id for job_id in ids if before[job_id] in ("QUEUED", "VALIDATED", "VALIDATING", "CREATED")]
    figures.record(  # what was counted, recorded before it is judged
        "server_crash",
        jobs_expected=len(ids),
        jobs_on_server=len(listed),
        running_at_kill=sum(1 for s in before.values() if s == "RUNNING"),
        queued_at_kill=len(queued_at_kill),
        requeued=sum(r.requeued for r in records.values()),
        completed_after_restart=sum(1 for r in records.values() if r.status.value == "COMPLETED"),
        waiting_clients_resumed=sum(1 for v in waited.values() if v == "COMPLETED"),
        outage_seconds=round(outage_s, 1),
        lost_jobs=len(set(ids) - set(listed)),
        duplicate_jobs=len(listed) - len(set(listed)),
        lost_results=len(ids) - with_all_shots,
    )
    assert {r.status.value for r in records.values()} == {"COMPLETED"}
    assert before[ids[0]] == "RUNNING"
    assert records[ids[0]].requeued == 1  # it was running at the crash: queued again, then run
    assert list(records[ids[0]].time_per_step)[-3:] == ["QUEUED", "RUNNING", "COMPLETED"]
    assert queued_at_kill, before
    assert all(records[job_id].requeued == 0 for job_id in queued_at_kill)
    assert with_all_shots == len(ids)
    assert sorted(listed) == sorted(ids)  # nothing lost, nothing doubled


# --- disk full ---------------------------------------------------------------------------

#: The job server may write files of at most this size: its WAL hits it after a few jobs.
FILE_SIZE_LIMIT = 2 * 1024 * 1024


def _limit_file_size() -> None:
    # In the child before exec: writes past the limit fail with EFBIG (Python ignores SIGXFSZ),
    # exactly what a full disk does to SQLite. The hard limit stays so the test can lift it.
    resource.setrlimit(resource.RLIMIT_FSIZE, (FILE_SIZE_LIMIT, resource.RLIM_INFINITY))


def test_full_disk_gives_a_retryable_error_not_a_hang(server_process, tmp_path, figures):
    config = (
        f'data_dir = "{tmp_path / "data"}"\nworkers = 1\n\n[[backends]]\nname = "aer_simulator"\n\n'
        + tokens_toml(TOKENS)
    )
    server = server_process(config, preexec=_limit_file_size).start()
    service = IBMQService(server.url, ALICE)
    backend = service.backend("aer_simulator")
    big = [ghz(3) for _ in range(300)]
    accepted, error = [], None
    for attempt in range(60):  # ~100 kB of QPY per job: the limit is reached well before this ends
        try:
            accepted.append(backend.run(big, shots=8, job_name=f"full-{attempt}"))
        except IBMQJobApiError as exc:
            error = exc
            break
    assert error is not None, "the store never filled up"
    message = str(error)
    assert "SERVICE_UNAVAILABLE" in message and "HTTP 503" in message
    assert "full" in message or "disk I/O" in message, message
    assert "retry" in message.lower()
    # Still serving: health, reads, and an answer to every request.
    assert requests.get(f"{server.url}/v1/health", timeout=10).ok
    assert service.job(accepted[0].job_id()).job_id() == accepted[0].job_id()
    raw = requests.post(
        f"{server.url}/v1/jobs", json={"backend": "aer_simulator", "qpy": circuits_to_base64(big)},
        headers={"Authorization": f"Bearer {ALICE}"}, timeout=30,
    )
    assert raw.status_code == 503 and raw.json()["code"] == "SERVICE_UNAVAILABLE"
    assert raw.headers["Retry-After"].isdigit()

    # Space comes back: the same submission now goes through, and runs.
    resource.prlimit(server.process.pid, resource.RLIMIT_FSIZE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    job = backend.run([ghz(3)] * 2, shots=8, job_name="after-full")
    counts = job.result(timeout=120).get_counts()
    recovered = len(counts) == 2 and all(sum(c.values()) == 8 for c in counts)
    figures.record(
        "disk_full",
        file_size_limit_bytes=FILE_SIZE_LIMIT,
        jobs_accepted_before_full=len(accepted),
        client_error=type(error).__name__,
        http_status=raw.status_code,
        recovered_after_space_freed=recovered,
    )
    assert recovered




def test_store_full_in_the_middle_of_a_write_is_retryable_not_internal(tmp_path):
    """SQLite rolls a transaction back itself when the disk fills mid-statement; the store
    must then not issue a second ROLLBACK (which raised "no transaction is active" and turned
    a retryable 503 into a 500 hiding the cause), and must keep working once space returns."""
    import os

    from prefect_ibmq.server.errors import StoreUnavailable
    from prefect_ibmq.server.rows import NewJob
    from prefect_ibmq.server.store import Store
    from prefect_ibmq.wire import Identity, RunOptions

    store = Store(tmp_path)
    who = Identity(user="a", hub="h", group="g", project="p")

    def job(job_id: str, size: int) -> NewJob:
        return NewJob(job_id=job_id, backend="aer_simulator", owner=who, qpy=os.urandom(size),
                      num_experiments=1, options=RunOptions())

    def pragma(sql: str) -> Any:
        # The store's one SQLite connection (pool of one): a page limit set here applies to it.
        with store.engine.connect() as conn:
            raw = conn.connection.dbapi_connection
            value = raw.execute(sql).fetchone()
            assert not raw.in_transaction
            return value

    try:
        store.create_job(job("small", 1000))
        pages = pragma("PRAGMA page_count")[0]
        pragma(f"PRAGMA max_page_count = {pages + 5}")  # the disk is (nearly) full
        with pytest.raises(StoreUnavailable, match="full") as caught:
            store.create_job(job("big", 2_000_000))
        assert caught.value.status == 503
        pragma("PRAGMA page_count")  # asserts no transaction was left open
        assert store.get_job("big") is None
        pragma("PRAGMA max_page_count = 1073741823")  # space again
        assert store.create_job(job("later", 1000)) == ("later", True)
    finally:
        store.close()

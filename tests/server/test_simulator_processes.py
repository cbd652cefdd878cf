"""Simulation in the executor's simulator processes (``ServerConfig.simulation``).

These servers start their own processes; a test kills one mid-run with
SIGKILL and checks that only the affected chunk runs again (or, when its
process dies twice, that only its job fails with a clear message) and that the
server keeps serving.
"""

from __future__ import annotations

import logging
import os
import signal
import time

from prefect_ibmq.circuits import bell, ghz
from prefect_ibmq.server import BackendSpec, JobServer, ServerConfig
from tests.server.helpers import Api

#: Shots that make a chunk of 64 such circuits take ~1-3 s in a simulator process.
HEAVY_SHOTS = 100_000


def _server(job_server, tmp_path, **overrides) -> JobServer:
    settings = dict(
        data_dir=tmp_path,
        tokens=job_server.config.tokens,
        backends=[BackendSpec(name="aer_simulator", n_qubits=5)],
        workers=2,
        simulation="processes",
    )
    settings.update(overrides)
    return JobServer(ServerConfig(**settings))


def _wait_for_pids(server: JobServer, count: int, limit_s: float = 60) -> list[int]:
    deadline = time.monotonic() + limit_s
    while len(pids := server.service.executor.pool_pids()) < count:
        assert time.monotonic() < deadline, f"simulator processes did not start: {pids}"
        time.sleep(0.05)  # polling a test condition
    return pids


def _wait_for_busy_pid(server: JobServer, limit_s: float = 60) -> int:
    deadline = time.monotonic() + limit_s
    while not (busy := server.service.executor.busy_pool_pids()):
        assert time.monotonic() < deadline, "no simulator process took a chunk"
        time.sleep(0.01)  # polling a test condition
    return busy[0]


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_no_processes_until_the_first_run_and_none_after_stop(job_server, tmp_path):
    server = _server(job_server, tmp_path).start()
    try:
        assert server.service.executor.pool_pids() == []
        api = Api(server.url, next(iter(job_server.config.tokens)))
        job = api.submit([bell()] * 3)
        answer = api.wait_final(job["job_id"])
        assert answer["status"] == "COMPLETED"
        pids = _wait_for_pids(server, 2)
        result = api.get(f"/jobs/{job['job_id']}/result").json()
        assert [e["success"] for e in result["results"]] == [True] * 3
        assert set(result["results"][0]["data"]["counts"]) <= {"0x0", "0x3"}
    finally:
        server.stop()
    assert all(_gone(pid) for pid in pids)


def test_prestarted_processes_are_up_before_any_job_and_run_it(job_server, tmp_path):
    server = _server(job_server, tmp_path, prestart_simulators=True).start()
    try:
        pids = _wait_for_pids(server, 2)  # no job submitted yet
        api = Api(server.url, next(iter(job_server.config.tokens)))
        job = api.submit([bell()] * 3)
        assert api.wait_final(job["job_id"])["status"] == "COMPLETED"
        assert sorted(server.service.executor.pool_pids()) == sorted(pids)  # the same processes ran it
    finally:
        server.stop()
    assert all(_gone(pid) for pid in pids)
    assert ServerConfig.default(tmp_path / "embedded").prestart_simulators


def test_threads_mode_starts_no_process(job_server, tmp_path):
    with _server(job_server, tmp_path, simulation="threads") as server:
        api = Api(server.url, next(iter(job_server.config.tokens)))
        job = api.submit([bell()] * 3)
        assert api.wait_final(job["job_id"])["status"] == "COMPLETED"
        assert server.service.executor.pool_pids() == []


def test_a_killed_simulator_process_reruns_its_chunk_and_the_server_keeps_serving(job_server, tmp_path, caplog):
    caplog.set_level(logging.WARNING, logger="prefect_ibmq.server.executor")
    with _server(job_server, tmp_path) as server:
        api = Api(server.url, next(iter(job_server.config.tokens)))
        circuits = [ghz(2 + i % 4) for i in range(128)]
        job = api.submit(circuits, shots=HEAVY_SHOTS)
        assert api.wait_for(job["job_id"], {"RUNNING"})["status"] == "RUNNING"
        executor = server.service.executor
        victim = _wait_for_busy_pid(server)  # a process with a chunk in hand (each takes ~1-3 s)
        os.kill(victim, signal.SIGKILL)

        answer = api.wait_final(job["job_id"])
        assert answer["status"] == "COMPLETED", api.get(f"/jobs/{job['job_id']}").json()
        # The victim died holding a chunk, and that chunk (only) was sent again.
        assert executor.chunks_rerun == 1
        reruns = [r.getMessage() for r in caplog.records if "running a chunk of" in r.getMessage()]
        assert len(reruns) == 1 and f"(pid {victim}) died with signal SIGKILL" in reruns[0], reruns
        result = api.get(f"/jobs/{job['job_id']}/result").json()
        assert len(result["results"]) == 128
        assert all(e["success"] and sum(e["data"]["counts"].values()) == HEAVY_SHOTS for e in result["results"])
        assert victim not in server.service.executor.pool_pids()

        later = api.submit([bell()] * 2)
        assert api.wait_final(later["job_id"])["status"] == "COMPLETED"


def test_a_chunk_whose_process_dies_twice_fails_only_its_job(job_server, tmp_path):
    with _server(job_server, tmp_path, workers=1) as server:
        api = Api(server.url, next(iter(job_server.config.tokens)))
        job = api.submit([ghz(5) for i in range(64)], shots=HEAVY_SHOTS)
        assert api.wait_for(job["job_id"], {"RUNNING"})["status"] == "RUNNING"
        deadline = time.monotonic() + 60
        while api.status(job["job_id"])["status"] == "RUNNING":
            assert time.monotonic() < deadline, "the job outlived every killed process"
            killed = set(server.service.executor.pool_pids())
            for pid in killed:
                os.kill(pid, signal.SIGKILL)
            # Then wait for the job to end or a new process (which may hold the chunk again) to kill too.
            pool = server.service.executor
            while api.status(job["job_id"])["status"] == "RUNNING" and set(pool.pool_pids()) <= killed:
                assert time.monotonic() < deadline, "no new simulator process started"
                time.sleep(0.02)  # polling the pool for its next process

        record = api.get(f"/jobs/{job['job_id']}").json()
        assert record["status"] == "ERROR_RUNNING_JOB"
        message = record["error"]["message"]
        assert "simulator process died twice" in message and "SIGKILL" in message, message

        later = api.submit([bell()] * 2)
        assert api.wait_final(later["job_id"])["status"] == "COMPLETED"

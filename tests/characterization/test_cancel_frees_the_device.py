"""A cancelled running job lets go of its simulator process at once; a stopped server of everything."""

from __future__ import annotations

import logging
import time

from prefect_ibmq import IBMQService
from prefect_ibmq.circuits import bell
from prefect_ibmq.server import JobServer
from tests.characterization.helpers import HEAVY_SHOTS, heavy_circuits, lab_config, seconds_between
from tests.client.helpers import wait_for_status
from tests.helpers import token_of


def _spare_pid(server: JobServer, limit_s: float = 60) -> int:
    deadline = time.monotonic() + limit_s
    while (spare := server.service.executor.spare_pool_pid()) is None:
        assert time.monotonic() < deadline, "the pool made no spare process"
        time.sleep(0.01)  # polling a test condition
    return spare


def _busy_pid(server: JobServer, limit_s: float = 60) -> int:
    deadline = time.monotonic() + limit_s
    while not (busy := server.service.executor.busy_pool_pids()):
        assert time.monotonic() < deadline, "no simulator process took the heavy chunk"
        time.sleep(0.01)  # polling a test condition
    return busy[0]


def test_a_cancel_frees_the_process_for_the_next_job(one_worker_server, caplog):
    from qiskit.providers import JobStatus

    caplog.set_level(logging.INFO, logger="prefect_ibmq.server.simpool")
    with IBMQService(one_worker_server.url, token_of("alice")) as service:
        heavy = service.backend("heavy_simulator").run(heavy_circuits(), shots=HEAVY_SHOTS)
        wait_for_status(heavy, {JobStatus.RUNNING})
        victim = _busy_pid(one_worker_server)  # simulating a chunk of ~14 s
        spare = _spare_pid(one_worker_server)
        waiting = service.backend("aer_simulator").run(bell(), shots=64)
        assert wait_for_status(waiting, {JobStatus.QUEUED, JobStatus.RUNNING}) is JobStatus.QUEUED  # worker busy
        assert heavy.cancel()
        waiting.wait_for_final_state(timeout=60)
        assert waiting.status() is JobStatus.DONE
        cancelled, started = heavy.time_per_step()["CANCELLED"], waiting.time_per_step()["RUNNING"]
        # The next job started on the server right after the cancel (the server's own timestamps),
        # and ran on the warmed spare that took the killed process's place.
        assert seconds_between(cancelled, started) < 1.0
        assert one_worker_server.service.executor.pool_pids() == [spare]
        assert any(f"simulator process {victim}" in r.getMessage() for r in caplog.records if "abandoning" in
                   r.getMessage())


def test_a_stopped_server_abandons_running_chunks_and_lets_another_start_on_its_directory(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="prefect_ibmq.server.simpool")
    server = JobServer(lab_config(tmp_path, workers=1)).start()
    try:
        with IBMQService(server.url, token_of("alice")) as service:
            heavy = service.backend("heavy_simulator").run(heavy_circuits(), shots=HEAVY_SHOTS)
            victim = _busy_pid(server)
    finally:
        server.stop()
    assert any(f"simulator process {victim}" in r.getMessage() for r in caplog.records if "abandoning" in
               r.getMessage())
    # The data directory is free again: a new server takes it, and finds the job it left running.
    with JobServer(lab_config(tmp_path, workers=1)) as again, IBMQService(again.url, token_of("alice")) as service:
        job = service.job(heavy.job_id())
        assert job.status().name in ("QUEUED", "RUNNING")
        assert job.cancel()

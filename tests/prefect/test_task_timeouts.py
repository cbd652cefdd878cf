"""Prefect's own ``timeout_seconds`` stops a task run, and a stopped wait cancels its job."""

from __future__ import annotations

import logging

from prefect import flow
from qiskit.providers import JobStatus

from prefect_ibmq.circuits import ghz
from prefect_ibmq.tasks import submit_job, wait_for_final_state


def test_task_timeout_ends_the_wait_timed_out_and_cancels_the_job_unless_told_not_to(credentials, caplog):
    service = credentials.get_client()
    waits = {True: wait_for_final_state.with_options(timeout_seconds=1),
             False: wait_for_final_state.with_options(timeout_seconds=1)}

    @flow
    def wait_past_the_task_timeout(cancel_on_timeout: bool) -> tuple[str, str]:
        # 8 experiments of 0.5 s each: the job runs for ~4 s, well past the 1 s task timeout.
        job_id = submit_job([ghz(3)] * 8, backend_name="slow_simulator", shots=16, service=credentials)
        state = waits[cancel_on_timeout](job_id, cancel_on_timeout=cancel_on_timeout, service=credentials,
                                         return_state=True)
        return job_id, state.name

    with caplog.at_level(logging.WARNING):
        cancelled, state_name = wait_past_the_task_timeout(True)
    assert state_name == "TimedOut"
    assert service.job(cancelled).status() is JobStatus.CANCELLED
    assert not [r for r in caplog.records if "cannot" in r.getMessage().lower()]

    left_running, state_name = wait_past_the_task_timeout(False)
    assert state_name == "TimedOut"
    job = service.job(left_running)
    assert job.status() in (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.VALIDATING)
    assert job.cancel()

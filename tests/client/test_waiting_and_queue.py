"""Waiting (long-poll), callbacks, timeouts, queue positions and cancelling, on the slow simulator."""

from __future__ import annotations

import pytest
from qiskit.providers import JobStatus

from prefect_ibmq import IBMQJobInvalidStateError, IBMQJobTimeoutError, QueueInfo
from prefect_ibmq.circuits import bell
from tests.client.helpers import wait_for_status
from tests.helpers import HOLD_EXPERIMENTS


def slow_job(slow, experiments: int, name: str = "slow"):
    return slow.run([bell(f"{name}{i}") for i in range(experiments)], shots=8, job_name=name)


def test_wait_for_final_state_calls_back_on_changes(slow):
    job = slow_job(slow, 2, "callback")
    calls = []

    def on_change(*args, **kwargs):
        calls.append((args, kwargs))

    job.wait_for_final_state(timeout=60, callback=on_change)
    assert job.status() is JobStatus.DONE
    assert calls, "the job went through RUNNING, so the callback saw at least one change"
    for (job_id, status, same_job), kwargs in calls:
        assert job_id == job.job_id() and same_job is job
        assert isinstance(status, JobStatus) and status not in (JobStatus.DONE, JobStatus.ERROR)
        assert set(kwargs) == {"queue_info"}
        assert kwargs["queue_info"] is None or isinstance(kwargs["queue_info"], QueueInfo)
    seen = [(args[1], kwargs["queue_info"] and kwargs["queue_info"].position) for args, kwargs in calls]
    # Without `wait`, the callback runs only when the status or the queue position changed.
    assert all(before != after for before, after in zip(seen, seen[1:], strict=False))


def test_wait_with_interval_calls_back_every_interval(slow):
    # Minutes of work: it runs until the callback has heard RUNNING three times and cancels it.
    job = slow_job(slow, HOLD_EXPERIMENTS, "interval")
    statuses = []

    def report(_id, status, _job, queue_info) -> None:
        statuses.append(status)
        if statuses.count(JobStatus.RUNNING) == 3:
            assert job.cancel() is True

    job.wait_for_final_state(timeout=60, wait=0.2, callback=report)
    assert job.cancelled()
    # With an interval the callback is called at every poll, not only on a change: the same
    # status is reported again and again (without `wait`, never twice in a row).
    assert statuses.count(JobStatus.RUNNING) == 3
    assert statuses[-3:] == [JobStatus.RUNNING] * 3


def test_wait_times_out_with_ibmq_job_timeout_error(slow):
    job = slow_job(slow, 8, "timeout")
    with pytest.raises(IBMQJobTimeoutError, match=job.job_id()):
        job.wait_for_final_state(timeout=0.3)
    assert not job.in_final_state()
    assert job.cancel() is True


def test_result_times_out_too(slow):
    job = slow_job(slow, 8, "result-timeout")
    with pytest.raises(IBMQJobTimeoutError):
        job.result(timeout=0.3, wait=0.1)
    job.cancel()


def test_queue_positions_and_info_with_several_jobs_queued(slow):
    jobs = [slow_job(slow, 4, f"queue{i}") for i in range(4)]
    try:
        last = jobs[-1]
        wait_for_status(last, {JobStatus.QUEUED})
        position = last.queue_position(refresh=True)
        assert isinstance(position, int) and position >= 1
        info = last.queue_info()
        assert isinstance(info, QueueInfo)
        assert info.job_id == last.job_id() and info.position == last.queue_position()
        assert info.status == "PENDING_IN_QUEUE" and "_status='QUEUED'" in repr(info)
        assert "queue position" in info.format()
        queued = [job for job in jobs if job.status() is JobStatus.QUEUED]
        positions = [job.queue_position() for job in queued]
        assert positions == sorted(positions) and len(set(positions)) == len(positions)
    finally:
        for job in jobs:
            job.cancel()


def test_cancel_while_queued(slow):
    blockers = [slow_job(slow, 6, f"blocker{i}") for i in range(3)]
    queued = slow_job(slow, 1, "to-cancel-queued")
    try:
        wait_for_status(queued, {JobStatus.QUEUED})
        assert queued.cancel() is True
        assert queued.status() is JobStatus.CANCELLED and queued.cancelled()
        assert "RUNNING" not in queued.time_per_step()
        with pytest.raises(IBMQJobInvalidStateError, match="cancelled"):
            queued.result()
    finally:
        for job in blockers:
            job.cancel()


def test_cancel_while_running(slow):
    job = slow_job(slow, 10, "to-cancel-running")
    wait_for_status(job, {JobStatus.RUNNING})
    assert job.running()
    assert job.cancel() is True
    job.wait_for_final_state(timeout=30)
    assert job.cancelled()
    steps = job.time_per_step()
    assert list(steps)[-2:] == ["RUNNING", "CANCELLED"]
    assert job.cancel() is False  # already final: nothing to cancel

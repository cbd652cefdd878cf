"""Queue positions (fairshare across projects), their long-poll, and cancelling."""

from __future__ import annotations

import threading

import pytest

from prefect_ibmq.circuits import bell


@pytest.fixture(scope="module")
def job_server(engine_job_server):
    """These tests run on SQLite and on PostgreSQL."""
    return engine_job_server


def _queued(api, job_id):
    answer = api.wait_for(job_id, {"QUEUED"})
    assert answer["status"] == "QUEUED", answer
    return answer


def test_queue_positions_round_robin_and_cancel(alice, bob):
    # Two long jobs occupy both workers; the next ones wait on slow_simulator.
    blockers = [alice.submit([bell()] * 30, backend="slow_simulator") for _ in range(2)]
    for job in blockers:
        assert alice.wait_for(job["job_id"], {"RUNNING"})["status"] == "RUNNING"
    waiting = [alice.submit([bell()], backend="slow_simulator", name=f"w{i}") for i in range(3)]
    infos = [_queued(alice, job["job_id"])["queue_info"] for job in waiting]
    assert [info["position"] for info in infos] == [1, 2, 3]
    for info in infos:
        assert info["estimated_start_time"] <= info["estimated_complete_time"]
        assert 0.0 <= info["project_priority"] <= 1.0

    # Fairshare: bob's project gets the turn after alice's first waiting job.
    bobs = bob.submit([bell()], backend="slow_simulator")
    assert _queued(bob, bobs["job_id"])["queue_info"]["position"] == 2
    last = alice.get(f"/jobs/{waiting[2]['job_id']}").json()
    assert last["queue_info"]["position"] == 4

    # A waiter on the last job's position wakes when a job ahead of it leaves the queue.
    result = {}

    def poll():
        result["answer"] = alice.status(waiting[2]["job_id"], wait=30, known_position=4)

    poller = threading.Thread(target=poll)
    poller.start()
    cancelled = alice.request("POST", f"/jobs/{waiting[0]['job_id']}/cancel")
    poller.join(60)
    assert cancelled.status_code == 200
    assert cancelled.json() == {"job_id": waiting[0]["job_id"], "cancelled": True, "status": "CANCELLED"}
    assert result["answer"]["timed_out"] is False
    assert result["answer"]["queue_info"]["position"] == 3

    # A cancelled queued job is final and out of the queue.
    record = alice.get(f"/jobs/{waiting[0]['job_id']}").json()
    assert record["status"] == "CANCELLED"
    assert record["queue_info"] is None
    assert "RUNNING" not in record["time_per_step"]

    # Backend status counts the jobs not yet final on it.
    pending = alice.get("/backends/slow_simulator/status").json()["pending_jobs"]
    assert pending >= 5  # two running, three still queued (alice's two, bob's one)


def test_cancel_while_running_takes_effect(alice):
    job = alice.submit([bell()] * 40, backend="slow_simulator")
    assert alice.wait_for(job["job_id"], {"RUNNING"})["status"] == "RUNNING"
    response = alice.request("POST", f"/jobs/{job['job_id']}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "CANCELLED"
    # A waiter that knew RUNNING sees CANCELLED, and it stays that way.
    answer = alice.status(job["job_id"], wait=5, known="RUNNING")
    assert answer["status"] == "CANCELLED"
    record = alice.get(f"/jobs/{job['job_id']}").json()
    assert list(record["time_per_step"])[-2:] == ["RUNNING", "CANCELLED"]
    result = alice.get(f"/jobs/{job['job_id']}/result")
    assert result.status_code == 409
    assert result.json()["code"] == "INVALID_STATE"


def test_cancel_a_final_job_is_invalid_state(alice):
    job = alice.submit()
    assert alice.wait_final(job["job_id"])["status"] == "COMPLETED"
    response = alice.request("POST", f"/jobs/{job['job_id']}/cancel")
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "INVALID_STATE"
    assert "COMPLETED" in body["message"]


def test_result_before_final_is_job_not_finished(alice):
    job = alice.submit([bell()] * 20, backend="slow_simulator")
    response = alice.get(f"/jobs/{job['job_id']}/result")
    assert response.status_code == 409
    assert response.json()["code"] == "JOB_NOT_FINISHED"

"""A job's life: statuses in order, time_per_step, the long-poll, the result."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from qiskit.result import Result

from prefect_ibmq.circuits import bell
from prefect_ibmq.wire import base64_to_circuits
from tests.server.helpers import LIFECYCLE


def test_health_needs_no_token_and_names_the_store(anonymous, job_server):
    response = anonymous.get("/health")
    assert response.status_code == 200
    # The store's id is kept in the data dir: a server started again on it says the same (test_persistence).
    store_id = (job_server.config.data_dir / "store_id").read_text().strip()
    assert response.json() == {"status": "ok", "store_id": store_id} and len(store_id) == 32


def test_stats_count_the_parked_long_polls(alice, anonymous):
    assert anonymous.get("/stats").status_code == 401
    stats = alice.get("/stats").json()
    assert stats["long_polls_waiting"] == 0 and stats["replica_id"].startswith("r-")
    job = alice.submit([bell()] * 40, backend="slow_simulator")  # 20 s unless cancelled
    with ThreadPoolExecutor(2) as pool:
        polls = [pool.submit(alice.status, job["job_id"], wait=60, until="final") for _ in range(2)]
        deadline = time.monotonic() + 30
        while alice.get("/stats").json()["long_polls_waiting"] < 2:
            assert time.monotonic() < deadline, "the long-polls never parked"
            time.sleep(0.05)  # polling a test condition
        assert alice.request("POST", f"/jobs/{job['job_id']}/cancel").status_code == 200
        assert [poll.result()["status"] for poll in polls] == ["CANCELLED", "CANCELLED"]
    assert alice.get("/stats").json()["long_polls_waiting"] == 0


def test_job_goes_through_the_lifecycle_in_order(alice):
    job = alice.submit([bell("a"), bell("b")], shots=32, name="lifecycle")
    assert job["status"] == "CREATED"
    assert list(job["time_per_step"]) == ["CREATING", "CREATED"]
    assert job["num_experiments"] == 2
    assert job["owner"]["user"] == "alice"

    final = alice.wait_final(job["job_id"])
    assert final["status"] == "COMPLETED"

    record = alice.get(f"/jobs/{job['job_id']}").json()
    steps = record["time_per_step"]
    assert list(steps) == LIFECYCLE
    times = [datetime.fromisoformat(steps[s]) for s in LIFECYCLE]
    assert all(t.utcoffset().total_seconds() == 0 for t in times)
    assert all("." in steps[s] and len(steps[s].split(".")[1].split("+")[0]) == 6 for s in LIFECYCLE)
    assert times == sorted(times)
    assert record["run_mode"] == "fairshare"
    assert record["error"] is None


def test_result_reads_with_result_from_dict(alice):
    job = alice.submit([bell("first"), bell("second")], shots=40, header={"purpose": "test"})
    alice.wait_final(job["job_id"])
    response = alice.get(f"/jobs/{job['job_id']}/result")
    assert response.status_code == 200
    data = response.json()
    assert data["job_id"] == job["job_id"]
    assert data["backend_name"] == "aer_simulator"
    result = Result.from_dict(data)
    assert result.success
    counts = result.get_counts("second")
    assert sum(counts.values()) == 40
    assert set(counts) <= {"00", "11"}
    # Not private: a second read still works.
    assert alice.get(f"/jobs/{job['job_id']}/result").status_code == 200


def test_long_poll_answers_when_the_status_changes(alice):
    job = alice.submit([bell()] * 2, backend="slow_simulator")
    answer = alice.status(job["job_id"], wait=30, known="CREATED")
    assert answer["timed_out"] is False
    assert answer["status"] != "CREATED"
    seen = [answer["status"]]
    while seen[-1] != "COMPLETED":
        answer = alice.status(job["job_id"], wait=30, known=seen[-1])
        assert answer["timed_out"] is False
        assert answer["status"] != seen[-1]
        seen.append(answer["status"])
    order = [s for s in LIFECYCLE if s in seen]
    assert seen == order, "statuses arrive in lifecycle order"


def test_long_poll_times_out_when_nothing_changes(alice):
    # Twenty slow experiments keep the job RUNNING far longer than the short wait below.
    job = alice.submit([bell()] * 20, backend="slow_simulator")
    running = alice.wait_for(job["job_id"], {"RUNNING"})
    assert running["status"] == "RUNNING"
    answer = alice.status(job["job_id"], wait=0.3, known="RUNNING")
    assert answer["timed_out"] is True, answer
    assert answer["status"] == "RUNNING"
    # Without wait the answer is immediate and never "timed out".
    assert alice.status(job["job_id"])["timed_out"] is False


def test_circuits_come_back_as_submitted(alice):
    job = alice.submit([bell("kept-name")])
    response = alice.get(f"/jobs/{job['job_id']}/circuits")
    assert response.status_code == 200
    circuits = base64_to_circuits(response.json()["qpy"])
    assert [c.name for c in circuits] == ["kept-name"]


def test_long_poll_until_final_ignores_intermediate_changes(alice):
    job = alice.submit([bell()] * 2, backend="slow_simulator")
    assert job["status"] == "CREATED"
    # One request while the job goes CREATED -> ... -> QUEUED -> RUNNING -> COMPLETED.
    answer = alice.status(job["job_id"], wait=60, until="final")
    assert answer["timed_out"] is False
    assert answer["status"] == "COMPLETED"
    # It did pass through the intermediate statuses the long-poll slept through.
    record = answer["record"]
    assert record is not None, "a final answer carries the whole record"
    assert list(record["time_per_step"]) == LIFECYCLE
    assert record == alice.get(f"/jobs/{job['job_id']}").json()


def test_long_poll_until_final_times_out_while_running(alice):
    job = alice.submit([bell()] * 20, backend="slow_simulator")
    alice.wait_for(job["job_id"], {"RUNNING"})
    # `known` names another status: without until=final that alone would answer at once.
    answer = alice.status(job["job_id"], wait=0.3, known="QUEUED", until="final")
    assert answer["timed_out"] is True
    assert answer["status"] == "RUNNING"
    assert answer["record"] is None, "only a final answer carries the record"


def test_status_carries_the_record_only_when_final(alice):
    job = alice.submit([bell()] * 2, backend="slow_simulator")
    first = alice.status(job["job_id"], wait=30, known="CREATED")  # the default until=change
    assert first["status"] != "CREATED" and first["timed_out"] is False
    if first["status"] != "COMPLETED":
        assert first["record"] is None
    alice.wait_final(job["job_id"])
    # Without wait too, and answered at once with until=final for a job already final.
    for params in ({}, {"wait": 30, "until": "final"}):
        answer = alice.status(job["job_id"], **params)
        assert answer["status"] == "COMPLETED" and answer["timed_out"] is False
        assert answer["record"]["job_id"] == job["job_id"]
        assert answer["record"]["run_mode"] == "fairshare"


def test_long_poll_until_rejects_unknown_values(alice):
    job = alice.submit()
    response = alice.get(f"/jobs/{job['job_id']}/status", params={"wait": 1, "until": "forever"})
    assert response.status_code == 422
    assert "until" in response.json()["message"]

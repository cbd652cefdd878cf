"""The stock qiskit-ibm-runtime 0.51 client, unmodified, against the job service's runtime API.

Each scenario runs in a child process that can resolve only loopback names; every test
checks that it refused none (the client reached nothing but the local service).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from prefect_ibmq.server.runtime.session_service import SESSION_EXPIRED_CODE
from tests.runtime.helpers import CAROL_INSTANCE, run_child, run_scenario


def _path_sequence(requests: list[str]) -> list[str]:
    out = []
    for request in requests:
        method, url = request.split(" ", 1)
        parts = urlsplit(url)
        out.append(f"{method} {parts.path}")
    return out


def test_sampler_job_mode_counts_tags_listing_metrics(runtime_server, tmp_path):
    run = run_scenario(runtime_server, "job_mode", "alice", tmp_path)
    seen = run.observed
    assert run.refused_hosts == []
    assert all(urlsplit(r.split(" ", 1)[1]).hostname == "127.0.0.1" for r in run.requests)
    paths = _path_sequence(run.requests)
    # local_instance asks the token's CRN (IAM, Global Search); then the client's construction.
    assert paths[:5] == [
        "POST /identity/token",
        "POST /v3/resources/search",
        "POST /identity/token",
        "POST /v3/resources/search",
        "GET /global-catalog/api/v1/prefect-ibmq-local-plan",
    ]
    assert "POST /api/v1/jobs" in paths and f"GET /api/v1/jobs/{seen['job_id']}/results" in paths
    # Properties are never empty, so the client caches them (an empty answer is asked again per attribute).
    assert paths.count("GET /api/v1/backends/aer_simulator/properties") <= 2, paths

    assert seen["status"] == "DONE" and seen["program"] == "sampler"
    # One BitArray per classical register, Bell-correlated, with every shot.
    assert seen["registers"] == ["a", "b"] and seen["shots"] == 2000
    joint = seen["joint"]
    assert set(joint) == {"00", "11"} and sum(joint.values()) == 2000
    assert 800 < joint["00"] < 1200  # 2,000 shots, seeded: far inside the binomial spread
    assert seen["counts_a"]["0"] == joint["00"] and seen["counts_b"]["1"] == joint["11"]

    assert sorted(seen["tags"]) == ["bell", "dry-run"]  # the client sends a set
    assert seen["listed_both"] == [seen["job_id"]]  # tags are ANDed
    assert seen["listed_one"] == [seen["other_id"], seen["job_id"]]  # newest first
    assert seen["listed_after"][:2] == [seen["other_id"], seen["job_id"]]
    assert seen["listed_final"] == [seen["other_id"], seen["job_id"]] and seen["listed_pending"] == []
    assert seen["listed_oldest_first"] == [seen["job_id"], seen["other_id"]]
    assert seen["input_circuit_qubits"] == 2 and seen["input_shots"] == 2000  # job.inputs: the params as sent

    # The noisy backend: its properties and coupling map reach the client, and its noise the counts.
    assert 0 < seen["noisy_t1"] < 1e-2 and seen["noisy_coupling_edges"] == 20
    noisy = seen["noisy_counts"]
    assert (
        sum(noisy.values()) == 2000 and noisy["00"] + noisy["11"] > 1800 and noisy.get("01", 0) + noisy.get("10", 0) > 0
    )

    stamps = seen["timestamps"]
    created, running, finished = (
        datetime.fromisoformat(stamps[k].replace("Z", "+00:00")) for k in ("created", "running", "finished")
    )
    assert created <= running <= finished
    assert seen["quantum_seconds"] == round((finished - running).total_seconds(), 3)
    assert seen["usage"] == seen["quantum_seconds"]


def test_estimator_and_sampler_in_batch_and_session(runtime_server, tmp_path):
    run = run_scenario(runtime_server, "batch_and_session", "bob", tmp_path)
    seen = run.observed
    assert run.refused_hosts == []
    paths = _path_sequence(run.requests)
    assert paths.count("POST /api/v1/sessions") == 4  # a batch, a session, a session cancelled, a batch expiring
    assert paths.count("DELETE /api/v1/sessions/" + seen["cancelled_session_id"] + "/close") == 1
    assert f"PATCH /api/v1/sessions/{seen['batch_id']}" in paths
    assert f"PATCH /api/v1/sessions/{seen['session_id']}" in paths

    assert seen["batch_id"] and seen["session_id"] and seen["batch_id"] != seen["session_id"]
    assert seen["batch_job_sessions"] == [seen["batch_id"], seen["batch_id"]]
    assert seen["session_job_session"] == seen["session_id"]
    assert abs(seen["batch_evs"] - 1.0) <= 0.05 and seen["batch_std"] == 0.0
    assert abs(seen["session_evs"] - 1.0) <= 0.05  # precision 0.01: seeded Gaussian noise around 1
    assert seen["session_state_while_open"] == "active"
    assert seen["session_after_close"] == {"state": "closed", "accepting_jobs": False}
    assert seen["cancelled_session_job"] == "CANCELLED"
    assert seen["cancelled_session"] == {"state": "closed", "accepting_jobs": False}

    # A batch whose 4 s max_ttl ends while two of its four jobs wait: those are cancelled, saying why.
    expiring = seen["expiring"]
    assert expiring["sessions"] == [expiring["batch_id"]] * 4
    assert expiring["statuses"] == ["DONE", "DONE", "CANCELLED", "CANCELLED"], expiring
    for state in expiring["states"][2:]:
        assert state["status"] == "Cancelled" and state["reason_code"] == SESSION_EXPIRED_CODE, state
        assert "max_ttl 4 s" in state["reason"] and expiring["batch_id"] in state["reason"]
    assert all("reason_code" not in state for state in expiring["states"][:2])
    assert expiring["batch_state"] == "closed"


def test_failed_and_cancelled_jobs(runtime_server, tmp_path):
    run = run_scenario(runtime_server, "failures", "alice", tmp_path)
    seen = run.observed
    assert run.refused_hosts == []
    assert seen["doomed_status"] == "ERROR"
    assert "Error code 1500" in seen["doomed_error"] and "simulated hardware fault" in seen["doomed_error"]
    assert seen["status_before_cancel"] == "RUNNING"
    assert seen["cancelled_status"] == "CANCELLED"
    assert seen["second_cancel"].startswith("RuntimeInvalidStateError") and "409" in seen["second_cancel"]
    assert seen["cancelled_result"].startswith("RuntimeInvalidStateError")
    assert "RUNNING" in seen["doomed_logs"] and "error 1500: pub 0 failed" in seen["doomed_logs"]
    assert seen["after_delete"] == "RuntimeJobNotFound"
    stamps = seen["cancelled_metrics"]
    assert stamps["created"] <= stamps["running"] <= stamps["finished"]


def test_embedded_default_through_the_stock_client(tmp_path):
    """embedded_runtime_service: the server IBMQService.local() starts, driven by the stock client."""
    run = run_child(["embedded", str(tmp_path / "embedded")], tmp_path)
    seen = run.observed
    assert run.refused_hosts == []
    assert seen["backends"] == ["aer_simulator", "flaky_simulator", "noisy_simulator"]
    assert set(seen["joint"]) <= {"00", "11"} and sum(seen["joint"].values()) == 64
    assert seen["seen_by_v1"] == seen["job_id"]  # one store: the /v1 API sees the runtime job


def test_executor_primitives_dry_run_and_estimator_metadata(runtime_server, tmp_path):
    """Today's primitives (program executor), Executor by hand, a dry run, the estimator program's metadata."""
    run = run_scenario(runtime_server, "executor", "alice", tmp_path)
    seen = run.observed
    assert run.refused_hosts == []
    # One executor job as the stock client makes it (docs/runtime-api.md shows it).
    job = _path_sequence(run.between("sampler-job"))
    assert job[:4] == [
        "GET /api/v1/backends", "GET /api/v1/instances/usage", "GET /api/v1/backends/aer_simulator/status",
        "POST /api/v1/jobs",
    ], job
    polls = job[4:-1]
    assert polls and set(polls) == {f"GET /api/v1/jobs/{seen['job_id']}"}, job
    assert job[-1] == f"GET /api/v1/jobs/{seen['job_id']}/results" and seen["program"] == "executor"

    counts = seen["counts"]
    assert set(counts) == {"00", "11"} and sum(counts.values()) == 1000 and 400 < counts["00"] < 600
    assert seen["result_shots"] == 1000
    assert seen["sweep_shape"] == [3]
    assert seen["sweep_counts"][0] == {"0": 400} and seen["sweep_counts"][1] == {"1": 400}
    assert 120 < seen["sweep_counts"][2].get("1", 0) < 280  # rx(pi/2): a fair coin over 400 shots
    twirled = seen["twirled_counts"]  # samplex items: random Paulis undone by the client's decoder
    assert set(twirled) == {"00", "11"} and sum(twirled.values()) >= 1000 and seen["twirled_randomizations"] > 1

    assert abs(seen["zz"] - 1.0) <= 0.05  # measurement-twirled (TREX) by default, 4096 shots
    for value, expected in zip(seen["ry_z"], (1.0, 0.0, -1.0), strict=True):
        assert abs(value - expected) <= 0.05, seen["ry_z"]
    assert seen["estimator_shots"] == 4096

    assert seen["by_hand_type"] == "QuantumProgramResult" and seen["by_hand_shape"] == [3, 64, 1]
    assert seen["by_hand_ones"] == [0, 64, 0] and seen["by_hand_timing_parts"] == 1

    assert seen["dry_backend"] == "mock_simulator" and seen["dry_listed_backend"] == "mock_simulator"
    assert seen["dry_shape"] == [128, 2] and seen["dry_estimate"] > 0 and seen["dry_usage"] == 0
    assert seen["mock_listed"] and seen["mock_hidden"]

    # The server-side estimator: shot-based at IBM's default precision, with IBM's metadata.
    assert seen["legacy_metadata"] == {"target_precision": 0.015625, "shots": 4096, "circuit_metadata": {}}
    assert abs(seen["legacy_ev"]) < 0.1 and abs(seen["legacy_std"] - 1 / 64) < 0.002  # <ZI> of a Bell pair
    assert ":us-east:" in seen["auto_instance"]  # region="us-east" picks the instance by its CRN


def test_instances_plans_calibrations_and_private_jobs(runtime_server, tmp_path):
    """carol's instance: found by name and region, its plan limit counted and enforced, a private job."""
    run = run_scenario(runtime_server, "instances", "carol", tmp_path)
    seen = run.observed
    assert run.refused_hosts == []
    assert seen["by_name"] == seen["by_region"] and ":eu-de:" in seen["by_name"]
    # 0.51 resolves an instance name through Global Search (not the Resource Controller).
    by_name = _path_sequence(run.between("by-name"))
    assert "POST /v3/resources/search" in by_name and not any("/v2/resource_instances" in p for p in by_name)
    assert seen["wrong_region"].startswith("IBMInputValueError") and "us-east" in seen["wrong_region"]
    assert seen["physical_qubits"] == 5
    assert seen["recalibrated"] == "aer_simulator"
    assert seen["unknown_calibration"].startswith("QiskitBackendNotFoundError")

    before, after = seen["usage_before"], seen["usage_after"]
    assert before["usage_consumed_seconds"] == 0 and before["usage_limit_reached"] is False
    assert before["usage_limit_seconds"] == CAROL_INSTANCE.usage_limit_s == before["usage_remaining_seconds"]
    assert before["instance_id"] == seen["by_name"] and set(before["usage_period"]) == {"start_time", "end_time"}
    assert after["usage_consumed_seconds"] > 0 and after["usage_limit_reached"] is True
    assert after["usage_remaining_seconds"] == 0
    assert seen["refused"].startswith("IBMRuntimeError") and "403" in seen["refused"]
    assert "usage_limit_reached" in seen["refused"] or "quantum seconds" in seen["refused"]
    assert any("usage limit" in w for w in seen["limit_warnings"])  # the client's own warning
    assert seen["dry_while_exhausted"] in ("QUEUED", "RUNNING", "DONE")

    assert sum(seen["private_counts"].values()) == 50 and seen["private_inputs"] == {}
    assert "410" in seen["private_second_read"] or "already read" in seen["private_second_read"]

    assert seen["rc_listed"] == [[seen["by_name"], "carol-lab", "eu-de"]]
    assert seen["rc_fetched"] == seen["by_name"] and seen["rc_other"] == 0

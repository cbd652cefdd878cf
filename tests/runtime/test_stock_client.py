"""The stock qiskit-ibm-runtime 0.51 client, unmodified, against the job service's runtime API.

Each scenario runs in a child process that can resolve only loopback names; every test
checks that it refused none (the client reached nothing but the local service).
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from tests.runtime.helpers import run_child, run_scenario


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
    assert paths.count("POST /api/v1/sessions") == 3
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

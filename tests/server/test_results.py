"""Partial results of failed jobs, and private jobs whose result is read once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from qiskit.exceptions import QiskitError
from qiskit.result import Result

from server_helpers import bell


@pytest.fixture(scope="module")
def job_server(engine_job_server):
    """These tests run on SQLite and on PostgreSQL."""
    return engine_job_server


def test_flaky_job_fails_with_readable_partial_results(alice):
    # 60 experiments at p=0.2 on the suite's seeded flaky backend: under this name, 10 fail.
    circuits = [bell(f"c{i}") for i in range(60)]
    job = alice.submit(circuits, backend="flaky_simulator", shots=8, name="partial-60")
    final = alice.wait_final(job["job_id"])
    assert final["status"] == "ERROR_RUNNING_JOB"
    assert "experiments failed" in final["error"]["message"]

    refused = alice.get(f"/jobs/{job['job_id']}/result")
    assert refused.status_code == 409
    assert refused.json()["code"] == "JOB_FAILED"
    assert "partial=true" in refused.json()["message"]

    response = alice.get(f"/jobs/{job['job_id']}/result", params={"partial": "true"})
    assert response.status_code == 200
    result = Result.from_dict(response.json())
    assert result.success is False
    failed = [i for i, e in enumerate(result.results) if not e.success]
    good = [i for i, e in enumerate(result.results) if e.success]
    assert len(failed) == 10 and len(good) == 50
    assert str(len(failed)) in final["error"]["message"]
    assert sum(result.get_counts(good[0]).values()) == 8
    assert result.results[failed[0]].header["name"] == f"c{failed[0]}"
    with pytest.raises(QiskitError):
        result.get_counts(failed[0])


def test_seeded_flaky_failures_differ_between_job_names_and_repeat_under_one(alice):
    circuits = [bell(f"c{i}") for i in range(40)]
    patterns = []
    for name in ("pattern-a", "pattern-b", "pattern-a"):
        job = alice.submit(circuits, backend="flaky_simulator", shots=4, name=name)
        alice.wait_final(job["job_id"])
        data = alice.get(f"/jobs/{job['job_id']}/result", params={"partial": "true"}).json()
        patterns.append([e["success"] for e in data["results"]])
    assert patterns[0] != patterns[1]
    assert patterns[0] == patterns[2]
    assert patterns[0].count(False) == 6 and patterns[1].count(False) == 10


def test_private_result_is_handed_out_once(alice):
    job = alice.submit(private=True)
    assert alice.wait_final(job["job_id"])["status"] == "COMPLETED"
    first = alice.get(f"/jobs/{job['job_id']}/result")
    assert first.status_code == 200
    assert Result.from_dict(first.json()).get_counts()
    second = alice.get(f"/jobs/{job['job_id']}/result")
    assert second.status_code == 410
    assert second.json()["code"] == "RESULT_CONSUMED"
    assert "already read" in second.json()["message"]
    assert alice.get(f"/jobs/{job['job_id']}").json()["result_consumed"] is True


def test_private_result_concurrent_readers_get_it_once(alice):
    job = alice.submit(private=True)
    alice.wait_final(job["job_id"])
    with ThreadPoolExecutor(6) as pool:
        codes = list(pool.map(lambda _: alice.get(f"/jobs/{job['job_id']}/result").status_code, range(6)))
    assert sorted(codes) == [200] + [410] * 5


def test_unseeded_flaky_draws_follow_the_random_job_id_seeded_ones_the_name():
    from prefect_ibmq.server.simulators import _draw_seed

    # A production flaky backend (no seed): two jobs of one name draw differently.
    assert _draw_seed("job-1", "same-name", None) != _draw_seed("job-2", "same-name", None)
    # A seeded one (the suite's): the name decides, whatever the id; another seed, other draws.
    assert _draw_seed("job-1", "same-name", 13) == _draw_seed("job-2", "same-name", 13)
    assert _draw_seed("job-1", "same-name", 13) != _draw_seed("job-1", "other-name", 13)
    assert _draw_seed("job-1", "same-name", 13) != _draw_seed("job-1", "same-name", 14)

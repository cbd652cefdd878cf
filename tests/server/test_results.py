"""Partial results of failed jobs, and private jobs whose result is read once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from qiskit.exceptions import QiskitError
from qiskit.result import Result

from prefect_ibmq.circuits import bell
from tests.helpers import flaky_failed


@pytest.fixture(scope="module")
def job_server(engine_job_server):
    """These tests run on SQLite and on PostgreSQL."""
    return engine_job_server


def test_flaky_job_fails_with_readable_partial_results(alice):
    # 60 experiments at p=0.2 on the suite's seeded flaky backend: which fail follows from the name.
    expected = flaky_failed("partial-60", 60)
    assert 0 < len(expected) < 60  # the seed gives a job with failed and good experiments alike
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
    assert failed == expected and len(good) == 60 - len(expected)
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
    for pattern, name in zip(patterns, ("pattern-a", "pattern-b"), strict=False):
        assert [i for i, ok in enumerate(pattern) if not ok] == flaky_failed(name, 40)


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


def _read(api, job_id: str, key: str | None = None):
    return api.get(f"/jobs/{job_id}/result", headers={"Result-Read-Key": key} if key else None)


def _ack(api, job_id: str, key: str):
    return api.request("DELETE", f"/jobs/{job_id}/result", headers={"Result-Read-Key": key})


def test_private_result_read_with_a_key_is_held_for_that_key_until_acknowledged(alice, bob):
    job = alice.submit(private=True, share_level="global")
    job_id = job["job_id"]
    alice.wait_final(job_id)
    first = _read(alice, job_id, "key-a")
    assert first.status_code == 200 and first.headers["Result-Held"] == "until-acknowledged"
    # The same reader asks again (its answer was lost): the same result, still held.
    again = _read(alice, job_id, "key-a")
    assert again.status_code == 200 and again.json() == first.json()
    # Nobody else gets it: another key, no key, another identity allowed to see the job.
    assert _read(alice, job_id, "key-b").status_code == 410
    assert _read(alice, job_id).status_code == 410
    assert _read(bob, job_id, "key-c").json()["code"] == "RESULT_CONSUMED"
    assert alice.get(f"/jobs/{job_id}").json()["result_consumed"] is False
    wrong = _ack(alice, job_id, "key-b")
    assert wrong.status_code == 409 and "not held for this read key" in wrong.json()["message"]
    assert _ack(alice, job_id, "key-a").status_code == 204
    assert _ack(alice, job_id, "key-a").status_code == 204  # a repeated acknowledgement is harmless
    assert _read(alice, job_id, "key-a").status_code == 410  # acknowledged: gone for everyone
    assert alice.get(f"/jobs/{job_id}").json()["result_consumed"] is True


def test_private_result_concurrent_keyed_readers_one_holds_it(alice):
    job = alice.submit(private=True)
    alice.wait_final(job["job_id"])
    with ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda i: (i, _read(alice, job["job_id"], f"key-{i}").status_code), range(6)))
    winners = [i for i, code in answers if code == 200]
    assert len(winners) == 1 and sorted(code for _, code in answers) == [200] + [410] * 5
    assert _read(alice, job["job_id"], f"key-{winners[0]}").status_code == 200


def test_acknowledging_a_shared_result_keeps_it_and_a_key_is_required(alice):
    job = alice.submit()
    alice.wait_final(job["job_id"])
    read = _read(alice, job["job_id"], "key-a")
    assert read.status_code == 200 and "Result-Held" not in read.headers
    assert _ack(alice, job["job_id"], "key-a").status_code == 204
    assert _read(alice, job["job_id"]).status_code == 200  # not private: it stays readable
    missing = alice.request("DELETE", f"/jobs/{job['job_id']}/result")
    assert missing.status_code == 422 and "Result-Read-Key" in missing.json()["message"]


def test_unseeded_flaky_draws_follow_the_random_job_id_seeded_ones_the_name():
    from prefect_ibmq.server.simulators import _draw_seed

    # A production flaky backend (no seed): two jobs of one name draw differently.
    assert _draw_seed("job-1", "same-name", None) != _draw_seed("job-2", "same-name", None)
    # A seeded one (the suite's): the name decides, whatever the id; another seed, other draws.
    assert _draw_seed("job-1", "same-name", 13) == _draw_seed("job-2", "same-name", 13)
    assert _draw_seed("job-1", "same-name", 13) != _draw_seed("job-1", "other-name", 13)
    assert _draw_seed("job-1", "same-name", 13) != _draw_seed("job-1", "same-name", 14)

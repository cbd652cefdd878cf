"""Tags (order of application, reserved prefix), names, list filters and delete."""

from __future__ import annotations

import logging
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from prefect_ibmq.circuits import bell


@pytest.fixture
def tagged(alice):
    job = alice.submit(tags=["keep", "old", "ibmq_jobset_sweep1"])
    return job["job_id"]


def test_tags_apply_replace_then_add_then_remove(alice, tagged):
    response = alice.request(
        "PATCH", f"/jobs/{tagged}/tags",
        json={"replacement_tags": ["a", "b", "c"], "additional_tags": ["d", "a"], "removal_tags": ["b", "d"]},
    )
    assert response.status_code == 200
    # The jobset tag survives the replacement; "d" was added then removed; no duplicates.
    assert response.json() == {"tags": ["ibmq_jobset_sweep1", "a", "c"]}
    assert alice.get(f"/jobs/{tagged}").json()["tags"] == ["ibmq_jobset_sweep1", "a", "c"]


def test_tags_add_and_remove_only(alice, tagged):
    added = alice.request("PATCH", f"/jobs/{tagged}/tags", json={"additional_tags": ["new"]})
    assert added.json()["tags"] == ["keep", "old", "ibmq_jobset_sweep1", "new"]
    removed = alice.request("PATCH", f"/jobs/{tagged}/tags", json={"removal_tags": ["old"]})
    assert removed.json()["tags"] == ["keep", "ibmq_jobset_sweep1", "new"]


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({}, "at least one"),
        ({"replacement_tags": None, "additional_tags": None, "removal_tags": None}, "at least one"),
        ({"additional_tags": ["ibmq_jobset_x"]}, "ibmq_jobset_x"),
        ({"removal_tags": ["ibmq_jobset_sweep1"]}, "ibmq_jobset_sweep1"),
        ({"replacement_tags": ["ok", "ibmq_jobset_y"]}, "ibmq_jobset_y"),
        ({"additional_tags": [1, 2]}, "additional_tags"),
        ({"additional_tags": "solo"}, "additional_tags"),
        ({"colour": ["red"]}, "colour"),
    ],
)
def test_invalid_tag_updates_are_invalid_tags(alice, tagged, body, named):
    response = alice.request("PATCH", f"/jobs/{tagged}/tags", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "INVALID_TAGS"
    assert named in response.json()["message"]
    assert alice.get(f"/jobs/{tagged}").json()["tags"] == ["keep", "old", "ibmq_jobset_sweep1"]


def test_rename(alice):
    job = alice.submit(name="before")
    response = alice.request("PUT", f"/jobs/{job['job_id']}/name", json={"name": "after"})
    assert response.status_code == 200
    assert response.json() == {"name": "after"}
    assert alice.get(f"/jobs/{job['job_id']}").json()["name"] == "after"
    bad = alice.request("PUT", f"/jobs/{job['job_id']}/name", json={"title": "x"})
    assert bad.status_code == 422 and bad.json()["code"] == "INVALID_REQUEST"


def test_list_filters(alice):
    marker = uuid.uuid4().hex[:8]
    exp = f"exp-{marker}"
    first = alice.submit(name=f"{marker}-alpha", tags=[marker, "x"], experiment_id=exp)
    second = alice.submit(name=f"{marker}-beta", tags=[marker, "y"], backend="noisy_simulator")
    third = alice.submit(name=f"{marker}-gamma", tags=[marker, "x", "y"])
    ids = [first["job_id"], second["job_id"], third["job_id"]]
    for job_id in ids:
        alice.wait_final(job_id)

    def listed(**params):
        response = alice.get("/jobs", params=params)
        assert response.status_code == 200, response.text
        return [job["job_id"] for job in response.json()["jobs"]]

    assert listed(tags=marker) == ids[::-1]  # newest first
    assert listed(tags=[marker, "x"], tags_operator="AND") == [ids[2], ids[0]]
    assert set(listed(tags=[marker, "nope"], tags_operator="OR")) == set(ids)
    assert listed(tags=[marker, "x", "y"], tags_operator="AND") == [ids[2]]
    assert listed(name=f"^{marker}-(alpha|gamma)$") == [ids[2], ids[0]]
    assert listed(tags=marker, backend="noisy_simulator") == [ids[1]]
    assert listed(experiment_id=exp) == [ids[0]]
    assert listed(tags=marker, status="COMPLETED") == ids[::-1]
    assert listed(tags=marker, status=["CANCELLED", "ERROR_RUNNING_JOB"]) == []
    assert listed(tags=marker, limit=1, offset=1) == [ids[1]]
    page = alice.get("/jobs", params={"tags": marker, "limit": 1}).json()
    assert page["total"] == 3 and len(page["jobs"]) == 1

    created = alice.get(f"/jobs/{ids[1]}").json()["creation_date"]
    assert listed(tags=marker, created_after=created) == [ids[2], ids[1]]
    assert listed(tags=marker, created_before=created) == [ids[1], ids[0]]
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert listed(tags=marker, created_after=future) == []


def test_list_bad_filters_are_refused(alice):
    regex = alice.get("/jobs", params={"name": "([unclosed"})
    assert regex.status_code == 400
    assert regex.json()["code"] == "INVALID_REQUEST"
    assert "([unclosed" in regex.json()["message"]
    for params, named in [
        ({"limit": 0}, "limit"),
        ({"limit": 5000}, "limit"),
        ({"status": "SLEEPING"}, "SLEEPING"),
        ({"created_after": "yesterday"}, "created_after"),
        ({"tags_operator": "XOR"}, "tags_operator"),
    ]:
        response = alice.get("/jobs", params=params)
        assert response.status_code == 422, params
        assert response.json()["code"] == "INVALID_REQUEST"
        assert named in response.json()["message"]


def test_delete(alice):
    done = alice.submit()
    alice.wait_final(done["job_id"])
    response = alice.request("DELETE", f"/jobs/{done['job_id']}")
    assert response.status_code == 204
    assert alice.get(f"/jobs/{done['job_id']}").status_code == 404
    assert alice.get(f"/jobs/{done['job_id']}/result").status_code == 404
    assert alice.request("DELETE", f"/jobs/{done['job_id']}").status_code == 404


def test_delete_cancels_a_running_job_first(alice, job_server, caplog):
    caplog.set_level(logging.INFO, logger="prefect_ibmq.server.executor")
    job = alice.submit([bell()] * 40, backend="slow_simulator")  # 40 x 0.5 s if left to run
    job_id = job["job_id"]
    assert alice.wait_for(job_id, {"RUNNING"})["status"] == "RUNNING"
    executor = job_server.service.executor
    assert job_id in executor.running_job_ids()
    assert alice.request("DELETE", f"/jobs/{job_id}").status_code == 204
    missing = alice.get(f"/jobs/{job_id}")
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"
    # The worker let go of the job because it was stopped, not because it ran to the end.
    deadline = time.monotonic() + 60
    while job_id in executor.running_job_ids():
        assert time.monotonic() < deadline, "the worker still runs the deleted job"
        time.sleep(0.05)  # polling a test condition
    ends = [r.getMessage() for r in caplog.records if job_id in r.getMessage()]
    assert f"job {job_id} interrupted" in ends, ends
    assert not any(message.endswith(("COMPLETED", "ERROR_RUNNING_JOB")) for message in ends), ends

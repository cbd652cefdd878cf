"""Authentication, share levels and owner-only changes."""

from __future__ import annotations

import pytest


def test_no_token_or_unknown_token_is_401(anonymous, job_server):
    from tests.server.helpers import Api

    for api in (anonymous, Api(job_server.url, "tok-mallory-secret")):
        response = api.get("/jobs")
        assert response.status_code == 401
        body = response.json()
        assert body["code"] == "UNAUTHORIZED"
        assert "tok-mallory-secret" not in response.text
        assert api.get("/backends").status_code == 401


@pytest.mark.parametrize(
    ("level", "visible"),
    [
        ("none", {"alice"}),
        ("project", {"alice"}),  # bob is in another project
        ("group", {"alice", "bob"}),
        ("hub", {"alice", "bob", "carol"}),
        ("global", {"alice", "bob", "carol", "dave"}),
    ],
)
def test_share_levels(alice, bob, carol, dave, level, visible):
    job = alice.submit(share_level=level, tags=[f"share-{level}"])
    for name, api in {"alice": alice, "bob": bob, "carol": carol, "dave": dave}.items():
        single = api.get(f"/jobs/{job['job_id']}")
        listed = [j["job_id"] for j in api.get("/jobs", params={"tags": f"share-{level}"}).json()["jobs"]]
        if name in visible:
            assert single.status_code == 200, (name, level)
            assert job["job_id"] in listed
        else:
            assert single.status_code == 404, (name, level)
            assert single.json()["code"] == "NOT_FOUND"
            assert job["job_id"] not in listed
            assert api.get(f"/jobs/{job['job_id']}/status").status_code == 404
            assert api.get(f"/jobs/{job['job_id']}/result").status_code == 404


def test_only_the_owner_changes_a_shared_job(alice, bob):
    from prefect_ibmq.circuits import bell

    job = alice.submit([bell()] * 20, backend="slow_simulator", share_level="group")
    job_id = job["job_id"]
    for method, path, body in [
        ("POST", f"/jobs/{job_id}/cancel", None),
        ("PATCH", f"/jobs/{job_id}/tags", {"additional_tags": ["bob-was-here"]}),
        ("PUT", f"/jobs/{job_id}/name", {"name": "bobs"}),
        ("DELETE", f"/jobs/{job_id}", None),
    ]:
        response = bob.request(method, path, json=body)
        assert response.status_code == 403, (method, path)
        assert response.json()["code"] == "FORBIDDEN"
    record = alice.get(f"/jobs/{job_id}").json()
    assert record["status"] not in ("CANCELLED",)
    assert "bob-was-here" not in record["tags"]
    # Bob may still read it.
    assert bob.status(job_id)["job_id"] == job_id

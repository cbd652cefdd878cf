"""Oversized bodies (streamed) and a locked store answer error bodies, never hang."""

from __future__ import annotations

import sqlite3

import pytest
import requests

from prefect_ibmq.circuits import bell
from prefect_ibmq.server import BackendSpec, JobServer, ServerConfig
from prefect_ibmq.wire import circuits_to_base64
from tests.server.helpers import Api


@pytest.fixture
def small_server(job_server, tmp_path):
    config = ServerConfig(
        data_dir=tmp_path,
        tokens=job_server.config.tokens,
        backends=[BackendSpec(name="aer_simulator")],
        workers=1,
        max_body_bytes=4096,
    )
    with JobServer(config) as server:
        yield server


def test_streamed_body_over_the_limit_is_413(small_server, tokens):
    api = Api(small_server.url, tokens["alice"])

    def chunks():  # no Content-Length: the server must count what arrives
        for _ in range(10):
            yield b"x" * 1024

    response = api.request("POST", "/jobs", data=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413
    assert response.json()["code"] == "PAYLOAD_TOO_LARGE"
    assert "4096" in response.json()["message"]
    assert api.get("/jobs").json()["total"] == 0
    # A body within the limit still works.
    assert api.submit([bell()])["status"] == "CREATED"


def test_locked_store_answers_503_with_retry_after(small_server, tokens):
    api = Api(small_server.url, tokens["alice"])
    blocker = sqlite3.connect(small_server.config.data_dir / "jobs.sqlite3", timeout=0)
    try:
        blocker.execute("BEGIN EXCLUSIVE")  # another writer holds the database
        response = api.request("POST", "/jobs", json={"backend": "aer_simulator", "qpy": circuits_to_base64([bell()])})
        assert response.status_code == 503
        assert response.json()["code"] == "SERVICE_UNAVAILABLE"
        assert response.headers["Retry-After"].isdigit()
    finally:
        blocker.rollback()
        blocker.close()
    # Once the lock is gone the same request succeeds.
    assert api.submit([bell()])["status"] == "CREATED"


def test_the_limits_are_published_to_a_caller_and_not_to_anyone(job_server, tokens):
    api = Api(job_server.url, tokens["alice"])
    published = api.get("/limits")
    assert published.status_code == 200
    assert published.json() == job_server.config.limits.model_dump(mode="json")
    assert published.json()["server_share"] == 1.0  # the suite's own, not the default 0.25
    anonymous = requests.get(f"{job_server.url}/v1/limits", timeout=30)
    assert anonymous.status_code == 401

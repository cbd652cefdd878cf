"""Helpers for the job service's tests: a small HTTP client per identity and QPY bodies.

Everything goes over real HTTP to the session's ``job_server`` (or to servers a
test starts itself); nothing of the server is imported except to start one.
"""

from __future__ import annotations

import time

import requests

from prefect_ibmq.circuits import bell
from prefect_ibmq.wire import circuits_to_base64

FINAL = {"COMPLETED", "CANCELLED", "ERROR_CREATING_JOB", "ERROR_VALIDATING_JOB", "ERROR_RUNNING_JOB"}
LIFECYCLE = ["CREATING", "CREATED", "VALIDATING", "VALIDATED", "QUEUED", "RUNNING", "COMPLETED"]


class Api:
    """One identity talking to one server."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url = url.rstrip("/")
        self.session = requests.Session()
        if token is not None:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.submitted: list[str] = []

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 90)
        return self.session.request(method, f"{self.url}/v1{path}", **kwargs)

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def submit(self, circuits=None, backend: str = "aer_simulator", shots: int = 16, **fields) -> dict:
        body = {"backend": backend, "qpy": circuits_to_base64(circuits or [bell()]), "options": {"shots": shots}}
        body.update(fields)
        response = self.request("POST", "/jobs", json=body)
        assert response.status_code == 201, response.text
        job = response.json()
        self.submitted.append(job["job_id"])
        return job

    def status(self, job_id: str, **params) -> dict:
        response = self.get(f"/jobs/{job_id}/status", params=params)
        assert response.status_code == 200, response.text
        return response.json()

    def wait_for(self, job_id: str, statuses: set[str], limit_s: float = 60) -> dict:
        """Long-poll until the job is in one of ``statuses`` (or final)."""
        answer = self.status(job_id)
        waited = 0.0
        while answer["status"] not in statuses and answer["status"] not in FINAL:
            answer = self.status(job_id, wait=10, known=answer["status"])
            waited += 10 if answer["timed_out"] else 0
            assert waited < limit_s, f"job {job_id} stuck in {answer['status']}"
        return answer

    def wait_final(self, job_id: str) -> dict:
        return self.wait_for(job_id, FINAL)

    def cancel_all(self) -> None:
        """Cancel whatever this identity left unfinished (keeps the shared server's workers free)."""
        for job_id in self.submitted:
            self.request("POST", f"/jobs/{job_id}/cancel")




def parked_long_polls(api: Api, at_least: int, limit_s: float = 30.0) -> int:
    """Wait until the server counts ``at_least`` status requests parked in a long-poll (``GET /v1/stats``)."""
    deadline = time.monotonic() + limit_s
    while (parked := api.get("/stats").json()["long_polls_waiting"]) < at_least:
        assert time.monotonic() < deadline, f"only {parked} of {at_least} long-polls parked after {limit_s} s"
        time.sleep(0.02)  # a look at the server's state, again until it holds
    return parked

"""Bad input, table-driven: each case through the public API (a typed exception whose
message names the bad value) and through raw HTTP (a 4xx ErrorBody naming it), where
that path exists, with nothing submitted (the server's job count is the same before
and after) and the server healthy afterwards. The ``tally`` counts what ran, failures
included, for out/reliability.json.
"""

from __future__ import annotations

import http.client
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from qiskit import QuantumCircuit
from qiskit.circuit import Instruction

from prefect_ibmq import IBMQService
from prefect_ibmq.exceptions import (
    IBMQBackendNotFoundError,
    IBMQBackendValueError,
    IBMQJobAccessError,
    IBMQJobInvalidStateError,
    IBMQJobNotFoundError,
    IBMQJobResultConsumedError,
)
from prefect_ibmq.wire import ErrorBody, circuits_to_base64, qpy_bytes_to_base64
from tests.helpers import TOKENS

UNKNOWN_ID = "0badc0de" * 3


def _bell(name: str = "bell") -> QuantumCircuit:
    qc = QuantumCircuit(2, 2, name=name)
    qc.h(0)
    qc.cx(0, 1)
    qc.measure([0, 1], [0, 1])
    return qc


def _wide() -> QuantumCircuit:
    qc = QuantumCircuit(30, 30, name="wide30")
    qc.measure(range(30), range(30))
    return qc


def _unmeasured() -> QuantumCircuit:
    qc = QuantumCircuit(1, name="quiet")
    qc.x(0)
    return qc


def _mystery() -> QuantumCircuit:
    qc = QuantumCircuit(1, 1, name="odd")
    qc.append(Instruction("mystery_op", 1, 0, []), [0])
    qc.measure(0, 0)
    return qc


class Ctx:
    """What the cases act on: alice's service and raw session, and jobs in known states."""

    def __init__(self, url: str, token: str) -> None:
        self.url, self.token = url, token
        self.service = IBMQService(url, token)
        self.aer = self.service.backend("aer_simulator")
        self.http = requests.Session()
        self.http.headers["Authorization"] = f"Bearer {token}"
        done = self.aer.run(_bell(), shots=8, job_tags=["bad-input-setup"])
        done.wait_for_final_state(timeout=60)
        self.done_id = done.job_id()
        slow = self.service.backend("slow_simulator")
        cancelled = slow.run([_bell()] * 10, shots=8, job_tags=["bad-input-setup"])
        assert cancelled.cancel()
        self.cancelled_id = cancelled.job_id()
        private = self.aer.run(_bell(), shots=8, private=True, job_tags=["bad-input-setup"])
        private.result(timeout=60)  # the one read a private job allows
        self.private_id = private.job_id()

    def post_job(self, **fields: Any) -> requests.Response:
        body = {"backend": "aer_simulator", "qpy": circuits_to_base64([_bell()]), "options": {"shots": 8}}
        body.update(fields)
        return self.http.post(f"{self.url}/v1/jobs", json=body, timeout=30)

    def job_count(self) -> int:
        return self.http.get(f"{self.url}/v1/jobs", params={"limit": 1}, timeout=30).json()["total"]


@dataclass(frozen=True)
class Case:
    id: str
    #: Public API: a call, the exception it raises and text its message names (None: no client path).
    client: Callable[[Ctx], Any] | None
    error: type[Exception] | None
    client_names: str
    #: Raw HTTP: a request, the 4xx status and text the ErrorBody's message names.
    http: Callable[[Ctx], requests.Response] | None
    status: int
    http_names: str


def _oversized(ctx: Ctx) -> requests.Response:
    """Declare a body over the limit; the server answers before reading it."""
    parts = urlsplit(ctx.url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest("POST", "/v1/jobs")
        conn.putheader("Authorization", f"Bearer {ctx.token}")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(10**9))
        conn.endheaders()
        answer = conn.getresponse()
        fake = requests.Response()
        fake.status_code, fake._content = answer.status, answer.read()
        return fake
    finally:
        conn.close()


CASES = [
    Case("malformed-qpy",
         lambda c: c.aer.run(["not a circuit"]), IBMQBackendValueError, "str",
         lambda c: c.post_job(qpy=qpy_bytes_to_base64(b"definitely not qpy")), 400, "QPY"),
    Case("qpy-not-base64",  # the client always encodes its QPY itself: no public-API path
         None, None, "",
         lambda c: c.post_job(qpy="%%% not base64 %%%"), 400, "base64"),
    Case("no-circuits",
         lambda c: c.aer.run([]), IBMQBackendValueError, "empty",
         lambda c: c.post_job(qpy=circuits_to_base64([])), 400, "no circuits"),
    Case("circuit-wider-than-backend",
         lambda c: c.aer.run(_wide()), IBMQBackendValueError, "30 qubits",
         lambda c: c.post_job(qpy=circuits_to_base64([_bell(), _wide()])), 422, "30 qubits"),
    Case("unknown-instruction",
         lambda c: c.aer.run(_mystery()), IBMQBackendValueError, "mystery_op",
         lambda c: c.post_job(qpy=circuits_to_base64([_mystery()])), 422, "mystery_op"),
    Case("no-measurements",
         lambda c: c.aer.run(_unmeasured()), IBMQBackendValueError, "'quiet'",
         lambda c: c.post_job(qpy=circuits_to_base64([_unmeasured()])), 422, "'quiet'"),
    Case("zero-shots",
         lambda c: c.aer.run(_bell(), shots=0), IBMQBackendValueError, "shots=0",
         lambda c: c.post_job(options={"shots": 0}), 422, "shots=0"),
    Case("negative-shots",
         lambda c: c.aer.run(_bell(), shots=-5), IBMQBackendValueError, "shots=-5",
         lambda c: c.post_job(options={"shots": -5}), 422, "shots=-5"),
    Case("too-many-shots",
         lambda c: c.aer.run(_bell(), shots=200_000), IBMQBackendValueError, "shots=200000",
         lambda c: c.post_job(options={"shots": 200_000}), 422, "shots=200000"),
    Case("shots-not-an-int",
         lambda c: c.aer.run(_bell(), shots="many"), IBMQBackendValueError, "'many'",
         lambda c: c.post_job(options={"shots": "many"}), 422, "'many'"),
    Case("too-many-experiments",
         lambda c: c.aer.run([_bell()] * 301), IBMQBackendValueError, "301 circuits",
         lambda c: c.post_job(qpy=circuits_to_base64([_bell()] * 301)), 422, "301 circuits"),
    Case("unknown-backend",
         lambda c: c.service.backend("nope_simulator"), IBMQBackendNotFoundError, "nope_simulator",
         lambda c: c.post_job(backend="nope_simulator"), 404, "nope_simulator"),
    Case("tags-not-a-list",
         lambda c: c.aer.run(_bell(), job_tags="solo"), IBMQBackendValueError, "job_tags='solo'",
         lambda c: c.post_job(tags="solo"), 422, "tags='solo'"),
    Case("tags-not-strings",
         lambda c: c.aer.run(_bell(), job_tags=[7, 8]), IBMQBackendValueError, "[7, 8]",
         lambda c: c.post_job(tags=[7]), 422, "tags.0=7"),
    Case("name-not-a-string",
         lambda c: c.aer.run(_bell(), job_name=12345), IBMQBackendValueError, "job_name=12345",
         lambda c: c.post_job(name=12345), 422, "name=12345"),
    Case("bad-share-level",
         lambda c: c.aer.run(_bell(), share_level="everyone"), IBMQBackendValueError, "'everyone'",
         lambda c: c.post_job(share_level="everyone"), 422, "'everyone'"),
    Case("unknown-field",
         lambda c: c.aer.run(_bell(), header="hdr"), IBMQBackendValueError, "header='hdr'",
         lambda c: c.post_job(colour="red"), 422, "colour"),
    Case("seed-not-an-int",
         lambda c: c.aer.run(_bell(), seed_simulator="x1"), IBMQBackendValueError, "seed_simulator='x1'",
         lambda c: c.post_job(options={"shots": 8, "seed_simulator": "x1"}), 422, "'x1'"),
    Case("negative-timeout",
         lambda c: c.service.job(c.done_id).wait_for_final_state(timeout=-3), IBMQJobInvalidStateError,
         "timeout=-3",
         lambda c: c.http.get(f"{c.url}/v1/jobs/{c.done_id}/status", params={"wait": -3}, timeout=30), 422,
         "wait='-3'"),
    Case("unknown-job-id",
         lambda c: c.service.job(UNKNOWN_ID), IBMQJobNotFoundError, UNKNOWN_ID,
         lambda c: c.http.get(f"{c.url}/v1/jobs/{UNKNOWN_ID}", timeout=30), 404, UNKNOWN_ID),
    Case("cancel-a-finished-job",
         # The legacy API's cancel() answers False for a final job; the task and HTTP say why.
         None, None, "",
         lambda c: c.http.post(f"{c.url}/v1/jobs/{c.done_id}/cancel", timeout=30), 409, "COMPLETED"),
    Case("result-of-a-cancelled-job",
         lambda c: c.service.job(c.cancelled_id).result(), IBMQJobInvalidStateError, "cancelled",
         lambda c: c.http.get(f"{c.url}/v1/jobs/{c.cancelled_id}/result", timeout=30), 409, "CANCELLED"),
    Case("malformed-json",  # the client always sends well-formed JSON: no public-API path
         None, None, "",
         lambda c: c.http.post(f"{c.url}/v1/jobs", data=b'{"backend": "aer_simulator", qpy',
                               headers={"Content-Type": "application/json"}, timeout=30),
         422, "malformed JSON"),
    Case("empty-token",
         lambda c: IBMQService(c.url, ""), IBMQBackendValueError, "token",
         lambda c: requests.get(f"{c.url}/v1/jobs", headers={"Authorization": "Bearer "}, timeout=30), 401,
         "missing bearer token"),
    Case("oversized-body", None, None, "", _oversized, 413, "1000000000 bytes"),
    Case("wrong-token",
         lambda c: IBMQService(c.url, "tok-mallory-wrong").backends(), IBMQJobAccessError, "token",
         lambda c: requests.get(f"{c.url}/v1/jobs", headers={"Authorization": "Bearer tok-mallory-wrong"},
                                timeout=30), 401, "unknown bearer token"),
    Case("missing-token",
         lambda c: IBMQService(c.url, None), IBMQBackendValueError, "token",
         lambda c: requests.get(f"{c.url}/v1/jobs", timeout=30), 401, "missing bearer token"),
    Case("second-read-of-a-private-result",
         lambda c: c.service.job(c.private_id).result(), IBMQJobResultConsumedError, "private",
         lambda c: c.http.get(f"{c.url}/v1/jobs/{c.private_id}/result", timeout=30), 410, "already read"),
    Case("bad-status-filter",
         lambda c: c.service.jobs(status="SOMETIMES"), IBMQBackendValueError, "'SOMETIMES'",
         lambda c: c.http.get(f"{c.url}/v1/jobs", params={"status": "SOMETIMES"}, timeout=30), 422,
         "'SOMETIMES'"),
    Case("list-limit-out-of-range",
         lambda c: c.service.jobs(limit=0), IBMQBackendValueError, "limit=0",
         lambda c: c.http.get(f"{c.url}/v1/jobs", params={"limit": 0}, timeout=30), 422, "limit='0'"),
    Case("bad-name-regex",
         lambda c: c.service.jobs(job_name="(unclosed"), IBMQBackendValueError, "(unclosed",
         lambda c: c.http.get(f"{c.url}/v1/jobs", params={"name": "(unclosed"}, timeout=30), 400, "(unclosed"),
    Case("reserved-tag-update",
         lambda c: c.service.job(c.done_id).update_tags(additional_tags=["ibmq_jobset_mine"]),
         IBMQJobInvalidStateError, "ibmq_jobset_mine",
         lambda c: c.http.patch(f"{c.url}/v1/jobs/{c.done_id}/tags",
                                json={"additional_tags": ["ibmq_jobset_mine"]}, timeout=30), 400,
         "ibmq_jobset_mine"),
    Case("rename-to-a-non-string",
         lambda c: c.service.job(c.done_id).update_name(404), IBMQJobInvalidStateError, "404",
         lambda c: c.http.put(f"{c.url}/v1/jobs/{c.done_id}/name", json={"name": 404}, timeout=30), 422,
         "name=404"),
    Case("idempotency-key-too-long",
         lambda c: c.aer.run(_bell(), idempotency_key="k" * 300), IBMQBackendValueError, "Idempotency-Key",
         lambda c: c.http.post(f"{c.url}/v1/jobs",
                               json={"backend": "aer_simulator", "qpy": circuits_to_base64([_bell()])},
                               headers={"Idempotency-Key": "k" * 300}, timeout=30), 422, "Idempotency-Key"),
    Case("idempotency-key-not-a-string",  # HTTP headers are always text: no raw-HTTP path
         lambda c: c.aer.run(_bell(), idempotency_key=42), IBMQBackendValueError, "idempotency_key=42",
         None, 0, ""),
]


@pytest.fixture(scope="module")
def ctx(job_server) -> Ctx:
    return Ctx(job_server.url, TOKENS["alice"][0])


@pytest.fixture(scope="module")
def tally(figures):
    """What the cases did, counted as they ran (a failing case counts too) and recorded at the end."""
    seen: dict[str, int] = {"tried": 0, "passed": 0, "client_tried": 0, "client_passed": 0, "http_tried": 0,
                            "http_passed": 0, "jobs_submitted": 0}
    yield seen
    figures.record(
        "bad_input", bad_inputs_tried=seen["tried"], bad_inputs_passed=seen["passed"],
        through_public_api=seen["client_tried"], through_public_api_passed=seen["client_passed"],
        through_raw_http=seen["http_tried"], through_raw_http_passed=seen["http_passed"],
        jobs_submitted_by_bad_input=seen["jobs_submitted"],
    )


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input(ctx, tally, case):
    tally["tried"] += 1
    before = ctx.job_count()
    try:
        if case.client is not None:
            tally["client_tried"] += 1
            with pytest.raises(case.error) as caught:
                case.client(ctx)
            assert case.client_names in str(caught.value)
            assert ctx.token not in str(caught.value)
            tally["client_passed"] += 1
        if case.http is not None:
            tally["http_tried"] += 1
            response = case.http(ctx)
            assert response.status_code == case.status, response.content
            body = ErrorBody.model_validate(json.loads(response.content))
            assert case.http_names in body.message, body.message
            assert ctx.token not in response.content.decode()
            tally["http_passed"] += 1
    finally:
        submitted = ctx.job_count() - before
        tally["jobs_submitted"] += submitted
    assert submitted == 0, "bad input must not submit anything"
    assert requests.get(f"{ctx.url}/v1/health", timeout=10).json()["status"] == "ok"
    tally["passed"] += 1


def test_cancelling_a_finished_job_through_the_api_changes_nothing(ctx):
    job = ctx.service.job(ctx.done_id)
    assert job.cancel() is False
    assert ctx.service.job(ctx.done_id).record.status.value == "COMPLETED"


def test_server_still_runs_jobs_after_the_bad_input(ctx):
    tag = f"after-bad-{uuid.uuid4().hex[:6]}"
    job = ctx.aer.run([_bell()] * 3, shots=32, job_tags=[tag])
    counts = job.result(timeout=60).get_counts()
    assert all(sum(c.values()) == 32 for c in counts)

"""Submitting: idempotency, bad bodies (nothing stored) and validation failures."""

from __future__ import annotations

import http.client
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest
from qiskit import QuantumCircuit
from qiskit.circuit import Instruction

from prefect_ibmq.circuits import bell
from prefect_ibmq.server.limit_checks import OverLimit, check_count, check_width
from prefect_ibmq.wire import circuits_to_base64, qpy_bytes_to_base64
from tests.server.helpers import Api


@pytest.fixture(scope="module")
def job_server(engine_job_server):
    """These tests run on SQLite and on PostgreSQL."""
    return engine_job_server


def _jobs_with_tag(api, tag):
    body = api.get("/jobs", params={"tags": tag}).json()
    return body["jobs"], body["total"]


def test_same_idempotency_key_gives_the_same_job(alice):
    key, tag = str(uuid.uuid4()), f"idem-{uuid.uuid4()}"
    body = {"backend": "aer_simulator", "qpy": circuits_to_base64([bell()]), "tags": [tag]}
    first = alice.request("POST", "/jobs", json=body, headers={"Idempotency-Key": key})
    again = alice.request("POST", "/jobs", json=body, headers={"Idempotency-Key": key})
    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json()["job_id"] == first.json()["job_id"]
    jobs, total = _jobs_with_tag(alice, tag)
    assert total == 1


def test_same_key_from_another_identity_is_another_job(alice, bob):
    key = str(uuid.uuid4())
    body = {"backend": "aer_simulator", "qpy": circuits_to_base64([bell()])}
    a = alice.request("POST", "/jobs", json=body, headers={"Idempotency-Key": key})
    b = bob.request("POST", "/jobs", json=body, headers={"Idempotency-Key": key})
    assert (a.status_code, b.status_code) == (201, 201)
    assert a.json()["job_id"] != b.json()["job_id"]


def test_concurrent_identical_posts_make_one_job(job_server, tokens):
    key, tag = str(uuid.uuid4()), f"idem-{uuid.uuid4()}"
    body = {"backend": "aer_simulator", "qpy": circuits_to_base64([bell()]), "tags": [tag]}

    def post(_):
        api = Api(job_server.url, tokens["alice"])  # one session per thread
        return api.request("POST", "/jobs", json=body, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(8) as pool:
        responses = list(pool.map(post, range(8)))
    assert sorted(r.status_code for r in responses) == [200] * 7 + [201]
    assert len({r.json()["job_id"] for r in responses}) == 1
    jobs, total = _jobs_with_tag(Api(job_server.url, tokens["alice"]), tag)
    assert total == 1


def _not_qpy() -> str:
    return qpy_bytes_to_base64(b"definitely not a QPY file")


def _empty_qpy() -> str:
    return circuits_to_base64([])


BAD_BODIES = [
    ({"qpy": "@@not base64@@"}, 400, "base64"),
    ({"qpy": _not_qpy()}, 400, "QPY"),
    ({"qpy": _empty_qpy()}, 400, "no circuits"),
    ({"options": {"shots": 0}}, 422, "options.shots"),
    ({"options": {"shots": "many"}}, 422, "options.shots"),
    ({"share_level": "friends"}, 422, "share_level"),
    ({"surprise": 1}, 422, "surprise"),
    ({"tags": "not-a-list"}, 422, "tags"),
    ({"qpy": None}, 422, "qpy"),
]


@pytest.mark.parametrize(("change", "status", "named"), BAD_BODIES)
def test_bad_bodies_are_refused_and_nothing_is_stored(dave, change, status, named):
    before = dave.get("/jobs").json()["total"]
    body = {"backend": "aer_simulator", "qpy": circuits_to_base64([bell()])}
    body.update(change)
    response = dave.request("POST", "/jobs", json=body)
    assert response.status_code == status, response.text
    error = response.json()
    assert error["code"] == "INVALID_REQUEST"
    assert named in error["message"]
    assert dave.get("/jobs").json()["total"] == before


def test_malformed_json_is_invalid_request(dave):
    response = dave.request(
        "POST", "/jobs", data=b'{"backend": "aer_simulator", ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["code"] == "INVALID_REQUEST"
    assert "JSON" in response.json()["message"]


def test_unknown_backend_is_not_found(dave):
    before = dave.get("/jobs").json()["total"]
    response = dave.request("POST", "/jobs", json={"backend": "no_such_backend", "qpy": circuits_to_base64([bell()])})
    assert response.status_code == 404
    assert response.json()["code"] == "NOT_FOUND"
    assert "no_such_backend" in response.json()["message"]
    assert "aer_simulator" in response.json()["message"]
    assert dave.get("/jobs").json()["total"] == before


def test_unknown_route_and_bad_query_are_error_bodies(alice):
    missing = alice.get("/nothing/here")
    assert missing.status_code == 404
    assert missing.json()["code"] == "NOT_FOUND"
    bad_wait = alice.get("/jobs/whatever/status", params={"wait": 999})
    assert bad_wait.status_code == 422
    assert bad_wait.json()["code"] == "INVALID_REQUEST"
    assert "wait" in bad_wait.json()["message"] and "999" in bad_wait.json()["message"]


def test_declared_oversized_body_is_413(job_server, tokens):
    url = urlparse(job_server.url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
    conn.putrequest("POST", "/v1/jobs")
    conn.putheader("Authorization", f"Bearer {tokens['alice']}")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(job_server.config.max_body_bytes + 1))
    conn.endheaders()
    response = conn.getresponse()
    body = json.loads(response.read())
    conn.close()
    assert response.status == 413
    assert body["code"] == "PAYLOAD_TOO_LARGE"


def _wide(n):
    qc = QuantumCircuit(n, n, name="wide")
    qc.measure(range(n), range(n))
    return qc


def _unmeasured():
    qc = QuantumCircuit(1, name="quiet")
    qc.x(0)
    return qc


def _mystery():
    qc = QuantumCircuit(1, 1, name="odd")
    qc.append(Instruction("mystery", 1, 0, []), [0])
    qc.measure(0, 0)
    return qc


def _nested_mystery():
    """A gate with a definition (so it passes the submit checks) that no transpile can run."""
    inner = QuantumCircuit(1, name="inner")
    inner.append(Instruction("mystery", 1, 0, []), [0])
    outer = inner.to_instruction()
    outer.name = "wrapper"
    qc = QuantumCircuit(1, 1, name="nested")
    qc.append(outer, [0])
    qc.measure(0, 0)
    return qc


@pytest.mark.parametrize(
    ("backend", "circuits", "shots", "expected"),
    [
        ("noisy_simulator", [bell(), _wide(6)], 16, ["circuit 1", "6 qubits"]),
        ("aer_simulator", [bell(), bell(), _unmeasured()], 16, ["circuit 2", "no measurements"]),
        ("aer_simulator", [bell(), _mystery()], 16, ["circuit 1", "mystery"]),
        ("aer_simulator", [bell()], 200_000, ["shots=200000", "max_shots=100000"]),
        ("aer_simulator", [bell()] * 301, 16, ["301 circuits", "max_experiments=300"]),
    ],
)
def test_what_can_never_run_is_refused_at_submit(alice, backend, circuits, shots, expected):
    tag = f"never-{uuid.uuid4()}"
    body = {"backend": backend, "qpy": circuits_to_base64(circuits), "options": {"shots": shots}, "tags": [tag]}
    response = alice.request("POST", "/jobs", json=body)
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["code"] == "INVALID_REQUEST"
    for text in expected:
        assert text in error["message"]
    assert _jobs_with_tag(alice, tag) == ([], 0)  # nothing stored


def test_the_qpy_scan_refuses_in_the_words_of_the_checks(job_server, alice):
    # The QPY header is read before decoding; what it refuses reads as the decoded circuits' checks would say it.
    aer, noisy = (next(spec for spec in job_server.config.backends if spec.name == name)
                  for name in ("aer_simulator", "noisy_simulator"))
    cases = [("aer_simulator", [bell()] * 301, lambda: check_count(301, "circuits", aer)),
             ("noisy_simulator", [bell(), _wide(6)], lambda: check_width("circuit 1", _wide(6), noisy))]
    for backend, circuits, check in cases:
        with pytest.raises(OverLimit) as checked:
            check()
        body = {"backend": backend, "qpy": circuits_to_base64(circuits), "options": {"shots": 16}}
        response = alice.request("POST", "/jobs", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["message"] == f"qpy: {checked.value}"


def test_validation_failures_name_the_circuit(alice):
    # What only the transpiler can find out fails in the background, as ERROR_VALIDATING_JOB.
    job = alice.submit([bell(), _nested_mystery()], backend="aer_simulator", shots=16)
    assert job["status"] == "CREATED"  # validation happens after the answer
    final = alice.wait_final(job["job_id"])
    assert final["status"] == "ERROR_VALIDATING_JOB"
    for text in ("circuit 1", "nested", "mystery"):
        assert text in final["error"]["message"]
    record = alice.get(f"/jobs/{job['job_id']}").json()
    assert list(record["time_per_step"]) == ["CREATING", "CREATED", "VALIDATING", "ERROR_VALIDATING_JOB"]
    result = alice.get(f"/jobs/{job['job_id']}/result")
    assert result.status_code == 409 and result.json()["code"] == "INVALID_STATE"


def test_noisy_backend_transpiles_what_it_cannot_run_as_is(alice):
    qc = QuantumCircuit(3, 3, name="ghz")
    qc.h(0)
    qc.cx(0, 1)
    qc.ccx(0, 1, 2)  # not in the noisy basis: needs transpiling
    qc.measure(range(3), range(3))
    job = alice.submit([qc], backend="noisy_simulator", shots=64)
    assert alice.wait_final(job["job_id"])["status"] == "COMPLETED"
    data = alice.get(f"/jobs/{job['job_id']}/result").json()
    counts = data["results"][0]["data"]["counts"]
    assert sum(counts.values()) == 64
    assert data["results"][0]["header"]["name"] == "ghz"

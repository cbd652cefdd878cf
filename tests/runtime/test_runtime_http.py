"""The runtime API at the HTTP level: IBM's error shape, nothing stored on bad input, restarts.

The stock client checks most input before sending it, so bad input is sent here as raw
requests (encoded with the client's own RuntimeEncoder where the body must be valid).
"""

from __future__ import annotations

import json
import time

import pytest
import requests
from qiskit import QuantumCircuit
from qiskit_ibm_runtime import RuntimeDecoder, RuntimeEncoder

from prefect_ibmq.exceptions import IBMQJobAccessError
from prefect_ibmq.runtime.local import local_instance
from prefect_ibmq.server import JobServer
from prefect_ibmq.server.rows import NewJob
from prefect_ibmq.server.runtime.crn import instance_crn
from prefect_ibmq.server.store import SessionClosed
from prefect_ibmq.wire import ApiJobStatus, RunOptions
from tests.helpers import TOKENS
from tests.runtime.helpers import runtime_config

GRANT = "urn:ibm:params:oauth:grant-type:apikey"


def _bell(qubits: int = 2) -> QuantumCircuit:
    circuit = QuantumCircuit(qubits, 2)
    circuit.rz(1.5707963267948966, 0)
    circuit.sx(0)
    circuit.rz(1.5707963267948966, 0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


def _sampler_body(circuit: QuantumCircuit, backend: str = "aer_simulator", shots: int = 100, **extra) -> str:
    params = {"pubs": [(circuit, None, shots)], "options": {}, "version": 2, "support_qiskit": True}
    return json.dumps({"program_id": "sampler", "backend": backend, "params": params, **extra}, cls=RuntimeEncoder)


class Runtime:
    """Raw HTTP to the runtime API as one identity (the JWT from POST /identity/token)."""

    def __init__(self, url: str, user: str) -> None:
        token, identity = TOKENS[user]
        answer = requests.post(f"{url}/identity/token", data={"grant_type": GRANT, "apikey": token}, timeout=10)
        answer.raise_for_status()
        self.url = url + "/api/v1"
        self.headers = {
            "Authorization": f"Bearer {answer.json()['access_token']}",
            "Service-CRN": instance_crn(identity),
        }

    def call(self, method: str, path: str, body: str | None = None, **kwargs) -> requests.Response:
        headers = dict(self.headers, **({"Content-Type": "application/json"} if body is not None else {}))
        return requests.request(method, self.url + path, data=body, headers=headers, timeout=30, **kwargs)


def _ibm_error(response: requests.Response, status: int, code: str, *words: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    errors = response.json()["errors"]
    assert len(errors) == 1 and errors[0]["code"] == code, errors
    for word in words:
        assert word in errors[0]["message"], (word, errors[0]["message"])


def test_bad_input_answers_ibm_errors_and_stores_nothing(runtime_server):
    url = runtime_server.url
    store = runtime_server.service.store
    alice = Runtime(url, "alice")
    jobs_before = len(store.jobs_in(list(ApiJobStatus)))

    assert local_instance(url, TOKENS["bob"][0]) == instance_crn(TOKENS["bob"][1])
    with pytest.raises(IBMQJobAccessError, match="does not know this token") as refused:
        local_instance(url, "nope-secret")
    assert "nope-secret" not in str(refused.value)
    bad_key = requests.post(f"{url}/identity/token", data={"grant_type": GRANT, "apikey": "nope"}, timeout=10)
    _ibm_error(bad_key, 400, "BXNIM0415E", "API key could not be found")
    assert "nope" not in bad_key.text
    _ibm_error(
        requests.post(f"{url}/identity/token", data={"grant_type": "password"}, timeout=10),
        400,
        "unsupported_grant_type",
        "'password'",
    )
    _ibm_error(requests.get(f"{url}/api/v1/backends", timeout=10), 401, "unauthorized", "missing")
    forged = dict(alice.headers, Authorization=alice.headers["Authorization"][:-4] + "AAAA")
    _ibm_error(requests.get(f"{url}/api/v1/backends", headers=forged, timeout=10), 401, "unauthorized", "invalid")
    other = dict(alice.headers, **{"Service-CRN": instance_crn(TOKENS["dave"][1])})
    _ibm_error(requests.get(f"{url}/api/v1/backends", headers=other, timeout=10), 403, "forbidden", "no access")

    good = _sampler_body(_bell())
    tagged_type = good.replace('"__type__": "QuantumCircuit"', '"__type__": "settings"', 1)
    cases = [
        (_sampler_body(_bell()).replace('"sampler"', '"executor"'), 400, "invalid_program", "'executor'", "sampler"),
        (_sampler_body(_bell(), backend="ibm_nowhere"), 400, "invalid_backend", "ibm_nowhere", "aer_simulator"),
        (_sampler_body(_bell(6)), 400, "invalid_params", "6 qubits"),
        (_sampler_body(_bell(), shots=10**9), 400, "invalid_params", "shots=1000000000"),
        (tagged_type, 400, "invalid_params", "'settings'"),
        (good.replace('"__value__": "', '"__value__": "!!', 1), 400, "invalid_params", "malformed QuantumCircuit"),
        ('{"program_id": "sampler", "backend": "aer_simulator"}', 400, "invalid_request", "params"),
        (
            '{"program_id": "sampler", "backend": "aer_simulator", "params": {"pubs": []}}',
            400,
            "invalid_params",
            "non-empty",
        ),
        (_sampler_body(_bell(), session_id="no-such-session"), 404, "not_found", "no-such-session"),
        (_sampler_body(_bell(), tags=[1, 2]), 400, "invalid_request", "tags"),
        ("{not json", 400, "invalid_request", "JSON"),
    ]
    estimator = json.dumps(
        {"program_id": "estimator", "backend": "aer_simulator", "params": {"pubs": [[_bell()]], "version": 2}},
        cls=RuntimeEncoder,
    )
    cases.append((estimator, 400, "invalid_params", "observables"))
    for body, status, code, *words in cases:
        _ibm_error(alice.call("POST", "/jobs", body), status, code, *words)

    session = alice.call("POST", "/sessions", json.dumps({"mode": "batch", "backend": "aer_simulator"})).json()
    assert alice.call("PATCH", f"/sessions/{session['id']}", json.dumps({"accepting_jobs": False})).status_code == 204
    _ibm_error(
        alice.call("POST", "/jobs", _sampler_body(_bell(), session_id=session["id"])),
        409,
        "session_closed",
        session["id"],
    )
    # The store refuses it too, in the transaction that would add the job: no race with a close.
    late = NewJob(
        job_id="late",
        backend="aer_simulator",
        owner=TOKENS["alice"][1],
        qpy=b"",
        num_experiments=1,
        options=RunOptions(),
        program_id="sampler",
        params="{}",
        session_id=session["id"],
    )
    with pytest.raises(SessionClosed):
        store.create_job(late)
    short = alice.call("POST", "/sessions", json.dumps({"mode": "dedicated", "backend": "aer_simulator", "max_ttl": 1}))
    time.sleep(1.2)  # past its max_ttl
    _ibm_error(
        alice.call("POST", "/jobs", _sampler_body(_bell(), session_id=short.json()["id"])),
        409,
        "session_closed",
        "max_ttl",
    )
    assert alice.call("GET", f"/sessions/{short.json()['id']}").json()["state"] == "closed"
    _ibm_error(
        alice.call("POST", "/sessions", json.dumps({"mode": "weekly", "backend": "aer_simulator"})),
        400,
        "invalid_request",
        "mode",
    )

    assert len(store.jobs_in(list(ApiJobStatus))) == jobs_before
    assert alice.call("GET", "/jobs", params={"tags": "never"}).json()["count"] == 0

    _ibm_error(alice.call("GET", "/jobs/0123abcd"), 404, "not_found", "0123abcd")
    _ibm_error(alice.call("GET", "/jobs", params={"created_after": "yesterday"}), 400, "invalid_request", "yesterday")
    _ibm_error(alice.call("GET", "/nothing/here"), 404, "not_found", "/api/v1/nothing/here")
    _ibm_error(alice.call("GET", "/backends/ibm_nowhere/configuration"), 404, "not_found", "ibm_nowhere")
    # /v1 keeps its own error body.
    v1 = requests.get(f"{url}/v1/jobs/0123abcd", headers={"Authorization": f"Bearer {TOKENS['alice'][0]}"}, timeout=10)
    assert v1.status_code == 404 and v1.json()["code"] == "NOT_FOUND"

    # A job of alice: invisible to dave (another instance), tags replaced only by her.
    created = alice.call("POST", "/jobs", _sampler_body(_bell(), shots=10, tags=["mine"])).json()
    dave = Runtime(url, "dave")
    _ibm_error(dave.call("GET", f"/jobs/{created['id']}"), 404, "not_found")
    assert alice.call("PUT", f"/jobs/{created['id']}/tags", json.dumps({"tags": ["a", "b"]})).status_code == 204
    assert alice.call("GET", f"/jobs/{created['id']}").json()["tags"] == ["a", "b"]
    _ibm_error(
        alice.call("PUT", f"/jobs/{created['id']}/tags", json.dumps({"tags": "a"})), 400, "invalid_request", "tags"
    )


def test_runtime_jobs_survive_a_restart(tmp_path):
    """A queued runtime job is in the store: a restarted server runs it and serves its result."""
    config = runtime_config(tmp_path / "data", workers=1)
    with JobServer(config) as server:
        alice = Runtime(server.url, "alice")
        blocker = alice.call("POST", "/jobs", _sampler_body(_bell(), backend="slow_simulator", shots=10)).json()
        waiting = alice.call("POST", "/jobs", _sampler_body(_bell(), backend="slow_simulator", shots=50)).json()
        assert alice.call("GET", f"/jobs/{waiting['id']}").json()["state"]["status"] == "Queued"
    config = runtime_config(tmp_path / "data", workers=1)
    with JobServer(config) as server:
        alice = Runtime(server.url, "alice")
        for job_id in (blocker["id"], waiting["id"]):
            deadline = time.monotonic() + 60
            while (state := alice.call("GET", f"/jobs/{job_id}").json())["status"] not in (
                "Completed",
                "Failed",
                "Cancelled",
            ):
                assert time.monotonic() < deadline, state
                time.sleep(0.1)
            assert state["status"] == "Completed", state
        result = json.loads(alice.call("GET", f"/jobs/{waiting['id']}/results").text, cls=RuntimeDecoder)
        counts = result[0].data.c.get_counts()
        assert sum(counts.values()) == 50 and set(counts) <= {"00", "11"}
        record = server.service.store.get_job(waiting["id"])
        assert record is not None and record.program_id == "sampler" and record.kind == "runtime-sampler"
        assert "RUNNING" in record.time_per_step

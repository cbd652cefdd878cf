"""The runtime API at the HTTP level: IBM's error shape, nothing stored on bad input, tenancy, restarts.

The stock client checks most input before sending it, so bad input is sent here as raw
requests (encoded with the client's own RuntimeEncoder where the body must be valid).
"""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
import requests
from qiskit_ibm_runtime import QuantumProgram, RuntimeDecoder, RuntimeEncoder
from qiskit_ibm_runtime.executor_sampler.prepare import prepare as prepare_sampler
from qiskit_ibm_runtime.options_models import ExecutorOptions, SamplerOptions
from qiskit_ibm_runtime.quantum_program.params_converters import QUANTUM_PROGRAM_PARAMS_CONVERTERS

from prefect_ibmq.exceptions import IBMQJobAccessError
from prefect_ibmq.runtime.local import local_instance
from prefect_ibmq.server import JobServer
from prefect_ibmq.server.rows import NewJob
from prefect_ibmq.server.runtime.crn import instance_crn
from prefect_ibmq.server.store import SessionClosed
from prefect_ibmq.wire import ApiJobStatus, RunOptions, circuits_to_base64
from tests.helpers import TOKENS, workers_held
from tests.runtime.helpers import GRANT, Runtime, ibm_error, isa_bell, runtime_config, sampler_body
from tests.server.helpers import Api


def _executor_params(shots: int = 10) -> dict:
    """The params the stock client sends for a one-item QuantumProgram (its own v2.0 encoder)."""
    program = QuantumProgram(shots=shots)
    program.append_circuit_item(isa_bell(), circuit_arguments=np.zeros((4, 0)))
    return QUANTUM_PROGRAM_PARAMS_CONVERTERS["v2.0"].encoder(program, ExecutorOptions()).model_dump(mode="json")


def _twirled_params() -> dict:
    """A measurement-twirled Sampler's params (samplex items), as the client's Sampler prepares them."""
    options = SamplerOptions()
    options.twirling.enable_measure = True
    program, executor_options = prepare_sampler([isa_bell()], options, 100)
    return QUANTUM_PROGRAM_PARAMS_CONVERTERS["v2.0"].encoder(program, executor_options).model_dump(mode="json")


def _executor_body(change=None, twirled: bool = False, **extra) -> str:
    params = _twirled_params() if twirled else _executor_params()
    if change is not None:
        change(params)
    return json.dumps({"program_id": "executor", "backend": "aer_simulator", "params": params, **extra})


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
    ibm_error(bad_key, 400, "BXNIM0415E", "API key could not be found")
    assert "nope" not in bad_key.text
    ibm_error(
        requests.post(f"{url}/identity/token", data={"grant_type": "password"}, timeout=10),
        400,
        "unsupported_grant_type",
        "'password'",
    )
    ibm_error(requests.get(f"{url}/api/v1/backends", timeout=10), 401, "unauthorized", "missing")
    forged = dict(alice.headers, Authorization=alice.headers["Authorization"][:-4] + "AAAA")
    ibm_error(requests.get(f"{url}/api/v1/backends", headers=forged, timeout=10), 401, "unauthorized", "invalid")
    other = dict(alice.headers, **{"Service-CRN": instance_crn(TOKENS["dave"][1])})
    ibm_error(requests.get(f"{url}/api/v1/backends", headers=other, timeout=10), 403, "forbidden", "no access")

    good = sampler_body(isa_bell())
    tagged_type = good.replace('"__type__": "QuantumCircuit"', '"__type__": "settings"', 1)
    cases = [
        (sampler_body(isa_bell()).replace('"sampler"', '"circuit-runner"'), 400, "invalid_program", "'circuit-runner'",
         "executor"),
        (sampler_body(isa_bell()).replace('"sampler"', '"noise-learner"'), 400, "invalid_program",
         "not available locally", "aer simulators"),
        (sampler_body(isa_bell(), backend="ibm_nowhere"), 400, "invalid_backend", "ibm_nowhere", "aer_simulator"),
        (sampler_body(isa_bell(6)), 400, "invalid_params", "6 qubits"),
        (sampler_body(isa_bell(), shots=10**9), 400, "invalid_params", "shots=1000000000"),
        (tagged_type, 400, "invalid_params", "'settings'"),
        (good.replace('"__value__": "', '"__value__": "!!', 1), 400, "invalid_params", "malformed QuantumCircuit"),
        ('{"program_id": "sampler", "backend": "aer_simulator"}', 400, "invalid_request", "params"),
        (
            '{"program_id": "sampler", "backend": "aer_simulator", "params": {"pubs": []}}',
            400,
            "invalid_params",
            "non-empty",
        ),
        (sampler_body(isa_bell(), session_id="no-such-session"), 404, "not_found", "no-such-session"),
        (sampler_body(isa_bell(), tags=[1, 2]), 400, "invalid_request", "tags"),
        ("{not json", 400, "invalid_request", "JSON"),
    ]
    estimator = json.dumps(
        {"program_id": "estimator", "backend": "aer_simulator", "params": {"pubs": [[isa_bell()]], "version": 2}},
        cls=RuntimeEncoder,
    )
    cases.append((estimator, 400, "invalid_params", "observables"))
    # executor params as the client encodes them, each spoiled one way: the 400 names the part.
    program = "quantum_program"
    cases += [
        (_executor_body(lambda p: p.update(schema_version="v9.9")), 400, "invalid_params", "'v9.9'", "'v2.0'"),
        (_executor_body(lambda p: p[program].update(future_field=1)), 400, "invalid_params", "future_field"),
        (_executor_body(lambda p: p[program].update(meas_level="kerneled")), 400, "invalid_params",
         "not available locally", "meas_level='kerneled'"),
        (_executor_body(lambda p: p["options"].update(init_qubits=False)), 400, "invalid_params", "init_qubits"),
        (_executor_body(lambda p: p[program].update(shots=10**8)), 400, "invalid_params",
         "400000000 shots", "max_job_shots"),
        (_executor_body(lambda p: p[program]["items"][0]["circuit_arguments"].update(shape=[10**9, 0])), 400,
         "invalid_params", "max_job_shots"),
        (_executor_body(lambda p: p[program]["items"][0]["circuit_arguments"].update(shape=[4, 10**9])), 400,
         "invalid_params", "circuit_arguments", "bytes"),
        (_executor_body(lambda p: p[program]["items"][0].update(shape=[0, 4])), 400, "invalid_params",
         "no elements"),
        (_executor_body(lambda p: p[program]["circuits"].update(b64_data="eJzLSM3JyQcABiwCFQ==")), 400,
         "invalid_params", "not a QPY file"),
        (_executor_body(lambda p: p[program]["items"].append(p[program]["items"][0])), 400, "invalid_params",
         "one circuit per item"),
        (_executor_body(lambda p: p[program]["items"][0]["samplex"].update(samplex_json='{"ssv": "1"}'),
                        twirled=True), 400, "invalid_params", "item 0: the samplex does not load"),
        (_executor_body(calibration_id="aer_simulator-not-this-one"), 400, "invalid_calibration",
         "aer_simulator-not-this-one"),
    ]
    for body, status, code, *words in cases:
        ibm_error(alice.call("POST", "/jobs", body), status, code, *words)
    ibm_error(alice.call("GET", "/backends/aer_simulator/configuration", params={"calibration_id": "old"}), 404,
               "not_found", "calibration 'old'")
    assert alice.call("GET", "/backends/aer_simulator/properties").json()["calibration_id"].startswith("aer_simulator")
    ibm_error(requests.get(f"{url}/v2/resource_instances/someone-elses", headers=alice.headers, timeout=10), 404,
               "not_found", "someone-elses")

    session = alice.call("POST", "/sessions", json.dumps({"mode": "batch", "backend": "aer_simulator"})).json()
    assert alice.call("PATCH", f"/sessions/{session['id']}", json.dumps({"accepting_jobs": False})).status_code == 204
    ibm_error(
        alice.call("POST", "/jobs", sampler_body(isa_bell(), session_id=session["id"])),
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
    short_session = f"/sessions/{short.json()['id']}"
    deadline = time.monotonic() + 60
    while alice.call("GET", short_session).json()["state"] != "closed":  # until its max_ttl of 1 s has passed
        assert time.monotonic() < deadline, "a session with max_ttl=1 still open after 60 s"
        time.sleep(0.05)  # polling the session's state
    ibm_error(
        alice.call("POST", "/jobs", sampler_body(isa_bell(), session_id=short.json()["id"])),
        409,
        "session_closed",
        "max_ttl",
    )
    ibm_error(
        alice.call("POST", "/sessions", json.dumps({"mode": "weekly", "backend": "aer_simulator"})),
        400,
        "invalid_request",
        "mode",
    )

    assert len(store.jobs_in(list(ApiJobStatus))) == jobs_before
    assert alice.call("GET", "/jobs", params={"tags": "never"}).json()["count"] == 0

    ibm_error(alice.call("GET", "/jobs/0123abcd"), 404, "not_found", "0123abcd")
    ibm_error(alice.call("GET", "/jobs", params={"created_after": "yesterday"}), 400, "invalid_request", "yesterday")
    ibm_error(alice.call("GET", "/nothing/here"), 404, "not_found", "/api/v1/nothing/here")
    ibm_error(alice.call("GET", "/backends/ibm_nowhere/configuration"), 404, "not_found", "ibm_nowhere")
    # /v1 keeps its own error body.
    v1 = requests.get(f"{url}/v1/jobs/0123abcd", headers={"Authorization": f"Bearer {TOKENS['alice'][0]}"}, timeout=10)
    assert v1.status_code == 404 and v1.json()["code"] == "NOT_FOUND"

    # A job of alice: invisible to dave (another instance), tags replaced only by her.
    created = alice.call("POST", "/jobs", sampler_body(isa_bell(), shots=10, tags=["mine"])).json()
    dave = Runtime(url, "dave")
    ibm_error(dave.call("GET", f"/jobs/{created['id']}"), 404, "not_found")
    assert alice.call("PUT", f"/jobs/{created['id']}/tags", json.dumps({"tags": ["a", "b"]})).status_code == 204
    assert alice.call("GET", f"/jobs/{created['id']}").json()["tags"] == ["a", "b"]
    ibm_error(
        alice.call("PUT", f"/jobs/{created['id']}/tags", json.dumps({"tags": "a"})), 400, "invalid_request", "tags"
    )


def test_runtime_jobs_survive_a_restart(tmp_path):
    """A queued runtime job is in the store: a restarted server runs it and serves its result."""
    config = runtime_config(tmp_path / "data", workers=1)
    with JobServer(config) as server:
        alice = Runtime(server.url, "alice")
        blocker = alice.call("POST", "/jobs", sampler_body(isa_bell(), backend="slow_simulator", shots=10)).json()
        waiting = alice.call("POST", "/jobs", sampler_body(isa_bell(), backend="slow_simulator", shots=50)).json()
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


# --- tenancy: another instance sees and touches nothing of alice's ------------------------------------------
#
# Every endpoint that names a job or a session is asked by bob (same hub and group, another
# project: another instance) and dave (another hub), for a job of alice that is still queued
# (held behind busy workers, so a cancel would have something to cancel) and again once it
# has finished (so results and metrics exist). Each answers 404, as for an unknown id, and
# alice's job and session are as they were; listings leave them out whatever the filters.

OTHERS = ("bob", "dave")


def _job_calls(job_id: str) -> list[tuple[str, str, str | None]]:
    """Every call on one job: method, path, body."""
    return [
        ("GET", f"/jobs/{job_id}", None),
        ("GET", f"/jobs/{job_id}/results", None),
        ("GET", f"/jobs/{job_id}/metrics", None),
        ("GET", f"/jobs/{job_id}/logs", None),
        ("PUT", f"/jobs/{job_id}/tags", json.dumps({"tags": ["taken"]})),
        ("POST", f"/jobs/{job_id}/cancel", None),
        ("DELETE", f"/jobs/{job_id}", None),
    ]


def _session_calls(session_id: str) -> list[tuple[str, str, str | None]]:
    """Every call on one session, and a job submitted into it."""
    return [
        ("GET", f"/sessions/{session_id}", None),
        ("PATCH", f"/sessions/{session_id}", json.dumps({"accepting_jobs": False})),
        ("DELETE", f"/sessions/{session_id}/close", None),
        ("POST", "/jobs", sampler_body(isa_bell(), session_id=session_id)),
    ]


def _refused_everywhere(url: str, calls: list[tuple[str, str, str | None]], job_id: str, session_id: str) -> None:
    """Bob and dave get 404 on every call, and listings without alice's job."""
    for user in OTHERS:
        other = Runtime(url, user)
        for method, path, body in calls:
            ibm_error(other.call(method, path, body), 404, "not_found")
        listed = [
            other.call("GET", "/jobs", params={"limit": 100}),
            other.call("GET", "/jobs", params={"session_id": session_id}),
            other.call("GET", "/jobs", params={"tags": "alice-only"}),
            other.call("GET", "/jobs", params={"backend": "aer_simulator", "pending": "true"}),
        ]
        for answer in listed:
            assert answer.status_code == 200, answer.text
            assert job_id not in [job["id"] for job in answer.json()["jobs"]], (user, answer.json())
        assert listed[1].json()["count"] == listed[2].json()["count"] == 0


def _state(alice: Runtime, job_id: str) -> str:
    return alice.call("GET", f"/jobs/{job_id}").json()["state"]["status"]


@pytest.fixture
def alice_job(runtime_server):
    """alice's session and a job of hers in it, QUEUED behind held workers until the test releases them."""
    alice = Runtime(runtime_server.url, "alice")
    session = alice.call("POST", "/sessions", json.dumps({"mode": "batch", "backend": "aer_simulator"})).json()
    with workers_held(runtime_server.url, TOKENS["alice"][0], runtime_server.config.workers) as hold:
        created = alice.call(
            "POST", "/jobs", sampler_body(isa_bell(), shots=10, tags=["alice-only"], session_id=session["id"])
        )
        assert created.status_code == 200, created.text
        yield alice, created.json()["id"], session["id"], hold


def test_another_instance_can_neither_see_nor_touch_a_job_or_session(runtime_server, alice_job):
    alice, job_id, session_id, hold = alice_job
    calls = _job_calls(job_id) + _session_calls(session_id)
    # Queued: a cancel, a delete or a close would have had an effect.
    assert _state(alice, job_id) == "Queued"
    _refused_everywhere(runtime_server.url, calls, job_id, session_id)
    assert _state(alice, job_id) == "Queued"
    mine = alice.call("GET", f"/jobs/{job_id}").json()
    assert mine["tags"] == ["alice-only"]
    assert alice.call("GET", f"/sessions/{session_id}").json()["accepting_jobs"] is True
    assert job_id in [job["id"] for job in alice.call("GET", "/jobs", params={"session_id": session_id}).json()["jobs"]]

    hold.release()
    deadline = time.monotonic() + 60
    while (state := _state(alice, job_id)) not in ("Completed", "Failed", "Cancelled"):
        assert time.monotonic() < deadline, state
        time.sleep(0.05)  # polling the job's state
    assert state == "Completed"
    # Finished: results, metrics and logs exist now, and are still alice's alone.
    _refused_everywhere(runtime_server.url, calls, job_id, session_id)
    for path in (f"/jobs/{job_id}/results", f"/jobs/{job_id}/metrics", f"/jobs/{job_id}/logs"):
        assert alice.call("GET", path).status_code == 200, path
    # A token used with another instance's CRN is refused before anything is looked up.
    dave = Runtime(runtime_server.url, "dave")
    dave.headers["Service-CRN"] = alice.headers["Service-CRN"]
    for method, path, body in calls:
        ibm_error(dave.call(method, path, body), 403, "forbidden")
    assert alice.call("DELETE", f"/sessions/{session_id}/close").status_code == 204


def test_a_limit_is_refused_in_one_wording_on_v1_and_on_the_runtime_api(runtime_server):
    # One check per limit: a backend's max_shots and n_qubits read the same on both APIs.
    store = runtime_server.service.store
    jobs_before = len(store.jobs_in(list(ApiJobStatus)))
    v1 = Api(runtime_server.url, TOKENS["alice"][0])
    runtime = Runtime(runtime_server.url, "alice")
    max_shots = runtime_server.service.simulators["aer_simulator"].spec.max_shots
    shots = max_shots + 1
    refused_v1 = v1.request("POST", "/jobs", json={
        "backend": "aer_simulator", "qpy": circuits_to_base64([isa_bell()]), "options": {"shots": shots}})
    assert refused_v1.status_code == 422, refused_v1.text
    refused_runtime = runtime.call("POST", "/jobs", sampler_body(isa_bell(), shots=shots))
    ibm_error(refused_runtime, 400, "invalid_params")
    wording = f"shots={shots} is not accepted; give an int from 1 to max_shots={max_shots} of aer_simulator"
    assert refused_v1.json()["message"].endswith(f"options.{wording}")
    assert refused_runtime.json()["errors"][0]["message"].endswith(f"pub 0: {wording}")
    assert len(store.jobs_in(list(ApiJobStatus))) == jobs_before


def test_a_job_of_a_kind_this_server_does_not_run_fails_validation_naming_the_kinds_it_runs(runtime_server):
    # E.g. stored by a newer replica: the executor finds no handler for its kind and says so.
    service = runtime_server.service
    job = NewJob(
        job_id="kind-from-the-future", backend="aer_simulator", owner=TOKENS["alice"][1], qpy=b"",
        num_experiments=1, options=RunOptions(), program_id="circuit-runner", params="{}",
    )
    job_id, created = service.store.create_job(job)
    assert created
    service.executor.validate_later(job_id)
    answer = service.status(job_id)
    deadline = time.monotonic() + 60
    while answer is None or not answer.status.is_final:
        assert time.monotonic() < deadline, f"job {job_id} not final after 60 s: {answer}"
        time.sleep(0.05)  # polling the stored status
        answer = service.status(job_id)
    assert answer.status is ApiJobStatus.ERROR_VALIDATING_JOB
    assert answer.error is not None
    assert "of kind 'runtime-circuit-runner'" in answer.error.message
    assert "'qpy-circuits'" in answer.error.message and "'runtime-sampler'" in answer.error.message

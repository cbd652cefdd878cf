"""Issue 18: one careless or hostile user against a shared job service, items 1-9.

One ``prefect-ibmq server`` process per engine (SQLite, and PostgreSQL where the
store matters) serves the whole module. Each test sends the attack as raw HTTP
while another identity (the bystander) reads its own job in a loop and the
server's RSS is sampled (psutil). Each asserts the answer (a 4xx naming the
limit), that nothing was stored, that every bystander request succeeded and the
server still serves, and that the memory grew by less than a bound the unfixed
server passed by hundreds of MiB; the worst bystander latency and the memory
growth are recorded in out/reliability.json (RELIABILITY.md), not asserted:
this machine is shared.
"""

from __future__ import annotations

import base64
import io
import json
import os
import stat
import struct
import zlib
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import requests
from qiskit import QuantumCircuit, qpy
from qiskit.circuit import IfElseOp, Parameter
from qiskit_ibm_runtime import RuntimeEncoder

from prefect_ibmq.circuits import bell
from prefect_ibmq.wire import Identity, circuits_to_base64
from tests.helpers import TOKENS
from tests.reliability.helpers import Attack, ServerProcess, free_port, runtime_token, tokens_toml

ALICE, BOB = TOKENS["alice"][0], TOKENS["bob"][0]
#: Two projects whose parts joined with "/" read the same (issue 18, item 7).
SLASHED = {
    "tok-slash-a-0123456789": Identity(user="sa", hub="x", group="y/z", project="w"),
    "tok-slash-b-0123456789": Identity(user="sb", hub="x", group="y", project="z/w"),
}
#: The unfixed server grew by 290-490 MiB on these attacks; a fixed one by a few.
MEMORY_BOUND_MIB = 48
#: Small, so the decompression bomb is refused after a little work (the default is 64 MiB).
INFLATE_LIMIT = 2 * 2**20
#: Where a circuit header (QPY CIRCUIT_HEADER_V12, "!H1cHIIQIQI") holds its number of qubits.
_QUBITS_AT = 5


def _config(data_dir, store_url: str | None) -> str:
    store = f'store_url = "{store_url}"\n' if store_url else ""
    slashed = {name: (token, identity) for name, (token, identity) in
               zip(("sa", "sb"), SLASHED.items(), strict=True)}
    return (
        f'data_dir = "{data_dir}"\n{store}workers = 1\nsimulation = "threads"\n\n'
        # Each attack must meet the bound it is about, not the attacker's share of server time (a
        # fairness bound of its own, tested in test_fairness.py) that a loaded machine reaches sooner.
        f"[limits]\nmax_decompressed_bytes = {INFLATE_LIMIT}\nserver_share_burst_s = 600.0\n\n"
        '[[backends]]\nname = "aer_simulator"\nn_qubits = 5\n\n'
        + tokens_toml(TOKENS) + tokens_toml(slashed)
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def shared(request, tmp_path_factory) -> Iterator[Any]:
    """The module's server on each engine, a job of the bystander (bob) and one of alice's named for item 3."""
    folder = tmp_path_factory.mktemp(f"shared-{request.param}")
    store_url = None
    if request.param == "postgresql":
        store_url = request.getfixturevalue("pg_cluster").create_database(f"shared_{os.getpid()}")
    config = folder / "server.toml"
    old_umask = os.umask(0o022)  # the usual umask: files would be world-readable without the fix (item 9)
    try:
        config.write_text(_config(folder / "data", store_url), encoding="utf-8")
        server = ServerProcess(config, free_port(), folder / "server.log").start()
    finally:
        os.umask(old_umask)
    server.engine = request.param
    try:
        server.bob_job = _submit(server.url, BOB, name="bystander")
        _submit(server.url, ALICE, name="a" * 24 + "!", share_level="global")
        yield server
    finally:
        server.stop()
        server.kill()


def _submit(url: str, token: str, **fields: Any) -> str:
    body = {"backend": "aer_simulator", "qpy": circuits_to_base64([bell()]), "options": {"shots": 8}, **fields}
    answer = requests.post(f"{url}/v1/jobs", json=body, headers=_auth(token), timeout=60)
    assert answer.status_code == 201, answer.text
    return answer.json()["job_id"]


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _attack(server) -> Attack:
    return Attack(server.process.pid, f"{server.url}/v1/jobs/{server.bob_job}", _auth(BOB))


def _alice_jobs(server) -> int:
    return requests.get(f"{server.url}/v1/jobs", headers=_auth(ALICE), timeout=60).json()["total"]


def _judge(server, attack: Attack, figures, item: str, before: int, **extra: Any) -> None:
    """Record the figures, then assert what every attack must leave behind."""
    figures.record("shared_service", **{f"{item}_{server.engine}": attack.figures(**extra)})
    assert attack.bystander.failures == [], attack.bystander.failures
    assert requests.get(f"{server.url}/v1/health", timeout=10).ok
    assert _alice_jobs(server) == before  # nothing stored
    assert attack.memory.growth_mib < MEMORY_BOUND_MIB, attack.figures()


def _refused(answer: requests.Response, status: int, *words: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text[:500]
    body = answer.json()
    message = body["message"] if "message" in body else body["errors"][0]["message"]
    for word in words:
        assert word in message, message
    return body


def _qpy(circuits: list[QuantumCircuit]) -> bytearray:
    buffer = io.BytesIO()
    qpy.dump(circuits, buffer)
    return bytearray(buffer.getvalue())


def _claiming(data: bytearray, header: tuple[int, int, int], qubits: int) -> bytes:
    """``data`` with the circuit whose header starts (name size, qubits, clbits) now claiming ``qubits`` qubits."""
    name_size, width, clbits = header
    at = data.index(struct.pack("!H1cHII", name_size, b"f", 8, width, clbits))  # float global phase: 8 bytes
    struct.pack_into("!I", data, at + _QUBITS_AT, qubits)
    return bytes(data)


def _width_bombs() -> dict[str, bytes]:
    block = QuantumCircuit(1)
    block.x(0)
    nested = bell()
    nested.append(IfElseOp((nested.clbits[0], 1), block), [0], [])
    return {
        "top_level": _claiming(_qpy([bell()]), (4, 2, 2), 1_000_000),  # "bell", 2 qubits, 2 clbits
        "nested_block": _claiming(_qpy([nested]), (0, 1, 0), 1_000_000),  # the unnamed 1-qubit block
    }


def _tagged(kind: str, data: bytes) -> dict[str, str]:
    return {"__type__": kind, "__value__": base64.b64encode(zlib.compress(data)).decode()}


def _runtime_job(server, token: str, params: dict[str, Any], program: str = "sampler") -> requests.Response:
    body = json.dumps({"program_id": program, "backend": "aer_simulator", "params": params}, cls=RuntimeEncoder)
    headers = {"Authorization": f"Bearer {runtime_token(server.url, token)}", "Content-Type": "application/json"}
    return requests.post(f"{server.url}/api/v1/jobs", data=body, headers=headers, timeout=120)


def _runtime_jobs(server, token: str) -> int:
    headers = {"Authorization": f"Bearer {runtime_token(server.url, token)}"}
    return requests.get(f"{server.url}/api/v1/jobs", headers=headers, timeout=60).json()["count"]


# --- 1. QPY width bomb -------------------------------------------------------------------------


def test_1_a_qpy_width_bomb_is_refused_from_its_header(shared, figures):
    before, runtime_before = _alice_jobs(shared), _runtime_jobs(shared, ALICE)
    bombs = _width_bombs()
    with _attack(shared) as attack:
        for data in bombs.values():
            answer = attack.send("POST", f"{shared.url}/v1/jobs", headers=_auth(ALICE), json={
                "backend": "aer_simulator", "qpy": base64.b64encode(data).decode()})
            _refused(answer, 422, "1000000 qubits", "n_qubits=5")
        # The same circuit as a runtime QuantumCircuit value.
        value = _tagged("QuantumCircuit", bombs["top_level"])
        answer = _runtime_job(shared, ALICE, {"pubs": [[value, None, 8]], "version": 2})
        attack.tried += 1
        _refused(answer, 400, "1000000 qubits", "n_qubits=5")
    assert _runtime_jobs(shared, ALICE) == runtime_before
    _judge(shared, attack, figures, "1_qpy_width_bomb", before, body_bytes=len(bombs["top_level"]))


# --- 2. decompression bomb ---------------------------------------------------------------------


def _zlib_of_zeros(size: int) -> str:
    """base64 of zlib of ``size`` zero bytes, made a MiB at a time (never held inflated here)."""
    packer, chunk, parts = zlib.compressobj(9), bytes(2**20), []
    for _ in range(size // len(chunk)):
        parts.append(packer.compress(chunk))
    parts.append(packer.flush())
    return base64.b64encode(b"".join(parts)).decode()


def test_2_a_decompression_bomb_is_inflated_no_further_than_the_budget(shared, figures):
    before, runtime_before = _alice_jobs(shared), _runtime_jobs(shared, ALICE)
    bomb = _zlib_of_zeros(512 * 2**20)  # ~0.7 MiB as sent, 512 MiB inflated
    theta = Parameter("t")
    circuit = QuantumCircuit(1, 1)
    circuit.rx(theta, 0)
    circuit.measure(0, 0)
    with _attack(shared) as attack:
        for kind in ("ndarray", "QuantumCircuit"):
            value = {"__type__": kind, "__value__": bomb}
            pub = [circuit, value, 8] if kind == "ndarray" else [value, None, 8]
            answer = _runtime_job(shared, ALICE, {"pubs": [pub], "version": 2})
            attack.tried += 1
            _refused(answer, 400, f"limits.max_decompressed_bytes={INFLATE_LIMIT}")
    assert _runtime_jobs(shared, ALICE) == runtime_before
    _judge(shared, attack, figures, "2_decompression_bomb", before, body_bytes=len(bomb))


# --- 3. regex freeze ---------------------------------------------------------------------------


def test_3_a_backtracking_name_pattern_matches_in_linear_time(shared, figures):
    before = _alice_jobs(shared)
    with _attack(shared) as attack:
        # (a+)+$ against 'a' * 24 + '!': 9.6 s in Python's re, holding the store; RE2 never backtracks.
        answer = attack.send("GET", f"{shared.url}/v1/jobs", params={"name": "(a+)+$"}, headers=_auth(BOB))
        assert answer.status_code == 200 and answer.json()["total"] == 0, answer.text
        found = attack.send("GET", f"{shared.url}/v1/jobs", params={"name": "^a+!$"}, headers=_auth(BOB))
        assert found.json()["total"] == 1  # still a regular expression, searched in the name
        backreference = attack.send("GET", f"{shared.url}/v1/jobs", params={"name": r"(a)\1"}, headers=_auth(BOB))
        _refused(backreference, 400, "RE2")
    _judge(shared, attack, figures, "3_regex_freeze", before)


# --- 4. one job breaking the listing for everyone ----------------------------------------------


def _nested(depth: int) -> dict[str, Any]:
    value: dict[str, Any] = {}
    for _ in range(depth):
        value = {"a": value}
    return value


def test_4_a_deep_or_large_free_form_field_is_refused_before_it_is_stored(shared, figures):
    before = _alice_jobs(shared)
    body = {"backend": "aer_simulator", "qpy": circuits_to_base64([bell()]), "share_level": "global"}
    cases = [
        ({"header": _nested(300)}, 422, "limits.max_json_depth=32"),
        ({"header": {"x": "y" * 70_000}}, 422, "limits.max_header_bytes"),
        ({"name": "n" * 300}, 422, "limits.max_name_length=256"),
        ({"tags": [f"t{i}" for i in range(65)]}, 400, "limits.max_tags=64"),
    ]
    with _attack(shared) as attack:
        for fields, status, words in cases:
            answer = attack.send("POST", f"{shared.url}/v1/jobs", json={**body, **fields}, headers=_auth(ALICE))
            _refused(answer, status, words)
        listing = attack.send("GET", f"{shared.url}/v1/jobs", headers=_auth(BOB))
        assert listing.status_code == 200, listing.text
    _judge(shared, attack, figures, "4_listing_broken_by_one_job", before)


# --- 5. unbounded runtime work -----------------------------------------------------------------


def test_5_a_runtime_jobs_total_work_is_bounded(shared, figures):
    before, runtime_before = _alice_jobs(shared), _runtime_jobs(shared, ALICE)
    theta = Parameter("t")
    circuit = QuantumCircuit(1, 1)
    circuit.rx(theta, 0)
    circuit.measure(0, 0)
    bindings = np.zeros((200_000, 1))  # 1.6 MB of parameter sets, a few kB compressed
    with _attack(shared) as attack:
        sampler = _runtime_job(shared, ALICE, {"pubs": [[circuit, bindings, 100_000]], "version": 2})
        _refused(sampler, 400, "20000000000 shots", "limits.max_job_shots=")
        unbound = circuit.remove_final_measurements(inplace=False)
        estimator = _runtime_job(shared, ALICE, {"pubs": [[unbound, "Z", bindings]], "version": 2}, "estimator")
        _refused(estimator, 400, "200000 expectation values", "limits.max_job_estimates=")
        attack.tried += 2
    assert _runtime_jobs(shared, ALICE) == runtime_before
    _judge(shared, attack, figures, "5_unbounded_runtime_work", before)


# --- 6. anonymous memory -----------------------------------------------------------------------


def test_6_an_unauthenticated_body_is_never_read(shared, figures):
    before = _alice_jobs(shared)
    body = b'{"backend": "aer_simulator", "qpy": "' + b"A" * (14 * 2**20) + b'"}'

    def streamed():
        for start in range(0, len(body), 2**20):
            yield body[start:start + 2**20]

    with _attack(shared) as attack:
        for headers in ({}, _auth("tok-mallory-wrong")):
            for data in (body, streamed()):
                answer = attack.send("POST", f"{shared.url}/v1/jobs", data=data,
                                     headers={"Content-Type": "application/json", **headers})
                _refused(answer, 401, "bearer token")
        runtime = attack.send("POST", f"{shared.url}/api/v1/jobs", data=body, headers={
            "Content-Type": "application/json"})
        _refused(runtime, 401, "access token")
    _judge(shared, attack, figures, "6_anonymous_memory", before, body_bytes=len(body))


# --- 7. two projects, one CRN ------------------------------------------------------------------


def test_7_projects_whose_names_join_alike_have_their_own_crn_and_sessions(shared, figures):
    if shared.engine != "sqlite":
        pytest.skip("CRNs do not depend on the store: tested once, on SQLite")
    before = _alice_jobs(shared)
    (token_a, _), (token_b, _) = SLASHED.items()
    jwt_a, jwt_b = runtime_token(shared.url, token_a), runtime_token(shared.url, token_b)
    with _attack(shared) as attack:
        crns = []
        for jwt in (jwt_a, jwt_b):
            found = attack.send("POST", f"{shared.url}/v3/resources/search", headers=_auth(jwt), json={})
            crns.append(found.json()["items"][0]["crn"])
        assert crns[0] != crns[1], crns
        opened = attack.send("POST", f"{shared.url}/api/v1/sessions", headers=_auth(jwt_a),
                             json={"mode": "batch", "backend": "aer_simulator"})
        assert opened.status_code == 200, opened.text
        session = opened.json()["id"]
        for method, path in (("GET", ""), ("DELETE", "/close")):  # read, and cancel (close)
            other = attack.send(method, f"{shared.url}/api/v1/sessions/{session}{path}", headers=_auth(jwt_b))
            _refused(other, 404, "not found")
        as_other = attack.send("POST", f"{shared.url}/api/v1/sessions", json={
            "mode": "batch", "backend": "aer_simulator", "instance": crns[0]}, headers=_auth(jwt_b))
        _refused(as_other, 403, "not this token's instance")
        assert attack.send("GET", f"{shared.url}/api/v1/sessions/{session}", headers=_auth(jwt_a)).ok
    _judge(shared, attack, figures, "7_crn_collision", before)


# --- 8. 500s from odd but valid input ----------------------------------------------------------


def test_8_odd_but_valid_input_is_a_4xx(shared, figures):
    before, runtime_before = _alice_jobs(shared), _runtime_jobs(shared, ALICE)
    jwt = runtime_token(shared.url, ALICE)
    header, payload, signature = jwt.split(".")
    forged = f"{header}.{payload}.{signature[:-1]}é"
    early, late = "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"
    bell_body = {"backend": "aer_simulator", "qpy": circuits_to_base64([bell()])}
    cases = [
        ("GET", "/api/v1/jobs", {"headers": {"Authorization": f"Bearer {forged}".encode()}}, 401),
        ("GET", "/v1/jobs", {"params": {"created_after": early}}, 422),
        ("GET", "/v1/jobs", {"params": {"created_before": late}}, 422),
        ("GET", "/api/v1/jobs", {"params": {"created_after": early}, "runtime": True}, 400),
        ("GET", "/api/v1/jobs", {"params": {"created_before": late}, "runtime": True}, 400),
        ("GET", "/api/v1/jobs", {"params": {"offset": 10**20}, "runtime": True}, 400),
        ("GET", "/v1/jobs", {"params": {"offset": 10**20}}, 422),
        ("POST", "/api/v1/sessions", {"json": {"backend": "aer_simulator", "max_ttl": 10**20}, "runtime": True}, 400),
        ("POST", "/v1/jobs", {"json": {**bell_body, "options": {"seed_simulator": 2**70}}}, 422),
    ]
    answers = []
    with _attack(shared) as attack:
        for method, path, options, status in cases:
            runtime = options.pop("runtime", False)
            options.setdefault("headers", _auth(jwt if runtime else ALICE))
            answer = attack.send(method, shared.url + path, **options)
            answers.append(answer.status_code)
            assert answer.status_code == status, (path, options, answer.text[:300])
        seeded = _runtime_job(shared, ALICE, {"pubs": [[bell(), None, 8]], "version": 2,
                                              "options": {"simulator": {"seed_simulator": 2**70}}})
        attack.tried += 1
        _refused(seeded, 400, "seed_simulator")
    assert _runtime_jobs(shared, ALICE) == runtime_before
    _judge(shared, attack, figures, "8_odd_input", before, answers=answers)


# --- 9. files every local account could read ---------------------------------------------------


def test_9_the_data_is_readable_by_the_service_alone(shared, figures):
    if shared.engine != "sqlite":
        pytest.skip("PostgreSQL keeps the jobs in its own cluster: the SQLite files are the case")
    data_dir = shared.config.parent / "data"
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in data_dir.glob("jobs.sqlite3*")}
    modes[data_dir.name] = stat.S_IMODE(data_dir.stat().st_mode)
    figures.record("shared_service", **{"9_file_modes": {name: oct(mode) for name, mode in modes.items()}})
    assert modes.pop("data") == 0o700
    assert {"jobs.sqlite3", "jobs.sqlite3-wal", "jobs.sqlite3-shm"} <= set(modes), modes
    assert set(modes.values()) == {0o600}, modes

"""Helpers of the runtime tests: their job server's configuration and the child-process scenario runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import requests
from qiskit import QuantumCircuit
from qiskit_ibm_runtime import RuntimeEncoder

from prefect_ibmq.server import BackendSpec, JobServer, ServerConfig
from prefect_ibmq.server.runtime.crn import instance_crn
from prefect_ibmq.server.runtime.instances import Instances
from prefect_ibmq.server.runtime.settings import InstanceSpec, RuntimeSettings
from tests.helpers import TOKENS

GUARD = Path(__file__).parent / "guard"
ROOT = Path(__file__).parents[2]


#: carol's project has a named instance in eu-de whose plan allows a millisecond: one job exhausts it.
CAROL_INSTANCE = InstanceSpec(project="h1/g2/p3", name="carol-lab", region="eu-de", usage_limit_s=0.001)


def runtime_config(data_dir: Path, workers: int = 2) -> ServerConfig:
    """aer_simulator, noisy_simulator, doomed_simulator (fails every job), slow_simulator (2 s per pub).

    Every instance is in us-east with no plan limit but carol's (:data:`CAROL_INSTANCE`).
    """
    backends = [
        BackendSpec(name="aer_simulator", kind="ideal", n_qubits=5),
        BackendSpec(name="noisy_simulator", kind="noisy", n_qubits=5),
        BackendSpec(name="doomed_simulator", kind="flaky", n_qubits=5, failure_probability=1.0),
        BackendSpec(name="slow_simulator", kind="ideal", n_qubits=5, experiment_delay_s=2.0),
    ]
    tokens = {token: identity for token, identity in TOKENS.values()}
    runtime = RuntimeSettings(instances=[CAROL_INSTANCE])
    return ServerConfig(data_dir=data_dir, tokens=tokens, backends=backends, workers=workers, runtime=runtime)


@dataclass
class ClientRun:
    """What a scenario observed, and what its process resolved and requested."""

    observed: dict
    refused_hosts: list[str]
    requests: list[str]
    #: Every request and mark line ("mark NAME" where the scenario marked its log), in order.
    events: list[str]

    def between(self, mark: str) -> list[str]:
        """The requests made between the scenario's ``mark NAME`` and ``mark /NAME`` lines."""
        start, end = self.events.index(f"mark {mark}"), self.events.index(f"mark /{mark}")
        return [line.split(" ", 1)[1] for line in self.events[start + 1 : end] if line.startswith("request ")]


def run_scenario(server: JobServer, name: str, user: str, tmp_path: Path) -> ClientRun:
    """Run ``scenarios.NAME`` against ``server`` as ``user``, in a child process that resolves only loopback."""
    token, identity = TOKENS[user]
    assert server.url is not None
    crn = Instances(server.config.runtime).of(identity).crn
    return run_child([name, server.url, token, crn], tmp_path)


def run_child(args: list[str], tmp_path: Path) -> ClientRun:
    """``python -m tests.runtime.scenarios ARGS`` behind the loopback-only guard."""
    name = args[0]
    log = tmp_path / f"{name}.guard.log"
    env = dict(os.environ, RUNTIME_GUARD_LOG=str(log), PYTHONPATH=os.pathsep.join([str(GUARD), str(ROOT)]))
    child = subprocess.run(
        [sys.executable, "-m", "tests.runtime.scenarios", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert child.returncode == 0, f"scenario {name} failed:\n{child.stderr[-6000:]}"
    lines = log.read_text().splitlines() if log.exists() else []
    return ClientRun(
        observed=json.loads(child.stdout.strip().splitlines()[-1]),
        refused_hosts=[line.split(" ", 1)[1] for line in lines if line.startswith("refused ")],
        requests=[line.split(" ", 1)[1] for line in lines if line.startswith("request ")],
        events=[line for line in lines if line.startswith(("request ", "mark "))],
    )


GRANT = "urn:ibm:params:oauth:grant-type:apikey"


def isa_bell(qubits: int = 2) -> QuantumCircuit:
    """A Bell pair in IBM's basis (rz, sx, cx), so the server runs it as sent."""
    circuit = QuantumCircuit(qubits, 2)
    circuit.rz(1.5707963267948966, 0)
    circuit.sx(0)
    circuit.rz(1.5707963267948966, 0)
    circuit.cx(0, 1)
    circuit.measure([0, 1], [0, 1])
    return circuit


def sampler_body(circuit: QuantumCircuit, backend: str = "aer_simulator", shots: int = 100, **extra) -> str:
    """A ``POST /api/v1/jobs`` body of one sampler PUB, encoded with the stock client's RuntimeEncoder."""
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


def ibm_error(response: requests.Response, status: int, code: str, *words: str) -> None:
    """The response is IBM's error body: ``status``, one error of ``code`` whose message has ``words``."""
    assert response.status_code == status, (response.status_code, response.text)
    errors = response.json()["errors"]
    assert len(errors) == 1 and errors[0]["code"] == code, errors
    for word in words:
        assert word in errors[0]["message"], (word, errors[0]["message"])

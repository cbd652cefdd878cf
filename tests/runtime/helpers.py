"""Helpers of the runtime tests: their job server's configuration and the child-process scenario runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from prefect_ibmq.server import BackendSpec, JobServer, ServerConfig
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

"""Blocks save and load with the token masked; every deployment entrypoint loads and validates."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import yaml
from prefect.flows import load_flow_from_entrypoint
from prefect.settings import PREFECT_API_URL
from qiskit import qasm2

from prefect_ibmq.blocks import IBMQJobBlock, IBMQServiceCredentials
from prefect_ibmq.circuits import bell

ROOT = Path(__file__).resolve().parents[2]


def test_credentials_block_saves_and_loads_with_the_token_masked(job_server, alice_token):
    IBMQServiceCredentials(url=job_server.url, token=alice_token).save("test-creds", overwrite=True)
    loaded = IBMQServiceCredentials.load("test-creds")
    assert loaded.token.get_secret_value() == alice_token
    for shown in (repr(loaded), str(loaded), str(loaded.model_dump())):
        assert alice_token not in shown
    assert loaded.get_client().backend("aer_simulator").num_qubits > 2


def test_job_block_triggers_waits_and_fetches(job_server, alice_token):
    block = IBMQJobBlock(
        credentials=IBMQServiceCredentials(url=job_server.url, token=alice_token),
        circuits=[qasm2.dumps(bell())],
        shots=64,
        job_name="block-job",
    )
    block.save("bell-job", overwrite=True)
    loaded = IBMQJobBlock.load("bell-job")

    async def trigger_and_fetch():
        run = await loaded.trigger()
        await run.wait_for_completion()
        return run, await run.fetch_result()

    run, result = asyncio.run(trigger_and_fetch())
    assert run.job.name() == "block-job"
    assert sum(result.get_counts().values()) == 64


def test_every_deployment_entrypoint_loads_and_its_parameters_validate(monkeypatch):
    monkeypatch.chdir(ROOT)
    spec = yaml.safe_load((ROOT / "deployments" / "prefect.yaml").read_text())
    assert {d["name"] for d in spec["deployments"]} >= {"ghz-bell-sweep", "nightly-backend-check"}
    for deployment in spec["deployments"]:
        flow = load_flow_from_entrypoint(deployment["entrypoint"])
        given = deployment.get("parameters", {})
        validated = flow.validate_parameters(given)
        assert {name: validated[name] for name in given} == given
    schedules = [s for d in spec["deployments"] for s in d.get("schedules", [])]
    assert any("cron" in s for s in schedules)


def test_prefect_block_register_finds_our_blocks_offline():
    env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
    prefect = Path(sys.executable).with_name("prefect")
    done = subprocess.run([str(prefect), "block", "register", "-m", "prefect_ibmq"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr + done.stdout
    assert "IBMQ Service Credentials" in done.stdout and "IBMQ Job" in done.stdout
    assert "IBM Quantum Platform Credentials" in done.stdout

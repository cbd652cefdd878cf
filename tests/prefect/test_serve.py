"""Our flows served and deployed: ``flow.serve()``/``.deploy()`` ship the flow to a runner by value."""

from __future__ import annotations

import tempfile

import anyio
import cloudpickle
import pytest
from prefect.bundles import _pickle_local_modules_by_value
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.runner import Runner

from prefect_ibmq.flows import circuit_sweep, estimator_sweep, run_circuits

BELL_QASM2 = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; creg c[2]; h q[0]; cx q[0],q[1]; measure q -> c;'


@pytest.mark.parametrize("shipped", [run_circuits, circuit_sweep, estimator_sweep], ids=lambda flow: flow.name)
def test_a_flow_shipped_by_value_still_validates_its_parameters(shipped):
    # What a runner does with a served flow (prefect.bundles): pickle it with our modules by value,
    # which keeps only the globals the function body names; its annotations must not need the rest.
    with _pickle_local_modules_by_value(shipped):
        copy = cloudpickle.loads(cloudpickle.dumps(shipped))
    parameters = {"circuits": [BELL_QASM2], "shots": "64"}
    if shipped is estimator_sweep:
        parameters = {"circuits": [BELL_QASM2], "observables": ["ZZ"],
                      "service": {"token": "t", "url": "http://127.0.0.1:1", "url_resolver": "prefect-ibmq"}}
    validated = copy.validate_parameters(parameters)
    assert validated["circuits"] == [BELL_QASM2]
    if shipped is estimator_sweep:
        assert type(validated["service"]).__name__ == "IBMQuantumPlatformCredentials"
    else:
        assert validated["shots"] == 64 and validated["service"] is None


def test_a_served_sweep_runs_once(job_server, alice_token, monkeypatch, tmp_path):
    # The runner starts the flow run in a process of its own, which finds the job service in the settings.
    monkeypatch.setenv("PREFECT_IBMQ_URL", job_server.url)
    monkeypatch.setenv("PREFECT_IBMQ_TOKEN", alice_token)
    # Prefect's Runner keeps its files in <tmp>/runner_storage, one folder for every account of the
    # machine: made by another account first, it is not this one's to write in.
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    async def serve_and_run_once() -> object:
        runner = Runner(name="serve-test")
        deployment_id = await runner.aadd_flow(
            circuit_sweep, name="served-sweep", parameters={"circuits": [BELL_QASM2], "shots": 16})
        flow_run = await run_deployment(deployment_id, timeout=0)
        await runner.start(run_once=True)
        async with get_client() as client:
            return (await client.read_flow_run(flow_run.id)).state

    state = anyio.run(serve_and_run_once)
    assert state.is_completed(), state.message

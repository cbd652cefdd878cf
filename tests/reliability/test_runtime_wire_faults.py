"""circuit_sweep on IBM Quantum Platform through FaultProxy at a 20 % fault rate: no job twice, no result lost.

The stock qiskit-ibm-runtime client reaches the job service's Qiskit Runtime API
(IAM, discovery and /api/v1 alike) only through the proxy. A submission whose
answer is dropped is retried by the task, which first looks its idempotency tag
up: the server, asked directly afterwards, holds exactly one job per chunk.
"""

from __future__ import annotations

import uuid
from collections import Counter

import anyio

from prefect_ibmq.blocks import IBMQuantumPlatformCredentials
from prefect_ibmq.circuits import ghz
from prefect_ibmq.flows import circuit_sweep
from prefect_ibmq.server.runtime.crn import instance_crn
from prefect_ibmq.wire import JOBSET_TAG_PREFIX
from tests.faultproxy import FAULTS, FaultProxy, Rule
from tests.helpers import TOKENS

RATE = 0.2
CIRCUITS = 60
PER_JOB = 6  # 10 jobs
SHOTS = 32


def test_runtime_sweep_through_20_percent_faults_leaves_no_duplicate(job_server, prefect_harness, figures):
    sweep_id = f"rt-faults-{uuid.uuid4().hex[:8]}"
    circuits = []
    for index in range(CIRCUITS):
        circuit = ghz(2 + index % 2)
        circuit.name = f"ghz{circuit.num_qubits}_{index}"
        circuits.append(circuit)
    token, identity = TOKENS["alice"]
    with FaultProxy(job_server.url, rate=RATE, seed=4242) as proxy:
        # On top of the random 20 %: the server made the job, the client never heard, three times for sure.
        proxy.add_rule(Rule("drop_response", method="POST", path="/api/v1/jobs$", times=3))
        # No instance given: the service is asked for the token's, through the faults too.
        via_proxy = IBMQuantumPlatformCredentials(token=token, url=proxy.url, url_resolver="prefect-ibmq")
        report = circuit_sweep(circuits, shots=SHOTS, max_experiments_per_job=PER_JOB, sweep_id=sweep_id,
                               service=via_proxy)
        injected, forwarded = Counter(proxy.injected), proxy.forwarded

    expected_jobs = CIRCUITS // PER_JOB
    assert report.failed_circuits == []
    assert (report.counts.groupby("circuit_index")["count"].sum() == SHOTS).all()
    assert sorted(set(report.counts["circuit_index"])) == list(range(CIRCUITS))
    for index in (0, 1, 59):  # GHZ outcomes only
        width = 2 + index % 2
        assert set(report.counts[report.counts["circuit_index"] == index]["bitstring"]) <= {"0" * width, "1" * width}
    # Asked directly (not through the proxy): one job per chunk, none twice, all in the sweep's batch.
    direct = IBMQuantumPlatformCredentials(token=token, instance=instance_crn(identity), url=job_server.url,
                                           url_resolver="prefect-ibmq").platform()
    jobs = anyio.run(direct.find_jobs, f"{JOBSET_TAG_PREFIX}_{sweep_id}")
    names = Counter(job.name for job in jobs)
    assert len(jobs) == expected_jobs and set(names.values()) == {1}
    assert sorted(names) == sorted(f"{sweep_id}_{i}_" for i in range(expected_jobs))
    assert {job.status.value for job in jobs} == {"COMPLETED"}
    assert len({job.session_id for job in jobs}) == 1
    assert report.submitted == expected_jobs and sorted(report.job_ids) == sorted(job.job_id for job in jobs)
    assert set(injected) == set(FAULTS), injected
    assert injected["drop_response"] >= 3

    figures.record(
        "runtime_wire_faults_sweep",
        fault_rate=RATE,
        faults_injected=dict(sorted(injected.items())),
        requests_forwarded=forwarded,
        circuits=CIRCUITS,
        jobs_expected=expected_jobs,
        jobs_on_server=len(jobs),
        duplicate_jobs=sum(n - 1 for n in names.values()),
    )

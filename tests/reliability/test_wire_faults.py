"""Faults on the wire: a sweep and the job API through FaultProxy at a 20 % fault rate.

Every kind of fault is injected (500, 502, 503, 429, reset before forwarding, and
drop_response: the server acted but the client never heard). Nothing may be lost
and nothing duplicated: the server is then asked directly, not through the proxy.
"""

from __future__ import annotations

import uuid
from collections import Counter

from prefect_ibmq import IBMQService
from prefect_ibmq.blocks import IBMQServiceCredentials
from prefect_ibmq.circuits import ghz
from prefect_ibmq.flows import circuit_sweep
from prefect_ibmq.wire import JOBSET_TAG_PREFIX
from tests.faultproxy import FAULTS, FaultProxy, Rule

RATE = 0.2
CIRCUITS = 300
PER_JOB = 12  # 25 jobs
SHOTS = 64


def _sweep_circuits() -> list:
    circuits = []
    for index in range(CIRCUITS):
        circuit = ghz(2 + index % 2)
        circuit.name = f"ghz{circuit.num_qubits}_{index}"
        circuits.append(circuit)
    return circuits


def test_sweep_of_300_circuits_through_20_percent_faults(job_server, alice_token, prefect_harness, figures):
    sweep_id = f"faults-{uuid.uuid4().hex[:8]}"
    circuits = _sweep_circuits()
    with FaultProxy(job_server.url, rate=RATE, seed=20240) as proxy:
        # On top of the random 20 %: the hard case where it hurts most, for sure.
        proxy.add_rule(Rule("drop_response", method="POST", path="/v1/jobs$", times=3))
        proxy.add_rule(Rule("drop_response", method="GET", path=r"/v1/jobs/[^/]+/result", times=3))
        # And each other kind once for sure: how many the random 20 % gives each follows from how many
        # requests a sweep makes, which changes as the client gets leaner (a seed fixes only the order).
        for fault in FAULTS:
            if fault != "drop_response":
                proxy.add_rule(Rule(fault, method="GET", path=r"/v1/jobs/"))
        via_proxy = IBMQServiceCredentials(url=proxy.url, token=alice_token)
        report = circuit_sweep(
            circuits, shots=SHOTS, max_experiments_per_job=PER_JOB, max_jobs_in_flight=4,
            sweep_id=sweep_id, service=via_proxy,
        )
        injected, forwarded = Counter(proxy.injected), proxy.forwarded

    expected_jobs = -(-CIRCUITS // PER_JOB)
    # The server, asked directly (not through the proxy).
    direct = IBMQService(job_server.url, alice_token)
    jobs = direct.jobs(job_tags=[f"{JOBSET_TAG_PREFIX}_{sweep_id}"], limit=1000)
    names = Counter(job.name() for job in jobs)
    statuses = Counter(job.record.status.value for job in jobs)
    shots_per_circuit = report.counts.groupby("circuit_index")["count"].sum()
    complete = int((shots_per_circuit == SHOTS).sum())
    figures.record(  # what was counted, recorded before it is judged
        "wire_faults_sweep",
        fault_rate=RATE,
        faults_injected=dict(sorted(injected.items())),
        faults_total=sum(injected.values()),
        requests_forwarded=forwarded,
        circuits=CIRCUITS,
        circuits_with_result=complete,
        jobs_expected=expected_jobs,
        jobs_on_server=len(jobs),
        jobs_completed=statuses["COMPLETED"],
        duplicate_jobs=sum(n - 1 for n in names.values()),
        sweeps_completed=int(not report.failed_circuits and set(statuses) == {"COMPLETED"}),
        lost_results=CIRCUITS - complete,
    )
    # Every circuit has its result, with every shot.
    assert report.failed_circuits == []
    assert sorted(set(report.counts["circuit_index"])) == list(range(CIRCUITS))
    assert complete == CIRCUITS
    for index in (0, 1, 150, 299):  # GHZ outcomes only: all zeros or all ones
        bits = set(report.counts[report.counts["circuit_index"] == index]["bitstring"])
        width = 2 + index % 2
        assert bits <= {"0" * width, "1" * width}
    # The server holds exactly one job per chunk: no duplicate from a retried submit.
    assert len(jobs) == expected_jobs
    assert set(names.values()) == {1}
    assert sorted(names) == sorted(f"{sweep_id}_{i}_" for i in range(expected_jobs))
    assert set(statuses) == {"COMPLETED"}
    assert sorted(report.job_ids) == sorted(job.job_id() for job in jobs)
    assert report.submitted == expected_jobs and report.reused == 0
    # Every kind of fault was really injected, the hard one included.
    assert set(injected) == set(FAULTS), injected
    assert injected["drop_response"] >= 6


def test_job_api_rides_through_faults(job_server, alice_token, figures):
    """Submit, wait_for_final_state and result of single jobs, at 20 %, without Prefect's retries."""
    tag = f"faults-api-{uuid.uuid4().hex[:8]}"
    submitted = 12
    with FaultProxy(job_server.url, rate=RATE, seed=777) as proxy:
        service = IBMQService(proxy.url, alice_token)
        backend = service.backend("aer_simulator")
        jobs = [backend.run([ghz(3)] * 4, shots=SHOTS, job_tags=[tag], job_name=f"{tag}-{i}") for i in range(submitted)]
        counts = []
        for job in jobs:
            job.wait_for_final_state(timeout=120)
            counts.append(job.result().get_counts())
            # A second job object reads the same result again (not private): the fetch is repeatable.
            assert service.job(job.job_id()).result().get_counts() == counts[-1]
        injected = Counter(proxy.injected)
    on_server = IBMQService(job_server.url, alice_token).jobs(job_tags=[tag], limit=100)
    with_all_shots = sum(len(per_job) == 4 and all(sum(c.values()) == SHOTS for c in per_job) for per_job in counts)
    figures.record(  # what was counted, recorded before it is judged
        "wire_faults_api",
        fault_rate=RATE,
        faults_injected=dict(sorted(injected.items())),
        faults_total=sum(injected.values()),
        jobs_expected=submitted,
        jobs_on_server=len(on_server),
        duplicate_jobs=len(on_server) - len({job.name() for job in on_server}),
        results_read=len(counts),
        lost_results=submitted - with_all_shots,
    )
    assert with_all_shots == submitted
    assert sorted(job.name() for job in on_server) == sorted(f"{tag}-{i}" for i in range(submitted))
    assert sum(injected.values()) > 0

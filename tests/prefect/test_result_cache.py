"""``cache_results=True``: a rerun of the same circuits, backend and shots reuses the stored counts."""

from __future__ import annotations

import uuid

import pandas as pd

from prefect_ibmq.circuits import bell, ghz
from prefect_ibmq.flows import circuit_sweep, run_circuits
from tests.prefect.helpers import artifacts_of, task_run_names


def _fresh_circuits(n: int) -> list:
    # Prefect's result storage outlives a test session: names unique to this run make its first sweep a miss.
    run = uuid.uuid4().hex[:8]
    circuits = [ghz(2 + i % 3) for i in range(n)]
    for i, circuit in enumerate(circuits):
        circuit.name = f"cache-{run}-{i}"
    return circuits


def test_a_cached_rerun_under_another_sweep_id_submits_no_job(credentials):
    service = credentials.get_client()
    circuits = _fresh_circuits(6)
    common = dict(shots=64, max_experiments_per_job=3, cache_results=True, service=credentials)

    first = circuit_sweep(circuits, sweep_id="cache-first", **common)
    assert first.submitted == 2 and first.cached == 0
    assert not first.summary["cached"].any()
    jobs_before = len(service.jobs(limit=1000))

    state = circuit_sweep(circuits, sweep_id="cache-again", return_state=True, **common)
    again = state.result()
    assert again.submitted == 0 and again.cached == 2
    # Found in the cache all at once: no task run at all (no cached-job, submit, wait, fetch or pictures run),
    # the progress artifact made complete, and the same pictures as the first run not published again.
    flow_run_id = state.state_details.flow_run_id
    assert task_run_names(flow_run_id) == []
    artifacts = artifacts_of(flow_run_id)
    assert artifacts["cache-again-progress"].data == 100.0
    assert "(2 reused from the cache, nothing submitted for them)" in artifacts["cache-again-summary"].data
    assert "cache-again-pictures" not in artifacts
    assert again.summary["cached"].all()
    assert sorted(again.job_ids) == sorted(first.job_ids)  # the jobs that made the counts
    assert len(service.jobs(limit=1000)) == jobs_before
    assert service.jobs(job_tags=["ibmq_jobset_cache-again"], limit=10) == []
    columns = ["circuit_index", "bitstring", "count"]
    pd.testing.assert_frame_equal(again.counts[columns], first.counts[columns])

    other_shots = circuit_sweep(circuits, sweep_id="cache-shots", **{**common, "shots": 32})
    assert other_shots.submitted == 2 and other_shots.cached == 0


def test_run_circuits_reuses_a_cached_job_and_says_so(credentials):
    circuits = [bell(), *_fresh_circuits(1)]
    first = run_circuits(circuits, shots=128, cache_results=True, service=credentials)
    second = run_circuits(circuits, shots=128, cache_results=True, service=credentials)
    assert not first.summary.loc[0, "cached"] and second.summary.loc[0, "cached"]
    assert second.job_id == first.job_id
    pd.testing.assert_frame_equal(second.counts, first.counts)
    uncached = run_circuits(circuits, shots=128, service=credentials)
    assert uncached.job_id != first.job_id and not uncached.summary.loc[0, "cached"]

"""``cache_results=True``: a rerun of the same circuits, backend and shots reuses the stored counts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pandas as pd
from prefect.settings import PREFECT_API_URL

from prefect_ibmq.blocks import IBMQServiceCredentials
from prefect_ibmq.circuits import bell, ghz
from prefect_ibmq.flows import circuit_sweep, run_circuits
from prefect_ibmq.server import JobServer
from tests.helpers import server_config, token_of
from tests.prefect.helpers import artifacts_of, task_run_names

TOKEN = token_of("alice")


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


def test_jobs_with_failed_experiments_are_never_cached(credentials):
    # The flaky backend fails some experiments of some jobs (seeded by the job names): only the jobs
    # that completed every experiment may be reused by a rerun; the others are run again.
    circuits = _fresh_circuits(12)
    common = dict(backend_name="flaky_simulator", shots=16, max_experiments_per_job=3, resubmit_failed=0,
                  cache_results=True, service=credentials)
    first = circuit_sweep(circuits, sweep_id="cache-flaky-first", **common)
    complete = first.summary[(first.summary["status"].astype(str) == "COMPLETED")
                             & (first.summary["success_count"] == first.summary["num_experiments"])]
    assert 0 < len(complete) < len(first.summary)  # both kinds of job, or this test proves nothing

    again = circuit_sweep(circuits, sweep_id="cache-flaky-again", **common)
    assert sorted(again.summary.loc[again.summary["cached"], "job_id"]) == sorted(complete["job_id"])
    assert again.cached == len(complete) and again.submitted == len(first.summary) - len(complete)
    assert not set(again.summary.loc[~again.summary["cached"], "job_id"]) & set(first.job_ids)


def test_a_rerun_in_a_new_process_on_a_new_port_hits_the_cache(tmp_path):
    # The embedded default listens on a new port in every process: the cache key names the service's store
    # (kept in its data dir), not its URL. Here a server of the same kind restarts on its data dir, and the
    # rerun is another process. Two identical chunks share one stored job, which the rerun lists once.
    run = uuid.uuid4().hex[:8]
    circuits = [ghz(2 + i % 2) for i in range(3)]
    for i, circuit in enumerate(circuits):
        circuit.name = f"cross-{run}-{i}"
    config = server_config(tmp_path / "service", simulation="threads", workers=1)
    with JobServer(config) as server:
        state = circuit_sweep(circuits * 2, shots=32, max_experiments_per_job=3, cache_results=True,
                              sweep_id=f"cross-{run}-a", service=IBMQServiceCredentials(url=server.url, token=TOKEN),
                              return_state=True)
        first, first_url = state.result(), server.url
    assert first.submitted == 2 and len(first.job_ids) == 2
    # One writer per key: only one of the identical chunks stores its job (two at once could tear the record).
    names = task_run_names(state.state_details.flow_run_id)
    assert len([name for name in names if name.startswith("cached-job-")]) == 1, names

    rerun = (
        "import json, os\n"
        "from prefect_ibmq.blocks import IBMQServiceCredentials\n"
        "from prefect_ibmq.circuits import ghz\n"
        "from prefect_ibmq.flows import circuit_sweep\n"
        "circuits = [ghz(2 + i % 2) for i in range(3)]\n"
        f"for i, c in enumerate(circuits): c.name = 'cross-{run}-' + str(i)\n"
        "service = IBMQServiceCredentials(url=os.environ['SERVICE_URL'], token=os.environ['SERVICE_TOKEN'])\n"
        f"r = circuit_sweep(circuits * 2, shots=32, max_experiments_per_job=3, cache_results=True, "
        f"sweep_id='cross-{run}-b', service=service)\n"
        "print(json.dumps({'submitted': r.submitted, 'cached': r.cached, 'job_ids': r.job_ids,\n"
        "                  'circuits': sorted(set(r.counts['circuit_index'].tolist()))}))\n"
    )
    with JobServer(config) as again:
        assert again.url != first_url
        env = {**os.environ, "PREFECT_API_URL": PREFECT_API_URL.value(), "SERVICE_URL": again.url,
               "SERVICE_TOKEN": TOKEN}
        done = subprocess.run([sys.executable, "-c", rerun], env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    second = json.loads(done.stdout.strip().splitlines()[-1])
    assert second["submitted"] == 0 and second["cached"] == 1
    assert len(second["job_ids"]) == 1 and second["job_ids"][0] in first.job_ids
    assert second["circuits"] == list(range(6))

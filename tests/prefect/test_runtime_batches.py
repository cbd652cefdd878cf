"""Sweeps on IBM Quantum Platform whose batch expires under them (``max_ttl``), and their budget guard.

The session's job server runs ``slow_simulator`` at 0.5 s per circuit on two workers,
so jobs of four circuits take 2 s each, and a batch of a few seconds' ``max_time`` ends
while some of the sweep's jobs are still queued (IBM then cancels them, reason code 1520)
or not yet submitted (IBM refuses them, ``409 session_closed``). The batches are long
enough for a loaded machine to submit into them (a submit transpiles and posts from the
flow's process, ~0.5-3 s under the full suite), short enough to end within a test.
"""

from __future__ import annotations

import logging
import threading
import time

import pandas as pd
import pytest

from prefect_ibmq.blocks import IBMQuantumPlatformCredentials
from prefect_ibmq.circuits import ghz_bell_set
from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.flows import circuit_sweep, estimator_sweep
from prefect_ibmq.server.runtime.crn import instance_crn
from prefect_ibmq.wire import ApiJobStatus
from tests.helpers import HOLD_LIMIT_S, TOKENS, token_of, workers_held
from tests.prefect.helpers import artifacts_of, on_platform, task_runs


@pytest.fixture(scope="module")
def platform(job_server) -> IBMQuantumPlatformCredentials:
    """alice on the session's job server, reached as IBM Quantum Platform."""
    token, identity = TOKENS["alice"]
    return IBMQuantumPlatformCredentials(
        token=token, instance=instance_crn(identity), url=job_server.url, url_resolver="prefect-ibmq"
    )


def _check_once_each(platform, report, sweep_id: str, n_circuits: int, n_jobs: int, shots: int) -> pd.DataFrame:
    """Every circuit counted once, each chunk completed once, the jobs in two batches at least; the completed jobs."""
    assert report.failed_circuits == []
    counts = report.counts
    assert sorted(counts["circuit_index"].unique()) == list(range(n_circuits))
    assert (counts.groupby("circuit_index")["count"].sum() == shots).all()
    assert (counts.groupby("circuit_index")["job_id"].nunique() == 1).all()
    summary = report.summary
    ran = summary[summary["status"].astype(str) == "COMPLETED"]
    assert sorted(ran["name"]) == sorted(f"{sweep_id}_{index}_" for index in range(n_jobs))
    assert summary["session_id"].notna().all() and summary["session_id"].nunique() >= 2
    # The platform has no other jobs of the sweep than the summary shows.
    jobs = on_platform(platform, "find_jobs", f"ibmq_jobset_{sweep_id}")
    assert sorted(job.job_id for job in jobs) == sorted(summary["job_id"])
    return ran


def test_queued_jobs_cancelled_with_their_batch_run_in_the_next(platform, job_server):
    sweep_id = "rt-expiry-queued"
    cancelled = threading.Event()

    def release_after_a_cancel(held) -> None:
        # The workers are held until the batch has expired and cancelled a queued job of the sweep.
        deadline = time.monotonic() + HOLD_LIMIT_S
        while time.monotonic() < deadline and not cancelled.is_set():
            jobs = on_platform(platform, "find_jobs", f"ibmq_jobset_{sweep_id}")
            if any(job.status is ApiJobStatus.CANCELLED for job in jobs):
                cancelled.set()
            time.sleep(0.1)
        held.release()

    with workers_held(job_server.url, token_of("alice"), 2) as held:
        releaser = threading.Thread(target=release_after_a_cancel, args=(held,), daemon=True)
        releaser.start()
        report = circuit_sweep(ghz_bell_set(6), backend_name="slow_simulator", shots=32, max_experiments_per_job=1,
                               max_jobs_in_flight=6, sweep_id=sweep_id, max_time=10, service=platform)
        releaser.join()

    assert cancelled.is_set()
    ran = _check_once_each(platform, report, sweep_id, 6, 6, 32)
    expired = report.summary[report.summary["status"].astype(str) == "CANCELLED"]
    assert len(expired) >= 1 and expired["error_message"].str.contains("max_ttl").all()
    assert expired["label"].str.contains("batch expired, resubmitted").all()
    # A cancelled job's chunk completed in a later batch than the one that expired under it.
    for _, job in expired.iterrows():
        [again] = ran[ran["name"] == job["name"]]["session_id"]
        assert again != job["session_id"]


def test_submits_refused_by_an_expired_batch_go_to_a_new_one(platform):
    # One job in flight, 2 s each: the fourth is submitted 6 s at least after the 5 s batch opened.
    sweep_id = "rt-expiry-refused"
    state = circuit_sweep(ghz_bell_set(16), backend_name="slow_simulator", shots=32, max_experiments_per_job=4,
                          max_jobs_in_flight=1, sweep_id=sweep_id, max_time=5, service=platform, return_state=True)
    report = state.result()

    ran = _check_once_each(platform, report, sweep_id, 16, 4, 32)
    assert ran["session_id"].nunique() >= 2  # job 4 went in after job 1's batch had ended
    refused = [run for run in task_runs(state.state_details.flow_run_id)
               if run.name.startswith("submit-") and run.state.is_failed()]
    assert refused and all("IBMQSessionClosedError" in run.state.message for run in refused)


#: ``slow_simulator``'s delay per circuit in the suite's server (tests/helpers.py).
SLOW_S_PER_CIRCUIT = 0.5


def _jobs_the_budget_admits(seconds: list[float], budget: float) -> int:
    """How many one-circuit jobs, run one at a time, the guard admits given each job's measured seconds.

    The first goes without an estimate; each next one goes while what was spent plus the mean so far fits.
    """
    admitted, spent = 1, seconds[0]
    while admitted < len(seconds) and spent + spent / admitted <= budget:
        spent += seconds[admitted]
        admitted += 1
    return admitted


def test_a_budget_guard_stops_submitting_at_its_limit(platform, caplog):
    sweep_id = "rt-budget"
    circuits = ghz_bell_set(8)
    kwargs = dict(backend_name="slow_simulator", shots=16, max_experiments_per_job=1, max_jobs_in_flight=1,
                  service=platform)
    # Every job runs 0.5 s at least (slow_simulator's delay per circuit): 8 jobs cannot fit in 3.5 of them.
    budget = 3.5 * SLOW_S_PER_CIRCUIT
    with caplog.at_level(logging.INFO):
        state = circuit_sweep(circuits, sweep_id=sweep_id, max_quantum_seconds=budget, return_state=True, **kwargs)
    report = state.result()

    summary = report.summary.sort_values("created")
    seconds = summary["quantum_s"].tolist()
    assert all(value >= SLOW_S_PER_CIRCUIT for value in seconds)
    # The jobs that ran are those the guard admits from their own measured usage; the others never went out.
    ran = _jobs_the_budget_admits(seconds + [seconds[-1]] * (8 - len(seconds)), budget)
    assert 1 <= len(summary) == ran < 8
    assert report.not_run_circuits == list(range(ran, 8))
    assert report.quantum_seconds == pytest.approx(sum(seconds))
    assert sorted(report.counts["circuit_index"].unique()) == list(range(ran))
    assert len(on_platform(platform, "find_jobs", f"ibmq_jobset_{sweep_id}")) == ran
    # The progress counts the jobs that ran: complete at ran of ran, not at 8 of 8 with some never sent.
    progress = artifacts_of(state.state_details.flow_run_id)[f"{sweep_id}-progress"]
    assert progress.data == 100.0 and progress.description == f"{ran} of {ran} jobs done"
    # A progress line per job that ran, and none for a job not sent but the last, which ends the sweep.
    done = [m.split()[-3] for m in caplog.messages if m.startswith(f"Sweep {sweep_id}:") and "jobs done" in m]
    assert done == [f"{i}/8" for i in range(1, ran + 1)] + [f"{ran}/{ran}"]
    # The quantum seconds are the platform's own usage of each job.
    for _, job in summary.iterrows():
        assert job["quantum_s"] == pytest.approx(on_platform(platform, "quantum_seconds",
                                                             on_platform(platform, "record", job["job_id"])))

    # A budget of nothing submits nothing, and says so.
    empty = estimator_sweep([circuits[0]], ["ZZ"], service=platform, sweep_id="rt-budget-none", max_quantum_seconds=0)
    assert empty.job_ids == [] and empty.not_run_circuits == [0] and empty.quantum_seconds == 0
    with pytest.raises(IBMQValueError, match=r"max_quantum_seconds=-1(\.0)? is not accepted"):
        circuit_sweep(circuits, max_quantum_seconds=-1, service=platform)

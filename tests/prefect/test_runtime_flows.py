"""The ready flows on an IBMQuantumPlatformCredentials block, against the job service's Qiskit Runtime API.

The stock qiskit-ibm-runtime client talks HTTP to the session's real job server
(its second router), exactly as it would to IBM Quantum Platform.
"""

from __future__ import annotations

import math

import pandas as pd
import pytest
from prefect.exceptions import ParameterTypeError
from qiskit import QuantumCircuit
from qiskit.circuit import Parameter

from prefect_ibmq.blocks import IBMQServiceCredentials, IBMQuantumPlatformCredentials
from prefect_ibmq.circuits import bell, ghz_bell_set
from prefect_ibmq.exceptions import IBMQBackendValueError, IBMQValueError
from prefect_ibmq.flows import circuit_sweep, estimator_sweep, run_circuits
from prefect_ibmq.runtime.options import RuntimeOptions
from prefect_ibmq.server.runtime.crn import instance_crn
from prefect_ibmq.tables import expectation_frame
from prefect_ibmq.tasks import fetch_result, submit_job, update_job_name, update_job_tags, wait_for_final_state
from prefect_ibmq.wire import ApiJobStatus
from tests.helpers import TOKENS
from tests.prefect.helpers import artifacts_of, on_platform, task_run_names


@pytest.fixture(scope="module")
def platform(job_server) -> IBMQuantumPlatformCredentials:
    """alice on the session's job server, reached as IBM Quantum Platform."""
    token, identity = TOKENS["alice"]
    return IBMQuantumPlatformCredentials(
        token=token, instance=instance_crn(identity), url=job_server.url, url_resolver="prefect-ibmq"
    )


def test_run_circuits_in_a_session_counts_tables_events_and_tags(platform, recorded_events):
    state = run_circuits([bell(), ghz_bell_set(2)[1]], shots=200, job_name="rt-bell", job_tags=["rt"],
                         service=platform, mode="session", return_state=True)
    report = state.result()

    assert report.status is ApiJobStatus.COMPLETED
    bell_rows = report.counts[report.counts["experiment"] == 0]
    assert set(bell_rows["bitstring"]) <= {"00", "11"} and bell_rows["count"].sum() == 200
    assert report.counts["circuit"].iloc[0] == "bell"
    steps = report.timings["step"].astype(str).tolist()
    assert steps == ["QUEUED", "RUNNING", "COMPLETED"]
    summary = report.summary.iloc[0]
    assert summary["name"] == "rt-bell" and summary["num_experiments"] == 2 and summary["success_count"] == 2
    assert summary["queue_s"] >= 0 and summary["run_s"] >= 0 and pd.isna(summary["validation_s"])
    events = recorded_events("prefect-ibmq.job.")
    assert "prefect-ibmq.job.completed" in {e.event for e in events}
    assert all(e.resource.id == f"prefect-ibmq.job.{report.job_id}" for e in events)
    assert all(e.payload["queue_position"] is None for e in events)  # IBM removed queue positions
    names = task_run_names(state.state_details.flow_run_id)
    assert f"wait-{report.job_id}" in names and f"fetch-{report.job_id}" in names
    assert report.job_id in artifacts_of(state.state_details.flow_run_id)["job-rt-bell-summary"].data
    assert on_platform(platform, "record", report.job_id).session_id is not None  # ran in the flow's session

    # Tags and names (kept as a job_name: tag) through the tasks; the adapter's own tags survive a replacement.
    tags = update_job_tags(report.job_id, replacement_tags=["kept"], additional_tags=["more"], service=platform)
    assert tags[:1] == ["kept"] and "more" in tags and "job_name:rt-bell" in tags
    assert any(tag.startswith("idempotency:") for tag in tags)
    assert update_job_name(report.job_id, "renamed", service=platform) == "renamed"
    assert on_platform(platform, "record", report.job_id).name == "renamed"


def test_circuit_sweep_on_the_platform_runs_in_a_batch_and_resumes(platform, tmp_path):
    circuits = ghz_bell_set(9)
    kwargs = dict(max_experiments_per_job=3, sweep_id="rt-sweep", shots=64, service=platform)
    first = circuit_sweep(circuits, output_dir=str(tmp_path), **kwargs)

    assert first.submitted == 3 and first.failed_circuits == []
    assert sorted(first.counts["circuit"].unique()) == sorted(c.name for c in circuits)
    assert (first.counts.groupby("circuit_index")["count"].sum() == 64).all()
    jobs = on_platform(platform, "find_jobs", "ibmq_jobset_rt-sweep")
    assert sorted(job.name for job in jobs) == ["rt-sweep_0_", "rt-sweep_1_", "rt-sweep_2_"]
    sessions = {job.session_id for job in jobs}
    assert len(sessions) == 1 and None not in sessions  # the sweep's jobs share one batch

    second = circuit_sweep(circuits, **kwargs)
    assert second.submitted == 0 and second.reused == 3 and sorted(second.job_ids) == sorted(first.job_ids)
    assert len(on_platform(platform, "find_jobs", "ibmq_jobset_rt-sweep")) == 3


def test_estimator_sweep_gives_bell_zz_and_a_parameter_scan(platform, tmp_path):
    angle = Parameter("t")
    rotated = QuantumCircuit(2, name="rot")
    rotated.ry(angle, 0)  # cos(t/2)|00> + sin(t/2)|11>: <ZZ> = 1, <ZI> = cos t
    rotated.cx(0, 1)
    with pytest.warns(DeprecationWarning, match="use max_experiments_per_job"):  # the old name still works
        state = estimator_sweep(
            [bell(), rotated], ["ZZ", "XX", "ZI"], service=platform, parameter_values=[[0.0], [math.pi]],
            sweep_id="rt-estimator", max_pubs_per_job=1, output_dir=str(tmp_path), return_state=True,
        )
    report = state.result()
    values = report.expectations.set_index(["circuit_index", "observable", "parameter_set"])["value"]

    assert report.submitted == 2 and report.failed_circuits == []
    assert values[(0, "ZZ", 0)] == pytest.approx(1.0, abs=0.05)
    assert values[(0, "XX", 0)] == pytest.approx(1.0, abs=0.05)
    assert values[(0, "ZI", 0)] == pytest.approx(0.0, abs=0.05)
    assert values[(1, "ZI", 0)] == pytest.approx(1.0, abs=0.05)
    assert values[(1, "ZI", 1)] == pytest.approx(-1.0, abs=0.05)
    assert len(report.expectations) == 3 + 3 * 2 and (report.expectations["std"] >= 0).all()
    assert set(report.summary["status"].astype(str)) == {"COMPLETED"}
    assert {"expectations", "timings", "summary", "timeline", "step_durations"} <= set(report.outputs)
    artifacts = artifacts_of(state.state_details.flow_run_id)
    assert {"rt-estimator-expectations", "rt-estimator-timings", "rt-estimator-pictures"} <= set(artifacts)


def test_circuit_sweep_on_the_executor_gives_the_samplers_counts(platform):
    circuits = [bell(), *ghz_bell_set(3)[1:]]
    kwargs = dict(shots=200, max_experiments_per_job=2, service=platform)
    sampled = circuit_sweep(circuits, sweep_id="rt-exec-sampler", **kwargs)
    executed = circuit_sweep(circuits, sweep_id="rt-exec-executor", program="executor", **kwargs)

    programs = {on_platform(platform, "record", job_id).program_id for job_id in executed.job_ids}
    assert programs == {"executor"} and executed.failed_circuits == []
    # The same table: columns and types, every circuit's shots, Bell's bitstrings only 00 and 11.
    assert list(executed.counts.columns) == list(sampled.counts.columns)
    assert (executed.counts.dtypes == sampled.counts.dtypes).all()
    for report in (sampled, executed):
        assert (report.counts.groupby("circuit_index")["count"].sum() == 200).all()
        assert sorted(report.counts["circuit"].unique()) == sorted(c.name for c in circuits)
        bell_rows = report.counts[report.counts["circuit"] == "bell"]
        assert set(bell_rows["bitstring"]) == {"00", "11"}
    with pytest.raises(IBMQValueError, match="program 'estimator' runs no sampler"):
        circuit_sweep([bell()], program="estimator", service=platform)


def test_failed_executor_jobs_keep_their_primitives_form(platform):
    # No partial results: a failed executor job is the sampler's failed Result, or no estimator values.
    counted = circuit_sweep(ghz_bell_set(2), backend_name="doomed_simulator", shots=16, sweep_id="rt-exec-doomed",
                            resubmit_failed=0, program="executor", service=platform)
    assert counted.failed_circuits == [0, 1]
    assert len(counted.counts) == 2 and not counted.counts["success"].any()  # one failed row per circuit
    assert set(counted.summary["status"].astype(str)) == {"ERROR_RUNNING_JOB"}
    estimated = estimator_sweep([bell()], ["ZZ"], backend_name="doomed_simulator", sweep_id="rt-exec-doomed-ev",
                                resubmit_failed=0, program="executor", service=platform)
    assert estimated.failed_circuits == [0] and estimated.expectations.empty


def test_estimator_sweep_and_submit_job_on_the_executor_give_bell_zz(platform):
    report = estimator_sweep([bell()], ["ZZ", "XX"], service=platform, program="executor", sweep_id="rt-exec-zz",
                             precision=0.02)
    values = report.expectations.set_index(["observable", "parameter_set"])["value"]

    assert on_platform(platform, "record", report.job_ids[0]).program_id == "executor"
    assert values[("ZZ", 0)] == pytest.approx(1.0, abs=0.05)
    assert values[("XX", 0)] == pytest.approx(1.0, abs=0.05)
    assert (report.expectations["std"] >= 0).all() and report.expectations["circuit"].tolist() == ["bell"] * 2

    # The task: an estimator PUB with RuntimeOptions(program="executor"); the values labelled from the PUBs sent.
    pubs = [(bell().remove_final_measurements(inplace=False), ["ZZ"])]
    job_id = submit_job(pubs, runtime=RuntimeOptions(program="executor"), service=platform)
    wait_for_final_state(job_id, service=platform)
    frame = expectation_frame(fetch_result(job_id, service=platform), pubs=pubs)
    assert frame["observable"].tolist() == ["ZZ"] and frame["value"].iloc[0] == pytest.approx(1.0, abs=0.05)
    assert frame["job_id"].tolist() == [job_id]
    with pytest.raises(IBMQValueError, match="either estimator PUBs .* or circuits / sampler PUBs in one job"):
        submit_job([bell(), *pubs], runtime=RuntimeOptions(program="executor"), service=platform)


def test_failed_jobs_are_resubmitted_whole_and_a_stopped_wait_cancels(platform, recorded_events):
    # IBM Quantum Platform has no partial results: every circuit of a failed job is resubmitted.
    report = circuit_sweep(ghz_bell_set(4), backend_name="doomed_simulator", shots=16, max_experiments_per_job=2,
                           sweep_id="rt-doomed", resubmit_failed=1, service=platform)
    names = sorted(job.name for job in on_platform(platform, "find_jobs", "ibmq_jobset_rt-doomed"))
    assert names == ["rt-doomed_0_", "rt-doomed_0_r1", "rt-doomed_1_", "rt-doomed_1_r1"]
    assert report.failed_circuits == [0, 1, 2, 3]
    assert set(report.summary["status"].astype(str)) == {"ERROR_RUNNING_JOB"}
    assert report.summary["error_message"].str.contains("simulated hardware fault").all()
    assert not report.counts["success"].astype(bool).any()

    # A wait that times out cancels its job (slow_simulator: 0.5 s per circuit).
    state = run_circuits([bell()] * 20, backend_name="slow_simulator", shots=8, job_tags=["rt-timeout"], timeout=1.0,
                         service=platform, return_state=True)
    assert state.is_failed() and "IBMQJobTimeoutError" in state.message
    [job] = on_platform(platform, "find_jobs", "rt-timeout")
    assert job.status is ApiJobStatus.CANCELLED
    assert f"prefect-ibmq.job.{job.job_id}" in {
        e.resource.id for e in recorded_events("prefect-ibmq.job.cancelled")}


def test_what_one_platform_lacks_is_refused_before_anything_is_submitted(platform, job_server, alice_token):
    legacy = IBMQServiceCredentials(url=job_server.url, token=alice_token)
    before = len(legacy.get_client().jobs(limit=1000))
    with pytest.raises(ValueError, match=r"mode='batch'.*IBMQuantumPlatformCredentials"):
        circuit_sweep([bell()], mode="batch", service=legacy)
    with pytest.raises(ValueError, match="runtime options need service=IBMQuantumPlatformCredentials"):
        submit_job([bell()], runtime=RuntimeOptions(), service=legacy)
    with pytest.raises(IBMQValueError, match=r"mode='turbo' is not accepted; give one of \['job', 'batch', 'sess"):
        run_circuits([bell()], mode="turbo", service=platform)
    with pytest.raises(IBMQBackendValueError, match="share_level='group' is not available on IBM Quantum Platform"):
        submit_job([bell()], share_level="group", service=platform)
    with pytest.raises(ParameterTypeError, match="IBMQuantumPlatformCredentials"):
        estimator_sweep([bell()], ["ZZ"], service=legacy)  # the estimator is a Qiskit Runtime program
    assert len(legacy.get_client().jobs(limit=1000)) == before

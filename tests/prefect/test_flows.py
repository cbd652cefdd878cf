"""The ready flows, run under the session's Prefect test server against the real job server."""

from __future__ import annotations

import itertools
import logging

import pandas as pd
import pytest
from prefect.exceptions import ParameterTypeError

from prefect_ibmq import IBMQService
from prefect_ibmq.circuits import CircuitInputError, bell, ghz, ghz_bell_set
from prefect_ibmq.exceptions import IBMQBackendValueError, IBMQValueError
from prefect_ibmq.flows import circuit_sweep, run_circuits
from prefect_ibmq.wire import ApiJobStatus
from tests.prefect.helpers import artifacts_of, flaky_resubmissions, task_run_names, task_runs

BELL_QASM3 = """OPENQASM 3.0;
include "stdgates.inc";
qubit[2] q;
bit[2] c;
h q[0];
cx q[0], q[1];
c = measure q;
"""


def jobs_tagged(service: IBMQService, tag: str):
    return service.jobs(job_tags=[tag], limit=1000)


def test_run_circuits_tabulates_and_publishes(credentials):
    state = run_circuits(
        [bell(), ghz(3), BELL_QASM3], shots=256, job_name="tables-demo", service=credentials, return_state=True
    )
    report = state.result()
    flow_run_id = state.state_details.flow_run_id

    assert report.status is ApiJobStatus.COMPLETED
    # Three experiments, each a probability distribution over ideal GHZ outcomes only.
    per_experiment = report.counts.groupby("experiment")["probability"].sum()
    assert list(per_experiment.round(9)) == [1.0, 1.0, 1.0]
    assert set(report.counts.loc[report.counts["experiment"] == 1, "bitstring"]) <= {"000", "111"}
    assert report.summary.loc[0, "job_id"] == report.job_id
    assert report.summary.loc[0, "num_experiments"] == 3
    steps = report.timings["step"].astype(str).tolist()
    assert steps[0] == "CREATING" and steps[-1] == "COMPLETED" and "RUNNING" in steps

    artifacts = artifacts_of(flow_run_id)
    assert {"job-tables-demo-timings", "job-tables-demo-summary"} <= set(artifacts)
    assert report.job_id in artifacts["job-tables-demo-summary"].data
    assert report.job_id in artifacts["job-tables-demo-timings"].data
    names = task_run_names(flow_run_id)
    assert f"wait-{report.job_id}" in names and f"fetch-{report.job_id}" in names


def test_sweep_is_a_job_set_and_a_rerun_submits_nothing(credentials, tmp_path, caplog):
    service = credentials.get_client()
    circuits = ghz_bell_set(12)
    kwargs = dict(max_experiments_per_job=4, sweep_id="rerun-check", shots=128, service=credentials)

    with caplog.at_level(logging.INFO):
        state = circuit_sweep(circuits, output_dir=str(tmp_path), return_state=True, **kwargs)
    first = state.result()
    # Progress lines in the order jobs finished: 1/3, 2/3, 3/3 (jobs finish concurrently).
    done = [m.split()[-3] for m in caplog.messages if m.startswith("Sweep rerun-check:") and "jobs done" in m]
    assert done == ["1/3", "2/3", "3/3"]
    jobs = jobs_tagged(service, "ibmq_jobset_rerun-check")
    assert first.submitted == 3 and first.reused == 0
    assert sorted(job.name() for job in jobs) == ["rerun-check_0_", "rerun-check_1_", "rerun-check_2_"]
    assert first.counts["circuit_index"].nunique() == 12 and first.failed_circuits == []
    assert sorted(first.counts["circuit"].unique()) == sorted(c.name for c in circuits)
    for name in ("counts", "timings", "summary"):
        written = pd.read_parquet(first.outputs[name])
        assert len(written) == len(getattr(first, name))
    # One submit at a time, in chunk order (the first job runs while the next are sent): no two submit
    # task runs overlap, and they ran as the chunks are numbered.
    submits = sorted((run for run in task_runs(state.state_details.flow_run_id) if run.name.startswith("submit-")),
                     key=lambda run: run.start_time)
    assert [run.name for run in submits] == ["submit-rerun-check_0_", "submit-rerun-check_1_", "submit-rerun-check_2_"]
    assert all(before.end_time <= after.start_time for before, after in itertools.pairwise(submits))
    artifacts = artifacts_of(state.state_details.flow_run_id)
    assert {"rerun-check-progress", "rerun-check-timings", "rerun-check-summary"} <= set(artifacts)
    assert artifacts["rerun-check-progress"].data == 100.0

    second = circuit_sweep(circuits, **kwargs)
    assert second.submitted == 0 and second.reused == 3
    assert sorted(second.job_ids) == sorted(first.job_ids)
    assert len(jobs_tagged(service, "ibmq_jobset_rerun-check")) == 3
    pd.testing.assert_frame_equal(
        second.counts[["circuit_index", "bitstring", "count"]], first.counts[["circuit_index", "bitstring", "count"]]
    )


def test_sweep_resubmits_failed_experiments_of_partial_results(credentials):
    circuits = ghz_bell_set(30)
    report = circuit_sweep(
        circuits, backend_name="flaky_simulator", shots=64, max_experiments_per_job=10,
        sweep_id="flaky-check", resubmit_failed=3, service=credentials,
    )
    names = [job.name() for job in jobs_tagged(credentials.get_client(), "ibmq_jobset_flaky-check")]
    # The suite's flaky backend is seeded (tests/helpers.py): which experiments fail, and so which
    # resubmissions there are, follows from the job names.
    resubmitted, still_failed = flaky_resubmissions("flaky-check", 30, 10, rounds=3)
    assert resubmitted and still_failed == 0  # the seed gives resubmission rounds that end in success
    assert sorted(name for name in names if "_r" in name) == resubmitted
    assert report.summary["status"].astype(str).str.contains("ERROR_RUNNING_JOB").any()
    final = report.counts.groupby("circuit_index")["success"].first()
    assert len(final) == 30
    assert report.failed_circuits == [] and final.astype(bool).all()
    # A circuit that was resubmitted and succeeded reports the counts of its later round.
    resubmitted = report.counts[report.counts["round"] > 0]
    assert not resubmitted.empty
    assert resubmitted["success"].astype(bool).any()


def test_bad_input_is_reported_by_index_before_anything_is_submitted(credentials):
    service = credentials.get_client()
    before = len(service.jobs(limit=1000))
    with pytest.raises(CircuitInputError, match="circuit #1"):
        circuit_sweep(circuits=[bell(), "this is not a circuit"], service=credentials)  # quoted, still checked
    with pytest.raises(IBMQBackendValueError, match=r"circuits\[2\] \('ghz_30'\) has 30 qubits"):
        circuit_sweep([bell(), bell(), ghz(30)], service=credentials)
    with pytest.raises(ValueError, match="sweep_id"):
        circuit_sweep([bell()], sweep_id="no spaces allowed", service=credentials)
    # 0 is no "default": a typed error that names the argument (None means the backend's maximum).
    with pytest.raises(IBMQValueError, match=r"max_experiments_per_job=0 is not accepted; give an int >= 1"):
        circuit_sweep([bell(), bell()], max_experiments_per_job=0, service=credentials)
    assert len(service.jobs(limit=1000)) == before


def test_prefect_validates_every_flow_parameter_but_the_circuits_list():
    circuits = [bell(), ghz(3)]
    validated = circuit_sweep.validate_parameters({"circuits": circuits, "shots": "64", "sweep_id": "s1"})
    assert validated["circuits"] is circuits  # passed on as it is: load_circuits checks each item
    assert validated["shots"] == 64  # the rest still validated (and coerced) by Prefect
    with pytest.raises(ParameterTypeError):
        run_circuits.validate_parameters({"circuits": circuits, "shots": "many"})
    assert run_circuits.validate_parameters({"circuits": BELL_QASM3})["circuits"] == BELL_QASM3


@pytest.mark.parametrize("rounds", [1, 2])
def test_resubmission_rounds_follow_resubmit_failed_exactly(credentials, rounds):
    # Every experiment of doomed_simulator fails: each round resubmits the chunk, and there are exactly `rounds`.
    sweep_id = f"doomed-rounds-{rounds}"
    report = circuit_sweep([bell(), ghz(3)], backend_name="doomed_simulator", shots=8, sweep_id=sweep_id,
                           resubmit_failed=rounds, service=credentials)
    names = sorted(job.name() for job in jobs_tagged(credentials.get_client(), f"ibmq_jobset_{sweep_id}"))
    assert names == [f"{sweep_id}_0_"] + [f"{sweep_id}_0_r{r}" for r in range(1, rounds + 1)]
    assert report.submitted == rounds + 1 and report.failed_circuits == [0, 1]
    assert list(report.summary["label"]) == ["job 0: circuits 0-1"] + [
        f"job 0 retry {r}: 2 circuits" for r in range(1, rounds + 1)]

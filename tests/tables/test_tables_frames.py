"""prefect_ibmq.tables on real inputs: qiskit-aer results and JobRecords of our wire format."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from qiskit import ClassicalRegister, QuantumCircuit, QuantumRegister
from qiskit.result import Result
from qiskit_aer import AerSimulator

from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.tables import (
    COUNTS_COLUMNS,
    JOB_SUMMARY_COLUMNS,
    STEP_DTYPE,
    TIME_PER_STEP_COLUMNS,
    counts_frame,
    job_summary_frame,
    time_per_step_frame,
)
from prefect_ibmq.wire import ApiJobStatus, JobRecord, columnar_result

OWNER = {"user": "alice", "hub": "h1", "group": "g1", "project": "p1"}
SHOTS = 1000

# The column types users get, written out here (not taken from the module under test).
TIME_PER_STEP_DTYPES = {"job_id": "str", "backend": "str", "name": "str", "tags": "object", "step": "category",
                        "entered_at": "datetime64[us, UTC]", "duration_s": "float64"}
JOB_SUMMARY_DTYPES = {"job_id": "str", "backend": "str", "name": "str", "status": "category",
                      "num_experiments": "int64", "created": "datetime64[us, UTC]", "queue_s": "float64",
                      "validation_s": "float64", "run_s": "float64", "total_s": "float64",
                      "success_count": "Int64", "error_message": "str"}
COUNTS_DTYPES = {"job_id": "str", "experiment": "int64", "circuit": "str", "bitstring": "str", "count": "Int64",
                 "probability": "float64", "success": "bool"}


def dtypes(frame: pd.DataFrame) -> dict[str, str]:
    """Column name -> dtype name, in column order."""
    return {column: str(dtype) for column, dtype in frame.dtypes.items()}


def record(job_id: str, steps: dict[str, str], **fields) -> JobRecord:
    """A JobRecord as the service sends it; the status is the last step unless given."""
    data = {
        "job_id": job_id,
        "backend": "aer_simulator",
        "status": list(steps)[-1] if steps else "CREATING",
        "creation_date": next(iter(steps.values()), "2025-03-01T12:00:00Z"),
        "owner": OWNER,
        "num_experiments": 2,
        "time_per_step": steps,
        **fields,
    }
    return JobRecord.model_validate(data)


COMPLETED = {  # seconds after 12:00:00: 0, 0.25, 1, 1.5, 4, 10, 12.5 (mixed ISO spellings, one offset)
    "CREATING": "2025-03-01T12:00:00Z",
    "CREATED": "2025-03-01T12:00:00.250000+00:00",
    "VALIDATING": "2025-03-01T12:00:01Z",
    "VALIDATED": "2025-03-01T14:00:01.5+02:00",
    "QUEUED": "2025-03-01T12:00:04.000Z",
    "RUNNING": "2025-03-01T12:00:10Z",
    "COMPLETED": "2025-03-01T12:00:12.5Z",
}
CANCELLED_IN_QUEUE = {
    "CREATING": "2025-03-01T13:00:00Z",
    "CREATED": "2025-03-01T13:00:01Z",
    "QUEUED": "2025-03-01T13:00:03Z",
    "CANCELLED": "2025-03-01T13:00:07Z",
}
STILL_RUNNING = {
    "CREATING": "2025-03-01T14:00:00Z",
    "VALIDATING": "2025-03-01T14:00:02Z",
    "QUEUED": "2025-03-01T14:00:03Z",
    "RUNNING": "2025-03-01T14:00:04Z",
}


@pytest.fixture(scope="module")
def jobs() -> list:
    """One job in each input form: JobRecord, JobRecord-shaped dict, object with ``.record``."""
    done = record("job-done", COMPLETED, name="exp", tags=["a", "b"])
    cancelled = record(
        "job-cancelled", CANCELLED_IN_QUEUE, error={"code": 1, "message": "Job cancelled by user"}
    )
    running = record("job-running", STILL_RUNNING, tags=["c"])
    return [done, cancelled.model_dump(mode="json"), SimpleNamespace(record=running)]


def circuits() -> list[QuantumCircuit]:
    two_regs = QuantumCircuit(QuantumRegister(3), ClassicalRegister(1, "a"), ClassicalRegister(2, "b"))
    two_regs.name = "ghz3_two_regs"
    two_regs.h(0)
    two_regs.cx(0, 1)
    two_regs.cx(1, 2)
    two_regs.measure([0, 1, 2], [0, 1, 2])
    bell = QuantumCircuit(2, name="bell")
    bell.h(0)
    bell.cx(0, 1)
    bell.measure_all()
    mixed = QuantumCircuit(4, name="uniform4")
    mixed.h(range(4))
    mixed.measure_all()
    return [two_regs, bell, mixed]


@pytest.fixture(scope="module")
def aer_result() -> Result:
    return AerSimulator().run(circuits(), shots=SHOTS, seed_simulator=11).result()


@pytest.fixture(scope="module")
def partial_result(aer_result) -> Result:
    """The aer result with its second experiment failed, as the service sends a partial result."""
    data = aer_result.to_dict()
    failed = data["results"][1]
    data["results"][1] = {
        "shots": failed["shots"],
        "success": False,
        "status": "ERROR: experiment failed",
        "data": {},
        "header": failed["header"],
    }
    data["success"] = False
    data["job_id"] = "job-done"
    return Result.from_dict(data)


# --- time_per_step_frame ----------------------------------------------------------


def test_time_per_step_columns_dtypes_and_order(jobs):
    frame = time_per_step_frame(jobs)
    assert list(frame.columns) == list(TIME_PER_STEP_COLUMNS) == list(TIME_PER_STEP_DTYPES)
    assert dtypes(frame) == TIME_PER_STEP_DTYPES
    assert isinstance(frame["step"].dtype, pd.CategoricalDtype)
    assert frame["step"].cat.ordered
    assert list(frame["step"].cat.categories) == [s.value for s in ApiJobStatus]
    assert str(frame["entered_at"].dt.tz) == "UTC"
    assert len(frame) == len(COMPLETED) + len(CANCELLED_IN_QUEUE) + len(STILL_RUNNING)
    assert frame["job_id"].unique().tolist() == ["job-done", "job-cancelled", "job-running"]
    done = frame[frame["job_id"] == "job-done"]
    assert done["step"].tolist() == list(COMPLETED)
    assert done["name"].eq("exp").all() and done["backend"].eq("aer_simulator").all()
    assert all(tags == ["a", "b"] for tags in done["tags"])
    assert frame.loc[frame["job_id"] == "job-cancelled", "name"].isna().all()
    # the ordered categorical compares in lifecycle order
    assert (frame["step"] < "RUNNING").sum() == 5 + 3 + 3


def test_time_per_step_durations(jobs):
    frame = time_per_step_frame(jobs)
    done = frame[frame["job_id"] == "job-done"]
    assert done["entered_at"].iloc[3] == pd.Timestamp("2025-03-01T12:00:01.5Z")
    assert done["duration_s"].tolist()[:-1] == [0.25, 0.75, 0.5, 2.5, 6.0, 2.5]
    last = frame.groupby("job_id", sort=False).tail(1)
    assert last["duration_s"].isna().all() and len(last) == 3
    assert frame["duration_s"].notna().sum() == len(frame) - 3
    cancelled = frame[frame["job_id"] == "job-cancelled"]
    assert cancelled["duration_s"].tolist()[:-1] == [1.0, 2.0, 4.0]


def test_time_per_step_sorts_steps_given_out_of_time_order():
    steps = {"QUEUED": "2025-03-01T12:00:05Z", "CREATING": "2025-03-01T12:00:00Z",
             "RUNNING": "2025-03-01T12:00:06Z", "MAINTENANCE": "2025-03-01T12:00:07Z"}
    frame = time_per_step_frame([record("j", {"CREATING": "2025-03-01T12:00:00Z"}).model_dump()
                                 | {"time_per_step": steps}])
    assert frame["step"].tolist()[:3] == ["CREATING", "QUEUED", "RUNNING"]
    assert pd.isna(frame["step"].iloc[3])  # not an ApiJobStatus value: NaN, no exception
    assert frame["duration_s"].tolist()[:3] == [5.0, 1.0, 1.0]


def test_job_without_steps_has_no_rows():
    frame = time_per_step_frame([record("bare", {})])
    assert frame.empty and list(frame.columns) == list(TIME_PER_STEP_COLUMNS)


# --- job_summary_frame ------------------------------------------------------------


def test_job_summary(jobs, partial_result):
    summary = job_summary_frame(jobs, results=[partial_result])
    assert list(summary.columns) == list(JOB_SUMMARY_COLUMNS)
    assert dtypes(summary) == JOB_SUMMARY_DTYPES
    assert summary["status"].dtype == STEP_DTYPE
    assert str(summary["created"].dt.tz) == "UTC"
    rows = summary.set_index("job_id")
    done, cancelled, running = (rows.loc[j] for j in ("job-done", "job-cancelled", "job-running"))
    assert done["status"] == "COMPLETED" and done["num_experiments"] == 2
    assert done["created"] == pd.Timestamp("2025-03-01T12:00:00Z")
    assert (done["validation_s"], done["queue_s"], done["run_s"], done["total_s"]) == (3.0, 6.0, 2.5, 12.5)
    assert done["success_count"] == 2  # 3 experiments, one failed
    assert pd.isna(done["error_message"])
    assert cancelled["status"] == "CANCELLED" and cancelled["total_s"] == 7.0
    assert all(math.isnan(cancelled[c]) for c in ("queue_s", "validation_s", "run_s"))
    assert cancelled["error_message"] == "Job cancelled by user"
    assert running["queue_s"] == 1.0 and running["validation_s"] == 1.0
    assert math.isnan(running["run_s"]) and math.isnan(running["total_s"])  # no final step yet
    assert summary["success_count"].isna().tolist() == [False, True, True]


def test_job_summary_results_as_mapping_or_dicts(jobs, partial_result, aer_result):
    by_id = job_summary_frame(jobs, results={"job-done": partial_result.to_dict(), "job-running": None})
    assert by_id["success_count"].tolist()[0] == 2 and by_id["success_count"].isna().sum() == 2
    full = job_summary_frame(jobs, results={"job-cancelled": aer_result})
    assert full["success_count"].tolist()[1] == 3
    assert job_summary_frame(jobs)["success_count"].isna().all()


# --- counts_frame -----------------------------------------------------------------


def test_counts_match_qiskit_get_counts(aer_result):
    frame = counts_frame([aer_result])
    assert list(frame.columns) == list(COUNTS_COLUMNS)
    assert dtypes(frame) == COUNTS_DTYPES
    assert frame["job_id"].eq(aer_result.job_id).all() and frame["success"].all()
    for i, circuit in enumerate(circuits()):
        rows = frame[frame["experiment"] == i]
        assert rows["circuit"].eq(circuit.name).all()
        assert dict(zip(rows["bitstring"], rows["count"], strict=False)) == aer_result.get_counts(i)
    assert set(frame.loc[frame["experiment"] == 0, "bitstring"]) == {"00 0", "11 1"}  # register spacing
    assert frame.loc[frame["experiment"] == 2, "bitstring"].str.len().eq(4).all()  # zero padded
    sums = frame.groupby("experiment")["probability"].sum()
    np.testing.assert_allclose(sums.to_numpy(), 1.0)
    assert frame.groupby("experiment")["count"].sum().eq(SHOTS).all()


def test_counts_from_dict_form_equal_object_form(aer_result, partial_result):
    pd.testing.assert_frame_equal(
        counts_frame([aer_result.to_dict(), partial_result.to_dict()]),
        counts_frame([aer_result, partial_result]),
    )
    pd.testing.assert_frame_equal(counts_frame(aer_result), counts_frame([aer_result]))


def test_counts_from_columnar_form_equal_object_form(aer_result, partial_result):
    """The wire's columnar form (as the job service sends results) is read column by column, to the same rows."""
    columnar = [columnar_result(json.loads(json.dumps(r.to_dict(), default=str))) for r in (aer_result, partial_result)]
    pd.testing.assert_frame_equal(counts_frame(columnar), counts_frame([aer_result, partial_result]))
    pd.testing.assert_frame_equal(counts_frame(columnar[1]), counts_frame([partial_result]))
    assert job_summary_frame([record("job-done", COMPLETED)], results=columnar[1])["success_count"].tolist() == [2]


def test_failed_experiment_is_one_na_row(partial_result):
    frame = counts_frame([None, partial_result])
    failed = frame[frame["experiment"] == 1]
    assert len(failed) == 1
    row = failed.iloc[0]
    assert not row["success"] and row["circuit"] == "bell" and row["job_id"] == "job-done"
    assert pd.isna(row["bitstring"]) and pd.isna(row["count"]) and math.isnan(row["probability"])
    ok = frame[frame["success"]]
    assert set(ok["experiment"]) == {0, 2}
    np.testing.assert_allclose(ok.groupby("experiment")["probability"].sum().to_numpy(), 1.0)


def test_only_failed_experiments():
    data = {"backend_name": "flaky_simulator", "backend_version": "1", "job_id": "j", "success": False,
            "results": [{"shots": 10, "success": False, "data": {}, "header": {"name": "c0"}}]}
    frame = counts_frame([Result.from_dict(data)])
    assert len(frame) == 1 and not frame["success"].iloc[0] and frame["count"].isna().all()
    assert dtypes(frame) == COUNTS_DTYPES


def test_wide_register_beyond_64_bits():
    wide = QuantumCircuit(70, 70, name="wide")
    wide.x([0, 3, 69])
    wide.h(1)
    wide.measure(range(70), range(70))
    result = AerSimulator(method="stabilizer").run(wide, shots=200, seed_simulator=3).result()
    frame = counts_frame(result)
    assert dict(zip(frame["bitstring"], frame["count"], strict=False)) == result.get_counts()
    assert frame["bitstring"].str.len().eq(70).all()


# --- inputs -----------------------------------------------------------------------


def test_empty_inputs():
    for frame, columns, pinned in ((time_per_step_frame([]), TIME_PER_STEP_COLUMNS, TIME_PER_STEP_DTYPES),
                                   (job_summary_frame([]), JOB_SUMMARY_COLUMNS, JOB_SUMMARY_DTYPES),
                                   (counts_frame([]), COUNTS_COLUMNS, COUNTS_DTYPES)):
        assert frame.empty and list(frame.columns) == list(columns)
        assert dtypes(frame) == pinned
    assert str(time_per_step_frame(iter(())).dtypes["entered_at"]) == "datetime64[us, UTC]"


def test_bad_inputs_name_the_value():
    with pytest.raises(IBMQValueError, match="'not a job'.*JobRecord"):
        time_per_step_frame(["not a job"])
    with pytest.raises(IBMQValueError, match="42.*Result"):
        counts_frame([42])


def test_module_imports_neither_prefect_nor_the_server():
    code = ("import sys, prefect_ibmq.tables; "
            "bad = [m for m in sys.modules if m.split('.')[0] == 'prefect' "
            "or m.startswith('prefect_ibmq.server')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)

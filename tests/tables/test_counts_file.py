"""A sweep's counts file: appended job by job, each circuit's latest round kept, read back with the same dtypes."""

from __future__ import annotations

import gc
import pickle

import pandas as pd
import pytest
from qiskit_aer import AerSimulator

from prefect_ibmq.circuits import bell, ghz
from prefect_ibmq.flows.counts_file import CountsFile, read_counts
from prefect_ibmq.flows.jobset.counts import empty_sweep_counts, sweep_counts
from prefect_ibmq.flows.sweep import SweepReport
from prefect_ibmq.tables import counts_frame


def job_counts(circuits, indices, round_, seed):
    result = AerSimulator().run(circuits, shots=64, seed_simulator=seed).result()
    return sweep_counts(counts_frame([result]), indices, round_)


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_jobs_are_appended_and_a_later_round_replaces_the_earlier(tmp_path, suffix):
    first = job_counts([bell(), ghz(3)], (0, 1), 0, seed=1)
    second = job_counts([ghz(4)], (2,), 0, seed=2)
    again = job_counts([ghz(3)], (1,), 1, seed=3)  # circuit 1 run again, as a resubmission would
    counts_file = CountsFile(tmp_path / f"counts.{suffix}", empty_sweep_counts(), 3)
    for part in (first, second, again):
        counts_file.append(part)
    path = counts_file.close()

    counts = read_counts(path, empty_sweep_counts())
    expected = pd.concat([first[first["circuit_index"] != 1], second, again], ignore_index=True)
    expected = expected.sort_values(["circuit_index", "bitstring"], kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(counts, expected)
    assert list(counts.loc[counts["circuit_index"] == 1, "round"].unique()) == [1]
    if suffix == "parquet":
        import pyarrow.parquet as pq

        assert pq.ParquetFile(path).num_row_groups == 3  # one per job: never all counts at once
        assert not list(tmp_path.glob("*.tmp"))


def test_an_empty_sweep_has_an_empty_counts_file(tmp_path):
    path = CountsFile(tmp_path / "counts.parquet", empty_sweep_counts(), 0).close()
    counts = read_counts(path, empty_sweep_counts())
    assert counts.empty and list(counts.columns) == list(empty_sweep_counts().columns)


def test_a_report_with_a_temporary_counts_file_pickles_its_counts_and_deletes_the_file(tmp_path):
    directory = tmp_path / "spool"
    counts_file = CountsFile(directory / "counts.parquet", empty_sweep_counts(), 1)
    counts_file.append(job_counts([bell()], (0,), 0, seed=4))
    report = SweepReport("s", ["job"], 1, 0, pd.DataFrame(), pd.DataFrame(), counts_file.close(), [])
    report._delete_with_report(directory)

    copy = pickle.loads(pickle.dumps(report))
    pd.testing.assert_frame_equal(copy.counts, report.counts)
    del report
    gc.collect()
    assert not directory.exists()
    assert set(copy.counts["bitstring"]) <= {"00", "11"}

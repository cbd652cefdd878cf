"""The job and counts frames: ``time_per_step_frame``, ``job_summary_frame``, ``counts_frame``.

Each is built column-wise: one pass over the input gathers plain Python lists
(:mod:`.inputs`), then numpy and pandas build the columns in one go (:mod:`.columns`,
bitstrings by :mod:`.bitstrings`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd

from prefect_ibmq.tables.bitstrings import bitstring_column
from prefect_ibmq.tables.columns import empty_frame, str_column, times_from_micros
from prefect_ibmq.tables.inputs import JobColumns, gather_counts, gather_jobs, success_counts
from prefect_ibmq.wire import FINAL_STATUSES, LIFECYCLE

#: Step and status names in lifecycle order (:data:`prefect_ibmq.wire.LIFECYCLE`).
STEPS: tuple[str, ...] = LIFECYCLE
STEP_DTYPE = pd.CategoricalDtype(list(STEPS), ordered=True)
TIME_DTYPE = pd.DatetimeTZDtype("us", "UTC")

TIME_PER_STEP_COLUMNS: dict[str, Any] = {
    "job_id": "str",
    "backend": "str",
    "name": "str",
    "tags": object,
    "step": STEP_DTYPE,
    "entered_at": TIME_DTYPE,
    "duration_s": "float64",
}
JOB_SUMMARY_COLUMNS: dict[str, Any] = {
    "job_id": "str",
    "backend": "str",
    "name": "str",
    "status": STEP_DTYPE,
    "num_experiments": "int64",
    "created": TIME_DTYPE,
    "queue_s": "float64",
    "validation_s": "float64",
    "run_s": "float64",
    "total_s": "float64",
    "success_count": "Int64",
    "error_message": "str",
}
COUNTS_COLUMNS: dict[str, Any] = {
    "job_id": "str",
    "experiment": "int64",
    "circuit": "str",
    "bitstring": "str",
    "count": "Int64",
    "probability": "float64",
    "success": "bool",
}

_CODE = {step: code for code, step in enumerate(STEPS)}


class _Codes(dict):
    """Step name -> code; -1 for a name that is no ApiJobStatus value."""

    def __missing__(self, key: Any) -> int:
        return -1


_STEP_CODES = _Codes(_CODE)
_FINAL_CODES = sorted(_CODE[status.value] for status in FINAL_STATUSES)


def time_per_step_frame(jobs: Iterable[Any]) -> pd.DataFrame:
    """One row per job and step: when the job entered the step and how long it stayed.

    Args:
        jobs: JobRecords, dicts in JobRecord shape, or objects with a ``record`` holding one (``IBMQJob``).

    Returns:
        Columns ``job_id, backend, name, tags, step, entered_at, duration_s``; a job's
        last step has ``duration_s`` NaN. Rows keep the input's job order, and each
        job's steps are in time order (lifecycle order on ties). ``tags`` holds each
        job's own tags list (shared by its rows, not copied).

    Raises:
        TypeError: A job is not job-like.
    """
    cols = gather_jobs(jobs)
    if not cols.job_id:
        return empty_frame(TIME_PER_STEP_COLUMNS)
    job_idx, codes, micros, nat = _steps(cols)
    return pd.DataFrame(
        {
            "job_id": str_column(cols.job_id, job_idx),
            "backend": str_column(cols.backend, job_idx),
            "name": str_column(cols.name, job_idx),
            "tags": np.fromiter(cols.tags, dtype=object, count=len(cols.tags))[job_idx],
            "step": pd.Categorical.from_codes(codes, dtype=STEP_DTYPE),
            "entered_at": times_from_micros(micros, nat),
            "duration_s": _durations(job_idx, micros, nat),
        }
    )


def job_summary_frame(jobs: Iterable[Any], results: Any = None) -> pd.DataFrame:
    """One row per job: status, experiment count, creation time, phase durations, errors.

    Args:
        jobs: JobRecords, dicts in JobRecord shape, or objects with a ``record`` holding one (``IBMQJob``).
        results: Result objects or dicts, as an iterable matched on ``job_id`` or a
            mapping job_id -> result; they fill ``success_count``.

    Returns:
        Columns ``job_id, backend, name, status, num_experiments, created, queue_s,
        validation_s, run_s, total_s, success_count, error_message``. ``queue_s`` is
        QUEUED->RUNNING, ``validation_s`` VALIDATING->QUEUED, ``run_s`` RUNNING->final
        step and ``total_s`` first->final step (NaN when a step is missing, e.g. an
        unfinished job). ``success_count`` is the number of experiments with
        ``success`` True, <NA> for a job without a result.

    Raises:
        TypeError: A job is not job-like, or a result is no Result.
    """
    cols = gather_jobs(jobs, summary=True)
    if not cols.job_id:
        return empty_frame(JOB_SUMMARY_COLUMNS)
    return pd.DataFrame(
        {
            "job_id": str_column(cols.job_id),
            "backend": str_column(cols.backend),
            "name": str_column(cols.name),
            "status": pd.Categorical(cols.status, dtype=STEP_DTYPE),
            "num_experiments": np.asarray(cols.num_experiments, dtype=np.int64),
            "created": pd.to_datetime(cols.created, format="ISO8601", utc=True).as_unit("us"),
            **_phase_seconds(cols),
            "success_count": _success_count_column(cols.job_id, results),
            "error_message": str_column(cols.error),
        }
    )


def counts_frame(results: Any) -> pd.DataFrame:
    """One row per job, experiment and measured outcome.

    Bitstrings are written as ``Result.get_counts()`` writes them: zero-padded to
    the header's ``memory_slots`` and split into classical registers by a space,
    last register first (``'11 0'``). A failed experiment (or one without counts)
    is a single row with NA bitstring, count and probability; it never raises.

    Args:
        results: A Result, a Result dict, a sampler ``PrimitiveResult``, or an
            iterable of them (None skipped). A ``PrimitiveResult`` carries no job id
            or circuit names, so those columns are NA for it (results fetched by the
            tasks come as Results that have both).

    Returns:
        Columns ``job_id, experiment`` (index in the job), ``circuit`` (header name),
        ``bitstring``, ``count``, ``probability`` (count/shots), ``success``.

    Raises:
        TypeError: A result is neither a Result, a Result dict nor a ``PrimitiveResult``.
    """
    cols = gather_counts(results)
    if not cols.experiment_job:
        return empty_frame(COUNTS_COLUMNS)
    row_exp = np.repeat(np.arange(len(cols.experiment_job)), cols.n_rows)
    key_codes, unique_keys = pd.factorize(np.asarray(cols.keys, dtype=object))
    has = key_codes >= 0
    count = np.asarray(cols.values, dtype=np.int64)
    row_layout = np.asarray(cols.layout, dtype=np.int64)[row_exp]
    return pd.DataFrame(
        {
            "job_id": str_column(cols.job_ids, np.asarray(cols.experiment_job, dtype=np.intp)[row_exp]),
            "experiment": np.asarray(cols.experiment_index, dtype=np.int64)[row_exp],
            "circuit": str_column(cols.circuit, row_exp),
            "bitstring": bitstring_column(row_layout, key_codes, unique_keys, cols.layouts),
            "count": pd.arrays.IntegerArray(count, ~has),
            "probability": _probabilities(count, has, row_exp, cols.shots),
            "success": np.asarray(cols.success, dtype=bool)[row_exp],
        }
    )


# --- steps of the frames ------------------------------------------------------


def _steps(cols: JobColumns) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flattened steps as arrays: job index, step code (-1 unknown), time in us, NaT mask.

    Sorted by job (input order), then time, then lifecycle order: the wire format
    sends steps in lifecycle order, so the sort is skipped unless needed.
    """
    job_idx = np.repeat(np.arange(len(cols.n_steps)), cols.n_steps)
    names = cols.step_names
    codes = np.fromiter(map(_STEP_CODES.__getitem__, names), dtype=np.int64, count=len(names))
    times = pd.to_datetime(cols.step_times, format="ISO8601", utc=True).as_unit("us")
    nat = np.asarray(times.isna())
    micros = times.asi8.copy()
    if len(micros) > 1:
        same_job = job_idx[1:] == job_idx[:-1]
        if np.any(same_job & (np.diff(micros) < 0)):
            order = np.lexsort((codes, micros, job_idx))
            job_idx, codes, micros, nat = job_idx[order], codes[order], micros[order], nat[order]
    return job_idx, codes, micros, nat


def _durations(job_idx: np.ndarray, micros: np.ndarray, nat: np.ndarray) -> np.ndarray:
    """Seconds from each step to the job's next one; NaN for a job's last step and next to a missing time."""
    same_job = job_idx[1:] == job_idx[:-1]
    duration = np.full(len(job_idx), np.nan)
    duration[:-1] = np.where(same_job, np.diff(micros) / 1e6, np.nan)
    if nat.any():  # a missing time makes both neighbouring durations unknown
        duration[nat] = np.nan
        duration[:-1][nat[1:]] = np.nan
    return duration


def _phase_seconds(cols: JobColumns) -> dict[str, np.ndarray]:
    """The summary's ``queue_s, validation_s, run_s, total_s`` columns (NaN where a step is missing)."""
    job_idx, codes, micros, nat = _steps(cols)
    # A (job x step) matrix of entry times in seconds from the earliest one; NaN = never entered.
    entered = np.full((len(cols.job_id), len(STEPS)), np.nan)
    ok = (codes >= 0) & ~nat
    if ok.any():
        entered[job_idx[ok], codes[ok]] = (micros[ok] - micros[ok].min()) / 1e6
    at = {step: entered[:, code] for step, code in _CODE.items()}
    final = np.fmax.reduce(entered[:, _FINAL_CODES], axis=1)
    first = np.fmin.reduce(entered, axis=1)
    return {
        "queue_s": at["RUNNING"] - at["QUEUED"],
        "validation_s": at["QUEUED"] - at["VALIDATING"],
        "run_s": final - at["RUNNING"],
        "total_s": final - first,
    }


def _success_count_column(job_ids: list[Any], results: Any) -> pd.arrays.IntegerArray:
    """Per job, the number of successful experiments in its result; <NA> for a job without one."""
    success = success_counts(results)
    found = [success.get(job_id) for job_id in job_ids]
    mask = np.fromiter((n is None for n in found), dtype=bool, count=len(found))
    counts = np.fromiter((n or 0 for n in found), dtype=np.int64, count=len(found))
    return pd.arrays.IntegerArray(counts, mask)


def _probabilities(count: np.ndarray, has: np.ndarray, row_exp: np.ndarray, shots: list[int]) -> np.ndarray:
    """count/shots per row (NaN for a row without a count); with shots missing or 0, the experiment's total count."""
    totals = np.bincount(row_exp, weights=count, minlength=len(shots))
    n_shots = np.asarray(shots, dtype=np.float64)
    n_shots = np.where(n_shots > 0, n_shots, totals)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(has, count / n_shots[row_exp], np.nan)

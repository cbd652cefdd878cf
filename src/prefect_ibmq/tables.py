"""pandas tables of jobs and results: per-step timings, per-job summaries, counts, expectation values.

Pure pandas + numpy (no Prefect, no server). Every frame is built column-wise:
one pass over the input gathers plain Python lists, then numpy and pandas build
the columns in one go, so 100,000 jobs tabulate in a fraction of a second.

Jobs may be given as :class:`~prefect_ibmq.wire.JobRecord` objects, as plain
dicts in JobRecord shape (the fast path for big inputs), or as any object with a
``record`` attribute holding one of those (``IBMQJob`` exposes its last-seen data
that way). Results may be :class:`qiskit.result.Result` objects or their dicts
(``Result.to_dict()`` shape, as the job service sends them), or sampler
``PrimitiveResult`` objects of IBM Quantum Platform (one experiment per PUB, see
:mod:`prefect_ibmq.runtime.results`). Estimator results have their own table,
:func:`expectation_frame` (from :mod:`prefect_ibmq.expectations`, named here too).

Dtypes: ids, names and bitstrings are pandas ``str``; ``step``/``status`` use
:data:`STEP_DTYPE` (ordered, lifecycle order); times are ``datetime64[us, UTC]``;
durations are float seconds (NaN when unknown); the empty-input frames carry the
same dtypes (see the ``*_COLUMNS`` constants).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from prefect_ibmq.expectations import EXPECTATION_COLUMNS, expectation_frame
from prefect_ibmq.runtime.results import is_primitive_result, sampler_counts_result
from prefect_ibmq.wire import FINAL_STATUSES, LIFECYCLE, ApiJobStatus, JobRecord

__all__ = [
    "COUNTS_COLUMNS", "EXPECTATION_COLUMNS", "JOB_SUMMARY_COLUMNS", "STEPS", "STEP_DTYPE", "TIME_PER_STEP_COLUMNS",
    "counts_frame", "expectation_frame", "job_summary_frame", "time_per_step_frame",
]

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
_SPACE, _ZERO = ord(" "), ord("0")


# --- public -------------------------------------------------------------------


def time_per_step_frame(jobs: Iterable[Any]) -> pd.DataFrame:
    """One row per job and step: when the job entered the step and how long it stayed.

    Columns: ``job_id, backend, name, tags, step, entered_at, duration_s``; a job's
    last step has ``duration_s`` NaN. Rows keep the input's job order, and each
    job's steps are in time order (lifecycle order on ties). ``tags`` holds each
    job's own tags list (shared by its rows, not copied).
    """
    cols = _gather_jobs(jobs)
    if not cols["job_id"]:
        return _empty(TIME_PER_STEP_COLUMNS)
    job_idx, codes, micros, nat = _steps(cols)
    same_job = job_idx[1:] == job_idx[:-1]
    duration = np.full(len(job_idx), np.nan)
    duration[:-1] = np.where(same_job, np.diff(micros) / 1e6, np.nan)
    if nat.any():  # a missing time makes both neighbouring durations unknown
        duration[nat] = np.nan
        duration[:-1][nat[1:]] = np.nan
    return pd.DataFrame(
        {
            "job_id": _str_column(cols["job_id"], job_idx),
            "backend": _str_column(cols["backend"], job_idx),
            "name": _str_column(cols["name"], job_idx),
            "tags": np.fromiter(cols["tags"], dtype=object, count=len(cols["tags"]))[job_idx],
            "step": pd.Categorical.from_codes(codes, dtype=STEP_DTYPE),
            "entered_at": _micros_to_times(micros, nat),
            "duration_s": duration,
        }
    )


def job_summary_frame(jobs: Iterable[Any], results: Any = None) -> pd.DataFrame:
    """One row per job: status, experiment count, creation time, phase durations, errors.

    ``queue_s`` is QUEUED->RUNNING, ``validation_s`` VALIDATING->QUEUED, ``run_s``
    RUNNING->final step and ``total_s`` first->final step (NaN when a step is
    missing, e.g. an unfinished job). ``results`` (Result objects or dicts, as an
    iterable matched on ``job_id`` or a mapping job_id -> result) fills
    ``success_count``, the number of experiments with ``success`` True; it is
    <NA> for a job without a result.
    """
    cols = _gather_jobs(jobs, summary=True)
    n_jobs = len(cols["job_id"])
    if not n_jobs:
        return _empty(JOB_SUMMARY_COLUMNS)
    job_idx, codes, micros, nat = _steps(cols)
    # A (job x step) matrix of entry times in seconds from the earliest one; NaN = never entered.
    entered = np.full((n_jobs, len(STEPS)), np.nan)
    ok = (codes >= 0) & ~nat
    if ok.any():
        entered[job_idx[ok], codes[ok]] = (micros[ok] - micros[ok].min()) / 1e6
    at = {step: entered[:, code] for step, code in _CODE.items()}
    final = np.fmax.reduce(entered[:, _FINAL_CODES], axis=1)
    first = np.fmin.reduce(entered, axis=1)

    success = _success_counts(results)
    found = [success.get(job_id) for job_id in cols["job_id"]]
    mask = np.fromiter((n is None for n in found), dtype=bool, count=n_jobs)
    counts = np.fromiter((n or 0 for n in found), dtype=np.int64, count=n_jobs)
    created = pd.to_datetime(cols["created"], format="ISO8601", utc=True).as_unit("us")
    return pd.DataFrame(
        {
            "job_id": _str_column(cols["job_id"]),
            "backend": _str_column(cols["backend"]),
            "name": _str_column(cols["name"]),
            "status": pd.Categorical(cols["status"], dtype=STEP_DTYPE),
            "num_experiments": np.asarray(cols["num_experiments"], dtype=np.int64),
            "created": created,
            "queue_s": at["RUNNING"] - at["QUEUED"],
            "validation_s": at["QUEUED"] - at["VALIDATING"],
            "run_s": final - at["RUNNING"],
            "total_s": final - first,
            "success_count": pd.arrays.IntegerArray(counts, mask),
            "error_message": _str_column(cols["error"]),
        }
    )


def counts_frame(results: Any) -> pd.DataFrame:
    """One row per job, experiment and measured outcome.

    Columns: ``job_id, experiment`` (index in the job), ``circuit`` (header name),
    ``bitstring``, ``count``, ``probability`` (count/shots), ``success``. Bitstrings
    are written as ``Result.get_counts()`` writes them: zero-padded to the
    header's ``memory_slots`` and split into classical registers by a space, last
    register first (``'11 0'``). A failed experiment (or one without counts) is a
    single row with NA bitstring, count and probability; it never raises.
    ``results`` is a Result, a Result dict, a sampler ``PrimitiveResult``, or an
    iterable of them (None skipped); a ``PrimitiveResult`` carries no job id or
    circuit names, so those columns are NA for it (results fetched by the tasks
    come as Results that have both).
    """
    if isinstance(results, Mapping) or hasattr(results, "results") or is_primitive_result(results):
        results = [results]
    job_ids: list[Any] = []
    exp_job: list[int] = []
    exp_index: list[int] = []
    names: list[Any] = []
    success: list[bool] = []
    shots: list[int] = []
    exp_layout: list[int] = []
    n_rows: list[int] = []
    keys: list[Any] = []
    values: list[int] = []
    layouts: dict[tuple[Any, tuple[int, ...]], int] = {}
    for result in results:
        if result is None:
            continue
        if is_primitive_result(result):
            result = sampler_counts_result(result)
        job_id, experiments = _result_parts(result)
        job_ids.append(job_id)
        job = len(job_ids) - 1
        for i, exp in enumerate(experiments):
            ok, n_shots, header, counts = _experiment_parts(exp)
            creg = header.get("creg_sizes") or ()
            layout = (header.get("memory_slots") or None, tuple(size for _, size in creg))
            exp_job.append(job)
            exp_index.append(i)
            names.append(header.get("name"))
            success.append(ok)
            shots.append(n_shots if isinstance(n_shots, int) else 0)
            exp_layout.append(layouts.setdefault(layout, len(layouts)))
            if ok and counts:
                n_rows.append(len(counts))
                keys.extend(counts)
                values.extend(counts.values())
            else:
                n_rows.append(1)
                keys.append(None)
                values.append(0)
    if not exp_job:
        return _empty(COUNTS_COLUMNS)

    row_exp = np.repeat(np.arange(len(exp_job)), n_rows)
    key_codes, unique_keys = pd.factorize(np.asarray(keys, dtype=object))
    has = key_codes >= 0
    count = np.asarray(values, dtype=np.int64)
    # probability = count/shots; shots missing or 0: the experiment's total count
    totals = np.bincount(row_exp, weights=count, minlength=len(exp_job))
    n_shots = np.asarray(shots, dtype=np.float64)
    n_shots = np.where(n_shots > 0, n_shots, totals)
    with np.errstate(divide="ignore", invalid="ignore"):
        probability = np.where(has, count / n_shots[row_exp], np.nan)
    exp_job_arr = np.asarray(exp_job, dtype=np.intp)
    return pd.DataFrame(
        {
            "job_id": _str_column(job_ids, exp_job_arr[row_exp]),
            "experiment": np.asarray(exp_index, dtype=np.int64)[row_exp],
            "circuit": _str_column(names, row_exp),
            "bitstring": _bitstrings(
                np.asarray(exp_layout, dtype=np.int64)[row_exp], key_codes, unique_keys, layouts
            ),
            "count": pd.arrays.IntegerArray(count, ~has),
            "probability": probability,
            "success": np.asarray(success, dtype=bool)[row_exp],
        }
    )


# --- gathering ----------------------------------------------------------------


def _gather_jobs(jobs: Iterable[Any], summary: bool = False) -> dict[str, list[Any]]:
    """Plain per-job lists (and the flattened steps) from job-like items."""
    ids: list[Any] = []
    backends: list[Any] = []
    names: list[Any] = []
    tags: list[Any] = []
    step_names: list[Any] = []
    step_times: list[Any] = []
    n_steps: list[int] = []
    statuses: list[Any] = []
    n_exps: list[Any] = []
    created: list[Any] = []
    errors: list[Any] = []
    for item in jobs:
        rec = item if isinstance(item, (dict, JobRecord)) else getattr(item, "record", None)
        if isinstance(rec, dict):
            ids.append(rec["job_id"])
            backends.append(rec["backend"])
            names.append(rec.get("name"))
            tps = rec.get("time_per_step") or {}
            if summary:
                statuses.append(_value(rec["status"]))
                n_exps.append(rec["num_experiments"])
                created.append(rec["creation_date"])
                error = rec.get("error")
                errors.append(error and _get(error, "message"))
            else:
                tags.append(rec.get("tags") or [])
        elif isinstance(rec, JobRecord):
            ids.append(rec.job_id)
            backends.append(rec.backend)
            names.append(rec.name)
            tps = rec.time_per_step
            if summary:
                statuses.append(rec.status.value)
                n_exps.append(rec.num_experiments)
                created.append(rec.creation_date)
                errors.append(rec.error and rec.error.message)
            else:
                tags.append(rec.tags)
        else:
            raise TypeError(
                f"job {item!r} ({type(item).__name__}) is not job-like; expected a JobRecord, "
                "a dict in JobRecord shape, or an object with a .record attribute holding one"
            )
        step_names.extend(tps)
        step_times.extend(tps.values())
        n_steps.append(len(tps))
    return {
        "job_id": ids,
        "backend": backends,
        "name": names,
        "tags": tags,
        "step_names": step_names,
        "step_times": step_times,
        "n_steps": n_steps,
        "status": statuses,
        "num_experiments": n_exps,
        "created": created,
        "error": errors,
    }


def _steps(cols: dict[str, list[Any]]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flattened steps as arrays: job index, step code (-1 unknown), time in us, NaT mask.

    Sorted by job (input order), then time, then lifecycle order: the wire format
    sends steps in lifecycle order, so the sort is skipped unless needed.
    """
    job_idx = np.repeat(np.arange(len(cols["n_steps"])), cols["n_steps"])
    names = cols["step_names"]
    codes = np.fromiter(map(_STEP_CODES.__getitem__, names), dtype=np.int64, count=len(names))
    times = pd.to_datetime(cols["step_times"], format="ISO8601", utc=True).as_unit("us")
    nat = np.asarray(times.isna())
    micros = times.asi8.copy()
    if len(micros) > 1:
        same_job = job_idx[1:] == job_idx[:-1]
        if np.any(same_job & (np.diff(micros) < 0)):
            order = np.lexsort((codes, micros, job_idx))
            job_idx, codes, micros, nat = job_idx[order], codes[order], micros[order], nat[order]
    return job_idx, codes, micros, nat


def _result_parts(result: Any) -> tuple[Any, Any]:
    """(job_id, experiments) of a Result object or a Result dict."""
    if isinstance(result, Mapping):
        return result.get("job_id"), result.get("results") or ()
    if hasattr(result, "results"):
        return getattr(result, "job_id", None), result.results or ()
    raise TypeError(
        f"result {result!r} ({type(result).__name__}) is not a qiskit Result or a Result dict"
    )


def _experiment_parts(exp: Any) -> tuple[bool, Any, Mapping[str, Any], Any]:
    """(success, shots, header dict, hex counts or None) of one experiment, object or dict."""
    if isinstance(exp, Mapping):
        data = exp.get("data") or {}
        return bool(exp.get("success")), exp.get("shots"), exp.get("header") or {}, data.get("counts")
    header = getattr(exp, "header", None) or {}
    if not isinstance(header, Mapping):  # older qiskit: a header object
        header = header.to_dict()
    counts = getattr(getattr(exp, "data", None), "counts", None)
    return bool(exp.success), getattr(exp, "shots", None), header, counts


def _success_counts(results: Any) -> dict[Any, int]:
    """job_id -> number of successful experiments, from results given as iterable or mapping."""
    if results is None:
        return {}
    if isinstance(results, Mapping) and "results" not in results:
        pairs = results.items()
    else:
        if isinstance(results, Mapping) or hasattr(results, "results"):
            results = [results]
        pairs = ((_result_parts(r)[0], r) for r in results if r is not None)
    found = {}
    for job_id, result in pairs:
        if result is not None:
            found[job_id] = sum(_experiment_parts(e)[0] for e in _result_parts(result)[1])
    return found


# --- columns ------------------------------------------------------------------


def _bitstrings(
    row_layout: np.ndarray,
    key_codes: np.ndarray,
    unique_keys: np.ndarray,
    layouts: dict[tuple[Any, tuple[int, ...]], int],
) -> pd.api.extensions.ExtensionArray:
    """Format each row's counts key, converting only the distinct (layout, key) pairs."""
    has = key_codes >= 0
    pair_codes, pairs = pd.factorize(row_layout[has] * len(unique_keys) + key_codes[has])
    key_ints = [_key_int(k) for k in unique_keys]
    ints = np.array(key_ints, dtype=np.uint64 if max(key_ints, default=0) < 2**64 else object)
    text = np.empty(len(pairs), dtype=object)
    for (width, sizes), layout in layouts.items():
        sel = pairs // len(unique_keys) == layout
        if sel.any():
            text[sel] = _format_bits(ints[pairs[sel] % len(unique_keys)], width, sizes)
    # Distinct strings once to pandas, then a take: far cheaper than a str array per row.
    str_codes, strings = pd.factorize(text)
    row_codes = np.full(len(key_codes), -1, dtype=np.intp)
    row_codes[has] = str_codes[pair_codes]
    return _take_str(list(strings), row_codes)


def _format_bits(values: np.ndarray, width: int | None, sizes: tuple[int, ...]) -> np.ndarray:
    """Bitstrings of ``values`` as ``qiskit.result.postprocess.format_counts_memory`` makes them."""
    if width is None or width > 64 or values.dtype == object:
        return np.array([_format_one(int(v), width, sizes) for v in values], dtype=object)
    shifts = np.arange(width - 1, -1, -1, dtype=np.uint64)
    chars = ((values[:, None] >> shifts) & np.uint64(1)).astype(np.uint8) + np.uint8(_ZERO)
    if sizes:  # registers, last first, separated by a space (column `width` is a space)
        columns, start = [], 0
        for i, size in enumerate(reversed(sizes)):
            if i:
                columns.append(width)
            columns.extend(range(start, min(start + size, width)))
            start += size
        spaced = np.full((len(values), width + 1), _SPACE, dtype=np.uint8)
        spaced[:, :width] = chars
        chars = spaced[:, columns]
    chars = np.ascontiguousarray(chars)
    return chars.view(f"S{chars.shape[1]}").ravel().astype(str).astype(object)


def _format_one(value: int, width: int | None, sizes: tuple[int, ...]) -> str:
    bits = format(value, f"0{width}b") if width else format(value, "b")
    if not (width and sizes):
        return bits
    parts, start = [], 0
    for size in reversed(sizes):
        parts.append(bits[start : start + size])
        start += size
    return " ".join(parts)


def _key_int(key: str) -> int:
    return int(key, 16) if key.startswith("0x") else int(key.replace(" ", ""), 2)


def _str_array(values: list[Any]) -> pd.api.extensions.ExtensionArray:
    return pd.array(values, dtype="str")


def _str_column(values: list[Any], take: np.ndarray | None = None) -> pd.api.extensions.ExtensionArray:
    """A str column of ``values[take]``: only the distinct values are converted (None -> NA)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object))
    return _take_str(list(uniques), codes if take is None else codes[take])


def _take_str(uniques: list[Any], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``uniques[codes]`` as a str array, -1 -> NA (a plain take: take with fill is ~10x slower)."""
    missing = codes < 0
    if missing.any():
        codes = np.where(missing, len(uniques), codes)
        uniques = [*uniques, None]
    return _str_array(uniques).take(codes)


def _micros_to_times(micros: np.ndarray, nat: np.ndarray) -> pd.DatetimeIndex:
    values = micros.copy()
    values[nat] = np.iinfo(np.int64).min  # NaT
    return pd.DatetimeIndex(values.view("datetime64[us]")).tz_localize("UTC")


def _empty(columns: dict[str, Any]) -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series(dtype=dtype) for name, dtype in columns.items()})


def _value(status: Any) -> Any:
    return status.value if isinstance(status, ApiJobStatus) else status


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)

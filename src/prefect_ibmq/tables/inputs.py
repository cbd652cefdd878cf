"""The tables' inputs read into plain lists: jobs and their steps, results and their counts.

One pass over the input fills Python lists (the only per-item Python work);
:mod:`prefect_ibmq.tables` then builds each column from them in one go.

Jobs may be :class:`~prefect_ibmq.wire.JobRecord` objects, dicts in JobRecord
shape (the fast path for big inputs), or objects with a ``record`` attribute
holding one of those (``IBMQJob``). Results may be :class:`qiskit.result.Result`
objects, their dicts (``Result.to_dict()`` shape, or the columnar form the job service
sends, :func:`prefect_ibmq.wire.columnar_result`, read column by column), or sampler
``PrimitiveResult`` objects (one experiment per PUB).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.runtime.results import is_primitive_result, sampler_counts_result
from prefect_ibmq.tables.bitstrings import Layout
from prefect_ibmq.wire import ApiJobStatus, JobRecord, columnar_values, is_columnar


@dataclass(slots=True)
class JobColumns:
    """Per-job lists (one item per job, in input order) and the steps of all jobs, flattened.

    ``tags`` is filled for the time-per-step table; ``status``, ``num_experiments``,
    ``created`` and ``error`` for the summary table.
    """

    job_id: list[Any] = field(default_factory=list)
    backend: list[Any] = field(default_factory=list)
    name: list[Any] = field(default_factory=list)
    tags: list[Any] = field(default_factory=list)
    status: list[Any] = field(default_factory=list)
    num_experiments: list[Any] = field(default_factory=list)
    created: list[Any] = field(default_factory=list)
    error: list[Any] = field(default_factory=list)
    #: Every job's step names and entry times (ISO text or datetimes), job after job.
    step_names: list[Any] = field(default_factory=list)
    step_times: list[Any] = field(default_factory=list)
    #: How many steps each job has.
    n_steps: list[int] = field(default_factory=list)

    def add_dict(self, record: dict[str, Any], summary: bool) -> Mapping[str, Any]:
        """Add a job given as a dict in JobRecord shape; returns its time per step."""
        self.job_id.append(record["job_id"])
        self.backend.append(record["backend"])
        self.name.append(record.get("name"))
        if summary:
            status = record["status"]
            self.status.append(status.value if isinstance(status, ApiJobStatus) else status)
            self.num_experiments.append(record["num_experiments"])
            self.created.append(record["creation_date"])
            error = record.get("error")
            self.error.append(error and _get(error, "message"))
        else:
            self.tags.append(record.get("tags") or [])
        return record.get("time_per_step") or {}

    def add_record(self, record: JobRecord, summary: bool) -> Mapping[str, Any]:
        """Add a job given as a JobRecord; returns its time per step."""
        self.job_id.append(record.job_id)
        self.backend.append(record.backend)
        self.name.append(record.name)
        if summary:
            self.status.append(record.status.value)
            self.num_experiments.append(record.num_experiments)
            self.created.append(record.creation_date)
            self.error.append(record.error and record.error.message)
        else:
            self.tags.append(record.tags)
        return record.time_per_step


def gather_jobs(jobs: Iterable[Any], summary: bool = False) -> JobColumns:
    """The jobs' fields and steps as plain lists; ``summary`` picks the summary table's fields over ``tags``.

    Raises:
        TypeError: An item is not job-like (the message names it).
    """
    columns = JobColumns()
    # Bound once: this loop is the only per-job Python work of a table.
    add_dict, add_record = columns.add_dict, columns.add_record
    add_names, add_times, add_n_steps = columns.step_names.extend, columns.step_times.extend, columns.n_steps.append
    for item in jobs:
        record = item if isinstance(item, (dict, JobRecord)) else getattr(item, "record", None)
        if isinstance(record, dict):
            steps = add_dict(record, summary)
        elif isinstance(record, JobRecord):
            steps = add_record(record, summary)
        else:
            raise IBMQValueError(
                f"job {item!r} ({type(item).__name__}) is not job-like; give a JobRecord, "
                "a dict in JobRecord shape, or an object with a .record attribute holding one."
            )
        add_names(steps)
        add_times(steps.values())
        add_n_steps(len(steps))
    return columns


@dataclass(slots=True)
class CountsColumns:
    """Per-experiment lists (one item per experiment) and the counts of all experiments, flattened."""

    #: Each result's job id; ``experiment_job`` indexes it.
    job_ids: list[Any] = field(default_factory=list)
    experiment_job: list[int] = field(default_factory=list)
    #: The experiment's index in its job.
    experiment_index: list[int] = field(default_factory=list)
    circuit: list[Any] = field(default_factory=list)
    success: list[bool] = field(default_factory=list)
    #: Shots as the result tells them, 0 when it does not.
    shots: list[int] = field(default_factory=list)
    #: The experiment's layout code (a value of ``layouts``).
    layout: list[int] = field(default_factory=list)
    layouts: dict[Layout, int] = field(default_factory=dict)
    #: How many counts rows each experiment has: one per outcome, or one (key None) without counts.
    n_rows: list[int] = field(default_factory=list)
    keys: list[Any] = field(default_factory=list)
    values: list[int] = field(default_factory=list)

    def add_result(self, result: Any) -> None:
        """Add the experiments of one Result (object or dict)."""
        if is_columnar(result):
            self.add_columnar(result)
            return
        job_id, experiments = result_parts(result)
        self.job_ids.append(job_id)
        job = len(self.job_ids) - 1
        for i, experiment in enumerate(experiments):
            ok, shots, header, counts = experiment_parts(experiment)
            self.experiment_job.append(job)
            self.experiment_index.append(i)
            self.circuit.append(header.get("name"))
            self.success.append(ok)
            self.shots.append(shots if isinstance(shots, int) else 0)
            registers = header.get("creg_sizes") or ()  # the layout inline: a call per experiment costs ~2%
            layout = (header.get("memory_slots") or None, tuple(size for _, size in registers))
            self.layout.append(self.layouts.setdefault(layout, len(self.layouts)))
            if ok and counts:
                self.n_rows.append(len(counts))
                self.keys.extend(counts)
                self.values.extend(counts.values())
            else:
                self.n_rows.append(1)
                self.keys.append(None)
                self.values.append(0)


    def add_columnar(self, data: dict[str, Any]) -> None:
        """Add the experiments of a result in the wire's columnar form, a column at a time (no experiment dicts)."""
        self.job_ids.append(data.get("job_id"))
        n = data["experiments"]["count"]
        self.experiment_job.extend([len(self.job_ids) - 1] * n)
        self.experiment_index.extend(range(n))
        self.circuit.extend(columnar_values(data, "header", "name"))
        success = [bool(ok) for ok in columnar_values(data, "success")]
        self.success.extend(success)
        self.shots.extend(shots if isinstance(shots, int) else 0 for shots in columnar_values(data, "shots"))
        layouts = zip(columnar_values(data, "header", "memory_slots"), columnar_values(data, "header", "creg_sizes"),
                      strict=True)
        codes: dict[tuple[Any, Any], int] = {}  # most jobs have a few layouts: each worked out once
        for memory_slots, registers in layouts:
            key = (memory_slots, None if registers is None else tuple(map(tuple, registers)))
            code = codes.get(key)
            if code is None:
                layout = (memory_slots or None, tuple(size for _, size in registers or ()))
                code = codes[key] = self.layouts.setdefault(layout, len(self.layouts))
            self.layout.append(code)
        for ok, counts in zip(success, columnar_values(data, "data", "counts"), strict=True):
            if ok and counts:
                self.n_rows.append(len(counts))
                self.keys.extend(counts)
                self.values.extend(counts.values())
            else:
                self.n_rows.append(1)
                self.keys.append(None)
                self.values.append(0)


def gather_counts(results: Any) -> CountsColumns:
    """The experiments and counts of a result or an iterable of results (None skipped) as plain lists.

    Raises:
        TypeError: A result is neither a Result, a Result dict nor a ``PrimitiveResult``.
    """
    if isinstance(results, Mapping) or hasattr(results, "results") or is_primitive_result(results):
        results = [results]
    columns = CountsColumns()
    for result in results:
        if result is None:
            continue
        columns.add_result(sampler_counts_result(result) if is_primitive_result(result) else result)
    return columns


def success_counts(results: Any) -> dict[Any, int]:
    """job_id -> number of successful experiments, from results as an iterable or a mapping job_id -> result."""
    if results is None:
        return {}
    pairs: Iterable[tuple[Any, Any]]
    if isinstance(results, Mapping) and "results" not in results and not is_columnar(results):
        pairs = results.items()
    else:
        if isinstance(results, Mapping) or hasattr(results, "results"):
            results = [results]
        pairs = ((r.get("job_id") if is_columnar(r) else result_parts(r)[0], r) for r in results if r is not None)
    found = {}
    for job_id, result in pairs:
        if is_columnar(result):
            found[job_id] = sum(map(bool, columnar_values(result, "success")))
        elif result is not None:
            found[job_id] = sum(experiment_parts(e)[0] for e in result_parts(result)[1])
    return found


def result_parts(result: Any) -> tuple[Any, Any]:
    """(job_id, experiments) of a Result object or a Result dict.

    Raises:
        IBMQValueError: ``result`` is neither.
    """
    if isinstance(result, Mapping):
        return result.get("job_id"), result.get("results") or ()
    if hasattr(result, "results"):
        return getattr(result, "job_id", None), result.results or ()
    raise IBMQValueError(f"result {result!r} ({type(result).__name__}) is not a qiskit Result or a Result dict.")


def experiment_parts(experiment: Any) -> tuple[bool, Any, Mapping[str, Any], Any]:
    """(success, shots, header dict, hex counts or None) of one experiment, object or dict."""
    if isinstance(experiment, Mapping):
        data = experiment.get("data") or {}
        return (
            bool(experiment.get("success")), experiment.get("shots"), experiment.get("header") or {},
            data.get("counts"),
        )
    header = getattr(experiment, "header", None) or {}
    if not isinstance(header, Mapping):  # older qiskit: a header object
        header = header.to_dict()
    counts = getattr(getattr(experiment, "data", None), "counts", None)
    return bool(experiment.success), getattr(experiment, "shots", None), header, counts


def _get(obj: Any, name: str) -> Any:
    return obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)

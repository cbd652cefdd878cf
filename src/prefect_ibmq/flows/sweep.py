"""``circuit_sweep``: many circuits as a job set, pipelined, resumable, with partial-result resubmission.

The circuits are split into jobs of at most the backend's ``max_experiments``.
Each job is tagged ``ibmq_jobset_<sweep_id>`` and named ``<sweep_id>_<index>_``
(resubmissions of its failed experiments ``<sweep_id>_<index>_r<round>``), so a
rerun with the same sweep id finds the jobs that exist and submits only the rest
(see :mod:`prefect_ibmq.flows.jobset`). At most ``max_jobs_in_flight`` jobs are
between submission and fetched result; each job is an asyncio task of the flow
that awaits one task run per remote operation: submit, wait, fetch. With
``cache_results`` every job is first looked up in Prefect's result storage, all
at once (:func:`prefect_ibmq.flows.job.look_up_jobs`); a job found there makes no
task run. The flow is async (Prefect's async engine) and still callable from
sync code (see :mod:`prefect_ibmq.syncable`).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pandas as pd
from prefect import get_run_logger
from qiskit import QuantumCircuit

from prefect_ibmq.blocks import ServiceCredentials
from prefect_ibmq.circuits import load_circuits
from prefect_ibmq.flows.artifacts import Progress, artifact_key, percent_done
from prefect_ibmq.flows.circuits_flow import circuits_flow
from prefect_ibmq.flows.counts_file import CountsFile, counts_suffix, read_counts
from prefect_ibmq.flows.job import FinishedJob, JobStageError, look_up_jobs, run_job
from prefect_ibmq.flows.jobset import (
    Chunk,
    SweepError,
    check_at_least,
    checked_sweep_id,
    chunk_size,
    existing_jobs,
    first_round,
    jobset_tag,
)
from prefect_ibmq.flows.sessions import execution_mode, runtime_arguments
from prefect_ibmq.flows.sweep_outputs import SweepTables, publish_sweep
from prefect_ibmq.services import resolve_service
from prefect_ibmq.tables import counts_frame, job_summary_frame, time_per_step_frame
from prefect_ibmq.wire import JobRecord

__all__ = ["SweepError", "SweepReport", "circuit_sweep"]


@dataclass(frozen=True)
class JobOptions:
    """What every job of a sweep is submitted and waited on with."""

    shots: int
    #: The sweep's job-set tag first, then the caller's tags.
    tags: list[str]
    share_level: str | None
    #: Seconds each job may take to reach a final state.
    timeout: float | None
    #: ``submit_job``'s ``runtime`` keyword (empty on a prefect-ibmq job service).
    runtime: dict[str, Any]
    service: ServiceCredentials | None
    cache: bool


@dataclass(frozen=True)
class _Plan:
    """A checked sweep, before any job: its id, circuits, backend and chunks, and the jobs that exist."""

    sweep_id: str
    backend_name: str
    circuits: list[QuantumCircuit]
    chunks: list[Chunk]
    size: int
    existing: dict[str, JobRecord]


@dataclass
class SweepReport:
    """What ``circuit_sweep`` returns: its jobs, what this run submitted, the small tables, and where the counts are.

    The counts are not held until asked for: ``counts`` reads them from ``counts_path``
    the first time and keeps them. Without an ``output_dir`` the file is a temporary
    one, deleted with the report; a pickled report then carries the counts themselves.
    """

    sweep_id: str
    job_ids: list[str]
    submitted: int
    reused: int
    timings: pd.DataFrame
    summary: pd.DataFrame
    counts_path: Path
    failed_circuits: list[int]
    outputs: dict[str, Path] = field(default_factory=dict)
    #: Jobs whose counts came from the cache (``cache_results=True``) instead of a new job.
    cached: int = 0
    _counts: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def counts(self) -> pd.DataFrame:
        """One row per circuit (its latest attempt) and outcome, sorted by circuit index and bitstring."""
        if self._counts is None:
            self._counts = read_counts(self.counts_path, _empty_counts())
        return self._counts

    def _delete_with_report(self, directory: Path) -> None:
        """Delete ``directory`` (the temporary counts file's) when this report is collected."""
        weakref.finalize(self, shutil.rmtree, directory, True)
        self._temporary = True

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if state.pop("_temporary", False):  # the file goes with this report: carry the counts instead
            state["_counts"] = self.counts
        return state

    def __repr__(self) -> str:  # the frames' own reprs are long and slow to make
        return (f"SweepReport(sweep_id={self.sweep_id!r}, jobs={len(self.job_ids)}, submitted={self.submitted}, "
                f"reused={self.reused}, cached={self.cached}, failed_circuits={len(self.failed_circuits)})")


@circuits_flow(name="circuit-sweep")
async def circuit_sweep(
    circuits: list[Any] | str,
    backend_name: str = "aer_simulator",
    shots: int = 1024,
    max_experiments_per_job: int | None = None,
    max_jobs_in_flight: int = 4,
    sweep_id: str | None = None,
    resubmit_failed: int = 1,
    timeout: float | None = None,
    output_dir: str | None = None,
    job_tags: list[str] | None = None,
    share_level: str | None = None,
    service: ServiceCredentials | None = None,
    cache_results: bool = False,
    mode: str | None = None,
) -> SweepReport:
    """Run circuits as a job set and tabulate them; a rerun with the same ``sweep_id`` resumes.

    Args:
        circuits: QuantumCircuits, OpenQASM 2/3 texts, or paths/globs of .qasm files.
        backend_name: The backend every job runs on.
        shots: Shots of every circuit.
        max_experiments_per_job: circuits per job (default and ceiling: the backend's max_experiments).
            The default pipelines as well as smaller jobs do: with ``max_jobs_in_flight`` jobs
            submitted at once, the first jobs run while the later ones are still being sent,
            and each extra job costs three more task runs. On 2 cores, 1,000 GHZ circuits took
            the same ~2.1 s in 4 jobs of 300 as in 10 of 100 (4 or 8 in flight); 20 of 50 took ~3 s.
        max_jobs_in_flight: jobs between submission and fetched result at once.
        sweep_id: names the job set; reuse it to pick up the jobs of an earlier run.
        resubmit_failed: rounds of resubmitting the experiments that failed.
        timeout: seconds each job may take to reach a final state (then it is cancelled).
        output_dir: where the counts, timings and summary tables and the timeline.png and
            step_durations.png pictures are written (the pictures are published in the UI either way).
            The counts are appended job by job as results arrive (``counts.parquet``, a row group per
            job, or ``counts.csv`` without pyarrow); without ``output_dir`` they go to a temporary
            file that lives as long as the report.
        job_tags: Tags every job carries besides the sweep's ``ibmq_jobset_<sweep_id>``.
        share_level: The jobs' share level (the service's default when None).
        cache_results: reuse the stored counts of a job with the same circuits (by QPY digest), backend
            and shots, from any earlier run or sweep id, instead of submitting it again (see
            :mod:`prefect_ibmq.flows.job`). Off by default: a sample is a sample.
        service: a job service's or IBM Quantum Platform's credentials. IBM keeps no partial
            results: there a failed job's circuits are all resubmitted.
        mode: IBM Quantum Platform only: ``batch`` (the default there), ``session`` or ``job``.

    Returns:
        A ``SweepReport``; its ``summary`` has a ``cached`` column, its ``counts`` are read from
        ``counts_path`` when asked for.

    Raises:
        SweepError: If some jobs could not be submitted, waited on or read (the rest are tabulated first).
        ValueError, CircuitInputError, IBMQBackendValueError: On bad input, before anything is submitted.

    Examples:
        Sweep 100 circuits from a flow of your own; a rerun with the same id resumes:
        ```python
        from prefect import flow
        from prefect_ibmq.circuits import ghz_bell_set
        from prefect_ibmq.flows import circuit_sweep

        @flow
        def nightly():
            report = circuit_sweep(ghz_bell_set(100), sweep_id="nightly", output_dir="out")
            return report.counts
        ```
    """
    logger = get_run_logger()
    check_at_least(1, max_jobs_in_flight=max_jobs_in_flight)
    check_at_least(0, resubmit_failed=resubmit_failed)
    plan = _plan(circuits, backend_name, shots, max_experiments_per_job, sweep_id, service)
    logger.info(
        "Sweep %s: %d circuits in %d jobs of up to %d on %s (%d jobs already exist)",
        plan.sweep_id, len(plan.circuits), len(plan.chunks), plan.size, backend_name, len(plan.existing),
    )
    temporary = None if output_dir else Path(tempfile.mkdtemp(prefix=f"prefect-ibmq-sweep-{plan.sweep_id}-"))
    counts_file = CountsFile(Path(output_dir or temporary or ".") / f"counts.{counts_suffix()}", _empty_counts(),
                             len(plan.circuits))
    with execution_mode(service, backend_name, mode, default="batch") as runtime:
        options = JobOptions(shots, [jobset_tag(plan.sweep_id), *(job_tags or [])], share_level, timeout,
                             runtime_arguments(runtime), service, cache_results)
        pipeline = _Pipeline(plan, max_jobs_in_flight, options, counts_file)
        try:
            progress = await pipeline.run(resubmit_failed)
        finally:
            counts_path = await anyio.to_thread.run_sync(counts_file.close)
    return await _report(plan, pipeline, progress, counts_path, output_dir, temporary)


def _plan(circuits: list[Any] | str, backend_name: str, shots: int, max_experiments_per_job: int | None,
          sweep_id: str | None, service: ServiceCredentials | None) -> _Plan:
    """Check everything and split the circuits into chunks, before any job is submitted."""
    sweep_id = checked_sweep_id(sweep_id)
    qcs = load_circuits(circuits)
    svc = resolve_service(service)
    backend = svc.backend(backend_name)
    backend.validate_circuits(qcs, shots=shots)  # every circuit checked before any job is submitted
    size = chunk_size(max_experiments_per_job, backend.max_circuits, "max_experiments_per_job")
    return _Plan(sweep_id, backend_name, qcs, first_round(len(qcs), size), size,
                 existing_jobs(svc, jobset_tag(sweep_id)))


async def _report(plan: _Plan, pipeline: _Pipeline, progress: Progress | None, counts_path: Path,
                  output_dir: str | None, temporary: Path | None) -> SweepReport:
    """Tabulate and publish the sweep; its report, or SweepError when some jobs did not finish."""
    # By creation, not by when each result arrived: the same jobs make the same tables (and cached pictures).
    pipeline.records.sort(key=lambda record: (record.creation_date, record.job_id))
    summary = job_summary_frame(pipeline.records)
    summary["success_count"] = pd.array(summary["job_id"].map(pipeline.success_counts), dtype="Int64")
    summary["cached"] = summary["job_id"].isin(pipeline.cached_job_ids)
    tables = SweepTables(plan.sweep_id, plan.backend_name, time_per_step_frame(pipeline.records), summary,
                         pipeline.failed_experiments())
    outputs = await publish_sweep(tables, output_dir, pipeline.options.cache, progress, pipeline.planned)
    if output_dir:
        outputs = {"counts": counts_path, **outputs}
    failed = sorted(pipeline.failed_circuits)
    get_run_logger().info(
        "Sweep %s done: %d jobs (%d submitted now, %d reused, %d from the cache), %d circuits without a successful "
        "result", plan.sweep_id, len(pipeline.records), pipeline.submitted, pipeline.reused,
        len(pipeline.cached_job_ids), len(failed),
    )
    if pipeline.errors:
        if temporary is not None:  # no report will own the temporary counts file
            shutil.rmtree(temporary, ignore_errors=True)
        raise SweepError(
            f"sweep {plan.sweep_id}: {len(pipeline.errors)} jobs did not finish ({'; '.join(pipeline.errors[:5])}); "
            f"rerun with sweep_id={plan.sweep_id!r} to pick up where this run stopped"
        )
    report = SweepReport(
        plan.sweep_id, [r.job_id for r in pipeline.records], pipeline.submitted, pipeline.reused,
        tables.timings, summary, counts_path, failed, outputs, len(pipeline.cached_job_ids),
    )
    if temporary is not None:
        report._delete_with_report(temporary)
    return report


class _Pipeline:
    """Moves each chunk through submit -> wait -> fetch, at most ``limit`` chunks at a time.

    Each chunk is one asyncio task of the flow's event loop that awaits its three
    task runs in turn; a semaphore keeps ``limit`` of them between submission and
    fetched result. No polling and no threads: the loop wakes when a task run ends.
    With ``options.cache``, the chunks are first looked up in the result cache
    together; a chunk found there is tabulated at once, with no task run.
    """

    def __init__(self, plan: _Plan, limit: int, options: JobOptions, counts_file: CountsFile) -> None:
        self.plan, self.options = plan, options
        self.slots = asyncio.Semaphore(limit)
        self.records: list[JobRecord] = []
        # Each result is tabulated and written as it arrives, then dropped: counts are never all held.
        self.counts_file = counts_file
        # circuit index -> (job_id, experiment, circuit name) of its latest attempt, when that failed.
        self.failures: dict[int, tuple[str, int, str]] = {}
        self.success_counts: dict[str, int] = {}
        self.errors: list[str] = []
        self.failed_circuits: set[int] = set()
        self.submitted = self.reused = 0
        self.cached_job_ids: set[str] = set()
        self.planned = len(plan.chunks)
        # chunk index -> its circuits' digest, for the chunks looked up in the cache and not found.
        self.digests: dict[int, str] = {}

    async def run(self, rounds: int) -> Progress | None:
        """Run every chunk (and up to ``rounds`` resubmissions of failed experiments).

        Returns:
            The progress artifact, or None when every job came from the cache (none was made).
        """
        pending = await self._take_cached(self.plan.chunks)
        if not pending:
            return None
        # Created while the first jobs are submitted, not before (a Prefect API call each way).
        creating = asyncio.ensure_future(Progress.create(
            artifact_key(self.plan.sweep_id, "progress"), self.planned, "jobs", done=self.planned - len(pending)))

        async def on_finished(finished: int, planned: int) -> None:
            # Logged before awaiting the artifact: jobs finish concurrently, and a call that waited
            # for the artifact's creation would log its 1/4 after a later call's 3/4.
            percent = percent_done(finished, planned)
            get_run_logger().info("Sweep %s: %s %d/%d jobs done", self.plan.sweep_id, _bar(percent), finished, planned)
            await (await asyncio.shield(creating)).update(finished, planned)

        try:
            await self._run_chunks(pending, rounds, self.planned - len(pending), on_finished)
        finally:
            progress = await creating
        return progress

    async def _take_cached(self, chunks: list[Chunk]) -> list[Chunk]:
        """Tabulate the chunks whose jobs are in the cache; returns the others."""
        if not self.options.cache:
            return chunks
        looked_up = [chunk for chunk in chunks if chunk.job_name(self.plan.sweep_id) not in self.plan.existing]
        found = await look_up_jobs([self._circuits_of(chunk) for chunk in looked_up], self.plan.backend_name,
                                   self.options.shots, self.options.service)
        for chunk, (digest, job) in zip(looked_up, found, strict=True):
            if job is None:
                self.digests[chunk.index] = digest
            else:
                self._tabulate_job(chunk, job, existing=None)
        taken = {chunk.index for chunk, (_, job) in zip(looked_up, found, strict=True) if job is not None}
        return [chunk for chunk in chunks if chunk.index not in taken]

    async def _run_chunks(self, chunks: list[Chunk], rounds: int, done: int,
                          on_finished: Callable[[int, int], Awaitable[None]]) -> None:
        """Run ``chunks`` and the resubmissions of their failed experiments; ``on_finished`` hears of each job."""
        async with asyncio.TaskGroup() as group:

            async def run_chunk(chunk: Chunk) -> None:
                nonlocal done
                async with self.slots:
                    without_result = await self._circuits_without_result(chunk)
                done += 1
                if without_result and chunk.round < rounds:
                    self.planned += 1
                    group.create_task(run_chunk(chunk.retried(without_result)))
                await on_finished(done, self.planned)

            for chunk in chunks:
                group.create_task(run_chunk(chunk))

    async def _circuits_without_result(self, chunk: Chunk) -> tuple[int, ...]:
        """Submit the chunk's job (unless it exists), wait, fetch, tabulate; the circuits left without a result."""
        name = chunk.job_name(self.plan.sweep_id)
        existing = self.plan.existing.get(name)
        if existing is not None:
            self.reused += 1
        options = self.options
        try:
            job = await run_job(
                self._circuits_of(chunk), self.plan.backend_name, options.shots, cache=options.cache,
                existing=existing, digest=self.digests.get(chunk.index) if chunk.round == 0 else None,
                timeout=options.timeout, service=options.service, job_name=name, job_tags=options.tags,
                share_level=options.share_level,
                header={"sweep_id": self.plan.sweep_id, "circuit_indices": list(chunk.circuit_indices)},
                # The same key on a rerun too: a submit that reached the service before a crash is not repeated.
                idempotency_key=f"sweep-{self.plan.sweep_id}-{name}", **options.runtime,
            )
        except JobStageError as exc:
            if existing is None and exc.stage in ("wait", "fetch"):
                self.submitted += 1
            self.errors.append(f"{name}: {exc}")
            get_run_logger().error("Job %s: %s", name, exc)
            self._mark_failed(chunk.circuit_indices)
            return chunk.circuit_indices
        return self._tabulate_job(chunk, job, existing)

    def _tabulate_job(self, chunk: Chunk, job: FinishedJob, existing: JobRecord | None) -> tuple[int, ...]:
        """Count the job and append its counts; returns the chunk's circuits without a successful result."""
        if job.cached:
            self.cached_job_ids.add(job.record.job_id)
        elif existing is None:
            self.submitted += 1
        self.records.append(job.record)
        if not job.has_result:
            self._mark_failed(chunk.circuit_indices)
            return chunk.circuit_indices
        self.counts_file.append(_tabulate(job.counts(), chunk.circuit_indices, chunk.round))
        succeeded = job.successes
        self.success_counts[job.record.job_id] = sum(succeeded)
        for experiment, (index, ok) in enumerate(zip(chunk.circuit_indices, succeeded, strict=False)):
            if ok:
                self.failures.pop(index, None)
            else:
                self.failures[index] = (job.record.job_id, experiment, self.plan.circuits[index].name)
        without_result = tuple(i for i, ok in zip(chunk.circuit_indices, succeeded, strict=False) if not ok)
        self.failed_circuits.difference_update(chunk.circuit_indices)
        self._mark_failed(without_result)
        return without_result

    def _mark_failed(self, circuit_indices: tuple[int, ...]) -> None:
        self.failed_circuits.update(circuit_indices)

    def _circuits_of(self, chunk: Chunk) -> list[QuantumCircuit]:
        return [self.plan.circuits[i] for i in chunk.circuit_indices]

    def failed_experiments(self) -> pd.DataFrame:
        """The experiments whose circuit's latest attempt failed: job_id, experiment, circuit (by circuit index)."""
        rows = [self.failures[index] for index in sorted(self.failures)]
        return pd.DataFrame(rows, columns=["job_id", "experiment", "circuit"])


def _tabulate(counts: pd.DataFrame, circuit_indices: tuple[int, ...], round_: int) -> pd.DataFrame:
    """A job's counts, keyed by each circuit's index in the sweep and the attempt's round."""
    indices = np.asarray(circuit_indices, dtype=int)[counts["experiment"].to_numpy(dtype=int)]
    keys = pd.DataFrame({"circuit_index": pd.array(indices, dtype="Int64"),
                         "round": pd.array(np.full(len(counts), round_), dtype="Int64")}, index=counts.index)
    return pd.concat([keys, counts], axis=1)


def _empty_counts() -> pd.DataFrame:
    """A sweep's counts columns and dtypes, without rows."""
    return _tabulate(counts_frame([]), (), 0)


def _bar(percent: float, width: int = 24) -> str:
    filled = round(width * percent / 100)
    return "[" + "#" * filled + "-" * (width - filled) + f"] {percent:5.1f}%"

"""``circuit_sweep``: many circuits as a job set, pipelined, resumable, with partial-result resubmission.

The circuits are split into jobs of at most the backend's ``max_experiments``
(``max_experiments_per_job``); the job set's engine (:mod:`prefect_ibmq.flows.jobset`)
runs them: each job tagged ``ibmq_jobset_<sweep_id>`` and named ``<sweep_id>_<index>_``
(resubmissions of its failed experiments ``<sweep_id>_<index>_r<round>``), at most
``max_jobs_in_flight`` between submission and fetched result, a rerun with the same
sweep id picking up the jobs that exist, and with ``cache_results`` every job first
looked up in Prefect's result storage. Each job's counts are appended to a file as
its result arrives (:class:`~prefect_ibmq.flows.jobset.counts.CountsKind`). The flow
is async (Prefect's async engine) and still callable from sync code (see
:mod:`prefect_ibmq.syncable`).
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pandas as pd
from prefect import get_run_logger

from prefect_ibmq.arguments import check_int
from prefect_ibmq.blocks import ServiceCredentials
from prefect_ibmq.circuits import load_circuits
from prefect_ibmq.flows.circuits_flow import circuits_flow
from prefect_ibmq.flows.counts_file import CountsFile, counts_suffix, read_counts
from prefect_ibmq.flows.jobset import (
    JobSetOptions,
    JobSetRunner,
    SweepError,
    checked_sweep_id,
    existing_jobs,
    first_round,
    items_per_job,
    jobset_tag,
)
from prefect_ibmq.flows.jobset.budget import quantum_budget
from prefect_ibmq.flows.jobset.counts import CountsKind, empty_sweep_counts
from prefect_ibmq.flows.jobset.progress import SweepProgress
from prefect_ibmq.flows.jobset.publish import publish_sweep
from prefect_ibmq.flows.jobset.report import close_sweep, sweep_tables
from prefect_ibmq.flows.sessions import execution_mode
from prefect_ibmq.platforms import resolve_platform

__all__ = ["SweepError", "SweepReport", "circuit_sweep"]


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
    #: Circuits not submitted to stay within ``max_quantum_seconds`` (rerun with the same sweep id to run them).
    not_run_circuits: list[int] = field(default_factory=list)
    #: Quantum seconds this run's jobs used (the summary's ``quantum_s``, summed).
    quantum_seconds: float = 0.0
    _counts: pd.DataFrame | None = field(default=None, repr=False, compare=False)

    @property
    def counts(self) -> pd.DataFrame:
        """One row per circuit (its latest attempt) and outcome, sorted by circuit index and bitstring."""
        if self._counts is None:
            self._counts = read_counts(self.counts_path, empty_sweep_counts())
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
    max_time: int | None = None,
    max_quantum_seconds: float | None = None,
    program: str = "sampler",
) -> SweepReport:
    """Run circuits as a job set and tabulate them; a rerun with the same ``sweep_id`` resumes.

    Args:
        circuits: QuantumCircuits, OpenQASM 2/3 texts, or paths/globs of .qasm files.
        backend_name: The backend every job runs on.
        shots: Shots of every circuit.
        max_experiments_per_job: Circuits per job (default and ceiling: the backend's max_experiments).
            With ``max_jobs_in_flight`` jobs submitted at once, the first jobs run while the later
            ones are still being sent, and each extra job costs three more task runs, so the
            default pipelines as well as smaller jobs do.
        max_jobs_in_flight: Jobs between submission and fetched result at once.
        sweep_id: Names the job set; reuse it to pick up the jobs of an earlier run.
        resubmit_failed: Rounds of resubmitting the experiments that failed.
        timeout: Seconds each job may take to reach a final state (then it is cancelled).
        output_dir: Where the counts, timings and summary tables and the timeline.png and
            step_durations.png pictures are written (the pictures are published in the UI either way).
            The counts are appended job by job as results arrive (``counts.parquet``, a row group per
            job, or ``counts.csv`` without pyarrow); without ``output_dir`` they go to a temporary
            file that lives as long as the report.
        job_tags: Tags every job carries besides the sweep's ``ibmq_jobset_<sweep_id>``.
        share_level: The jobs' share level (the service's default when None).
        cache_results: Reuse the stored counts of a job with the same circuits (by QPY digest), backend,
            shots and platform, from any earlier run or sweep id, instead of submitting it again (see
            :mod:`prefect_ibmq.flows.job`). Off by default: a sample is a sample.
        service: A job service's or IBM Quantum Platform's credentials. IBM keeps no partial
            results: there a failed job's circuits are all resubmitted.
        mode: ``job``, ``batch`` or ``session`` where the platform has them (IBM Quantum Platform:
            ``batch`` by default; a job service: ``job`` only).
        max_time: The batch's (or session's) maximum time to live in seconds (IBM's ``max_time``; the
            plan's default, 8 h, when None). Jobs still queued when it ends, and jobs submitted after,
            go to a new batch with the same idempotency keys: none is lost or run twice.
        max_quantum_seconds: Stop submitting before the jobs' quantum seconds (the platform's usage of
            each) would exceed this, or the instance's ``usage_remaining_seconds`` if fewer (see
            :mod:`prefect_ibmq.flows.jobset.budget`); the circuits not submitted are logged and in
            ``not_run_circuits``. None: no limit.
        program: On IBM Quantum Platform, the Qiskit Runtime program that samples: ``sampler``
            (``SamplerV2``), or ``executor`` (the client's executor-based ``Sampler``, 0.50+).

    Returns:
        A ``SweepReport``; its ``summary`` has a ``cached`` column, its ``counts`` are read from
        ``counts_path`` when asked for.

    Raises:
        SweepError: If some jobs could not be submitted, waited on or read (the rest are tabulated first).
        IBMQValueError, CircuitInputError, IBMQBackendValueError: On bad input, before anything is submitted.

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
    check_int("max_jobs_in_flight", max_jobs_in_flight, 1)
    check_int("resubmit_failed", resubmit_failed, 0)
    sweep_id = checked_sweep_id(sweep_id)
    platform = resolve_platform(service)
    qcs = load_circuits(circuits)
    limits = await platform.limits(backend_name)
    await platform.check_circuits(qcs, backend_name, shots)  # every circuit checked before any job is submitted
    size = items_per_job(max_experiments_per_job, limits.max_circuits, "max_experiments_per_job")
    chunks = first_round(len(qcs), size)
    existing = await existing_jobs(platform, sweep_id)
    get_run_logger().info("Sweep %s: %d circuits in %d jobs of up to %d on %s (%d jobs already exist)",
                          sweep_id, len(qcs), len(chunks), size, backend_name, len(existing))
    temporary = None if output_dir else Path(tempfile.mkdtemp(prefix=f"prefect-ibmq-sweep-{sweep_id}-"))
    counts_file = CountsFile(Path(output_dir or temporary or ".") / f"counts.{counts_suffix()}",
                             empty_sweep_counts(), len(qcs))
    progress = SweepProgress(sweep_id)
    budget = await quantum_budget(platform, max_quantum_seconds)
    try:
        async with execution_mode(platform, service, backend_name, mode, default="batch", program=program,
                                  max_time=max_time) as execution:
            options = JobSetOptions(backend_name, [jobset_tag(sweep_id), *(job_tags or [])], share_level, timeout,
                                    execution.runtime, service, cache_results, max_jobs_in_flight, resubmit_failed)
            runner = JobSetRunner(sweep_id, platform, CountsKind(qcs, shots, counts_file), options, existing,
                                  [progress, *([budget] if budget else [])], batches=execution,
                                  admission=budget)
            try:
                outcome = await runner.run(chunks)
            except BaseException:
                await anyio.to_thread.run_sync(counts_file.close)
                raise
        # The counts file is finished while the tables and pictures are made and published.
        closing = asyncio.ensure_future(anyio.to_thread.run_sync(counts_file.close))
        tables = sweep_tables(sweep_id, f"Sweep {sweep_id} on {backend_name}", outcome)
        try:
            outputs = await publish_sweep(tables, output_dir, cache_results, progress.close(), outcome.planned)
        finally:
            counts_path = await closing
        close_sweep("Sweep", sweep_id, outcome)
    except BaseException:
        if temporary is not None:  # no report will own the temporary counts file
            shutil.rmtree(temporary, ignore_errors=True)
        raise
    report = SweepReport(
        sweep_id, [record.job_id for record in outcome.records], outcome.submitted, outcome.reused, tables.timings,
        tables.summary, counts_path, sorted(outcome.failed_items),
        {"counts": counts_path, **outputs} if output_dir else outputs, len(outcome.cached_job_ids),
        sorted(outcome.not_run), sum(outcome.quantum_seconds.values()),
    )
    if temporary is not None:
        report._delete_with_report(temporary)
    return report

"""``circuit_sweep``: many circuits as a job set, pipelined, resumable, with partial-result resubmission.

The circuits are split into jobs of at most the backend's ``max_experiments``.
Each job is tagged ``ibmq_jobset_<sweep_id>`` and named ``<sweep_id>_<index>_``
(resubmissions of its failed experiments ``<sweep_id>_<index>_r<round>``), so a
rerun with the same sweep id finds the jobs that exist and submits only the rest.
At most ``max_jobs_in_flight`` jobs are between submission and fetched result;
each job is an asyncio task of the flow that awaits one task run per remote
operation: submit, wait, fetch. The flow is async (Prefect's async engine) and
still callable from sync code (see :mod:`prefect_ibmq.syncable`).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
import tempfile
import uuid
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import numpy as np
import pandas as pd
from prefect import get_run_logger
from prefect.utilities.annotations import quote
from qiskit import QuantumCircuit

from prefect_ibmq.backend import IBMQService
from prefect_ibmq.blocks import ServiceCredentials
from prefect_ibmq.circuits import load_circuits
from prefect_ibmq.flows.artifacts import Progress, artifact_key, publish_job_table, publish_pictures, publish_summary
from prefect_ibmq.flows.counts_file import CountsFile, counts_suffix, read_counts
from prefect_ibmq.flows.job import JobStageError, run_job
from prefect_ibmq.flows.outputs import write_frames
from prefect_ibmq.flows.sessions import execution_mode, runtime_arguments
from prefect_ibmq.plots import render_pictures, write_pictures
from prefect_ibmq.services import resolve_service
from prefect_ibmq.syncable import io_flow, io_task
from prefect_ibmq.tables import counts_frame, job_summary_frame, time_per_step_frame
from prefect_ibmq.wire import JOBSET_TAG_PREFIX, JobRecord

_SWEEP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")


class SweepError(RuntimeError):
    """Some jobs of a sweep could not be submitted, waited on or read; rerun with the same sweep id."""


@dataclass(frozen=True)
class Chunk:
    """The circuits of one job of the sweep: first submission (round 0) or a resubmission."""

    index: int
    round: int
    circuit_indices: tuple[int, ...]

    def job_name(self, sweep_id: str) -> str:
        return f"{sweep_id}_{self.index}_" + (f"r{self.round}" if self.round else "")


@dataclass
class SweepReport:
    """What ``circuit_sweep`` returns: its jobs, what this run submitted, the small tables, and where the counts are.

    The counts are not held: ``counts`` reads them from ``counts_path`` each time it is
    asked for (keep the frame in a variable to use it more than once). Without an
    ``output_dir`` the file is a temporary one, deleted with the report; a pickled
    report then carries the counts themselves.
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
        if self._counts is not None:
            return self._counts
        return read_counts(self.counts_path, _empty_counts())

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


@io_flow(name="circuit-sweep")
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
        >>> report = circuit_sweep(ghz_bell_set(100), sweep_id="nightly", output_dir="out")
    """
    logger = get_run_logger()
    sweep_id = _checked_sweep_id(sweep_id)
    _check_at_least(1, max_jobs_in_flight=max_jobs_in_flight)
    _check_at_least(0, resubmit_failed=resubmit_failed)
    qcs = load_circuits(circuits)
    svc = resolve_service(service)
    backend = svc.backend(backend_name)
    backend.validate_circuits(qcs, shots=shots)  # every circuit checked before any job is submitted
    size = min(max_experiments_per_job or backend.max_circuits, backend.max_circuits)
    _check_at_least(1, max_experiments_per_job=size)
    tag = f"{JOBSET_TAG_PREFIX}_{sweep_id}"
    existing = _existing_jobs(svc, tag)
    chunks = [Chunk(i, 0, tuple(range(start, min(start + size, len(qcs))))) for i, start in
              enumerate(range(0, len(qcs), size))]
    logger.info(
        "Sweep %s: %d circuits in %d jobs of up to %d on %s (%d jobs already exist)",
        sweep_id, len(qcs), len(chunks), size, backend_name, len(existing),
    )
    temporary = None if output_dir else Path(tempfile.mkdtemp(prefix=f"prefect-ibmq-sweep-{sweep_id}-"))
    counts_file = CountsFile(Path(output_dir or temporary) / f"counts.{counts_suffix()}", _empty_counts(), len(qcs))
    progress = await Progress.create(artifact_key(sweep_id, "progress"), len(chunks), "jobs")

    async def on_finished(finished: int, planned: int) -> None:
        percent = await progress.update(finished, planned)
        logger.info("Sweep %s: %s %d/%d jobs done", sweep_id, _bar(percent), finished, planned)

    with execution_mode(service, backend_name, mode, default="batch") as runtime:
        common = dict(shots=shots, tags=[tag, *(job_tags or [])], share_level=share_level, timeout=timeout,
                      cache=cache_results, runtime=runtime_arguments(runtime))
        pipeline = _Pipeline(sweep_id, backend_name, qcs, existing, max_jobs_in_flight, common, service, counts_file)
        try:
            await pipeline.run(chunks, resubmit_failed, on_finished)
        finally:
            counts_path = await anyio.to_thread.run_sync(counts_file.close)

    summary = job_summary_frame(pipeline.records)
    summary["success_count"] = pd.array(summary["job_id"].map(pipeline.success_counts), dtype="Int64")
    summary["cached"] = summary["job_id"].isin(pipeline.cached_job_ids)
    timings = time_per_step_frame(pipeline.records)
    failed = sorted(pipeline.failed_circuits)
    outputs = await _publish(sweep_id, backend_name, output_dir, pipeline.failed_experiments(), timings, summary,
                             cache_results)
    if output_dir:
        outputs = {"counts": counts_path, **outputs}
    logger.info(
        "Sweep %s done: %d jobs (%d submitted now, %d reused, %d from the cache), %d circuits without a successful "
        "result", sweep_id, len(pipeline.records), pipeline.submitted, pipeline.reused, len(pipeline.cached_job_ids),
        len(failed),
    )
    if pipeline.errors:
        if temporary is not None:  # no report will own the temporary counts file
            shutil.rmtree(temporary, ignore_errors=True)
        raise SweepError(
            f"sweep {sweep_id}: {len(pipeline.errors)} jobs did not finish ({'; '.join(pipeline.errors[:5])}); "
            f"rerun with sweep_id={sweep_id!r} to pick up where this run stopped"
        )
    report = SweepReport(
        sweep_id, [r.job_id for r in pipeline.records], pipeline.submitted, pipeline.reused,
        timings, summary, counts_path, failed, outputs, len(pipeline.cached_job_ids),
    )
    if temporary is not None:
        report._delete_with_report(temporary)
    return report


async def _publish(sweep_id: str, backend_name: str, output_dir: str | None, failed: pd.DataFrame,
                   timings: pd.DataFrame, summary: pd.DataFrame, cache: bool) -> dict[str, Path]:
    """Write the timings and summary (and pictures) to ``output_dir``, publish them as artifacts; returns the files.

    The pictures (~0.3 s of matplotlib) are drawn in a worker thread while the tables
    are written and published, so their cost overlaps that I/O instead of adding to it;
    with ``cache`` they are a cached task of their own (the same jobs make the same pictures).
    """
    if cache:
        drawing = asyncio.ensure_future(draw_pictures(quote(timings), quote(summary), _frames_digest(timings, summary)))
    else:
        drawing = asyncio.ensure_future(anyio.to_thread.run_sync(render_pictures, timings, summary))
    outputs = {}
    if output_dir:
        outputs = await anyio.to_thread.run_sync(
            lambda: write_frames(Path(output_dir), timings=timings, summary=summary)
        )
    await asyncio.gather(  # two Prefect API calls at once
        publish_job_table(artifact_key(sweep_id, "timings"), summary),
        publish_summary(artifact_key(sweep_id, "summary"), f"Sweep {sweep_id} on {backend_name}", summary, failed),
    )
    try:  # pictures are a view of the tables above: a plotting error must not lose the sweep
        pictures = await drawing
        paths = write_pictures(Path(output_dir), pictures) if output_dir else {}
        outputs.update(paths)
        await publish_pictures(artifact_key(sweep_id, "pictures"),
                               f"Sweep {sweep_id}: job timeline and step durations", pictures, paths)
    except Exception:
        get_run_logger().warning("Sweep %s: could not draw or publish the pictures", sweep_id, exc_info=True)
    return outputs


def _frames_digest(timings: pd.DataFrame, summary: pd.DataFrame) -> str:
    """A digest of what the pictures show: the jobs' step times, and queue and run time per backend."""
    digest = hashlib.sha256()
    for frame in (timings.drop(columns=["tags"], errors="ignore"), summary[["backend", "queue_s", "run_s"]]):
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


@io_task(task_run_name="draw-pictures", persist_result=True,
         cache_key_fn=lambda context, parameters: f"prefect-ibmq-pictures-{parameters['digest']}")
async def draw_pictures(timings: pd.DataFrame, summary: pd.DataFrame, digest: str) -> dict[str, bytes]:
    """The sweep's pictures as PNG bytes, stored by Prefect under ``digest`` (see ``_frames_digest``)."""
    return await anyio.to_thread.run_sync(render_pictures, timings, summary)


class _Pipeline:
    """Moves each chunk through submit -> wait -> fetch, at most ``limit`` chunks at a time.

    Each chunk is one asyncio task of the flow's event loop that awaits its three
    task runs in turn; a semaphore keeps ``limit`` of them between submission and
    fetched result. No polling and no threads: the loop wakes when a task run ends.
    """

    def __init__(self, sweep_id: str, backend_name: str, circuits: list[QuantumCircuit],
                 existing: dict[str, JobRecord], limit: int, common: dict[str, Any],
                 service: ServiceCredentials | None, counts_file: CountsFile) -> None:
        self.sweep_id, self.backend_name, self.circuits = sweep_id, backend_name, circuits
        self.existing, self.common, self.service = existing, common, service
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

    async def run(self, chunks: list[Chunk], rounds: int,
                  on_finished: Callable[[int, int], Awaitable[None]]) -> None:
        """Run every chunk (and the resubmissions of failed experiments); ``on_finished`` hears of each job."""
        done, planned = 0, len(chunks)
        async with asyncio.TaskGroup() as group:

            async def run_chunk(chunk: Chunk) -> None:
                nonlocal done, planned
                async with self.slots:
                    retry = await self._stages(chunk)
                done += 1
                self.failed_circuits.difference_update(chunk.circuit_indices)
                self.failed_circuits.update(retry)
                if retry and chunk.round < rounds:
                    planned += 1
                    group.create_task(run_chunk(Chunk(chunk.index, chunk.round + 1, retry)))
                await on_finished(done, planned)

            for chunk in chunks:
                group.create_task(run_chunk(chunk))

    async def _stages(self, chunk: Chunk) -> tuple[int, ...]:
        """Submit (unless the job exists), wait, fetch; returns the chunk's circuits without a result."""
        name = chunk.job_name(self.sweep_id)
        existing = self.existing.get(name)
        if existing is not None:
            self.reused += 1
        try:
            job = await run_job(
                [self.circuits[i] for i in chunk.circuit_indices], self.backend_name, self.common["shots"],
                cache=self.common["cache"], existing=existing, timeout=self.common["timeout"], service=self.service,
                job_name=name, job_tags=self.common["tags"], share_level=self.common["share_level"],
                header={"sweep_id": self.sweep_id, "circuit_indices": list(chunk.circuit_indices)},
                # The same key on a rerun too: a submit that reached the service before a crash is not repeated.
                idempotency_key=f"sweep-{self.sweep_id}-{name}", **self.common["runtime"],
            )
        except JobStageError as exc:
            if existing is None and exc.stage in ("wait", "fetch"):
                self.submitted += 1
            self.errors.append(f"{name}: {exc}")
            get_run_logger().error("Job %s: %s", name, exc)
            return chunk.circuit_indices
        if job.cached:
            self.cached_job_ids.add(job.record.job_id)
        elif existing is None:
            self.submitted += 1
        self.records.append(job.record)
        if job.result is None:
            return chunk.circuit_indices
        self.counts_file.append(_tabulate(counts_frame([job.result]), chunk.circuit_indices, chunk.round))
        succeeded = [experiment.success for experiment in job.result.results]
        self.success_counts[job.record.job_id] = sum(succeeded)
        for experiment, (index, ok) in enumerate(zip(chunk.circuit_indices, succeeded, strict=False)):
            if ok:
                self.failures.pop(index, None)
            else:
                self.failures[index] = (job.record.job_id, experiment, self.circuits[index].name)
        return tuple(i for i, ok in zip(chunk.circuit_indices, succeeded, strict=False) if not ok)

    def failed_experiments(self) -> pd.DataFrame:
        """The experiments whose circuit's latest attempt failed: job_id, experiment, circuit (by circuit index)."""
        rows = [self.failures[index] for index in sorted(self.failures)]
        return pd.DataFrame(rows, columns=["job_id", "experiment", "circuit"])


def _tabulate(counts: pd.DataFrame, circuit_indices: tuple[int, ...], round_: int) -> pd.DataFrame:
    """A job's counts, keyed by each circuit's index in the sweep and the attempt's round."""
    indices = np.asarray(circuit_indices, dtype=int)[counts["experiment"].to_numpy(dtype=int)]
    counts.insert(0, "circuit_index", pd.array(indices, dtype="Int64"))
    counts.insert(1, "round", pd.array(np.full(len(counts), round_), dtype="Int64"))
    return counts


def _empty_counts() -> pd.DataFrame:
    """A sweep's counts columns and dtypes, without rows."""
    return _tabulate(counts_frame([]), (), 0)


def _existing_jobs(service: IBMQService, tag: str) -> dict[str, JobRecord]:
    """The sweep's jobs already on the service, by name (the newest when a name repeats)."""
    found: dict[str, JobRecord] = {}
    skip, page = 0, 500
    while True:
        jobs = service.jobs(limit=page, skip=skip, job_tags=[tag])
        for job in jobs:  # newest first: keep the first seen of each name
            found.setdefault(job.record.name or job.job_id(), job.record)
        if len(jobs) < page:
            return found
        skip += page


def _checked_sweep_id(sweep_id: str | None) -> str:
    if sweep_id is None:
        return uuid.uuid4().hex[:12]
    if not isinstance(sweep_id, str) or not _SWEEP_ID.match(sweep_id):
        raise ValueError(
            f"sweep_id {sweep_id!r} is not valid: use 1-64 letters, digits and dashes, starting with a letter or digit"
        )
    return sweep_id


def _check_at_least(minimum: int, **values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            raise ValueError(f"{name} must be an integer >= {minimum}, not {value!r}")


def _bar(percent: float, width: int = 24) -> str:
    filled = round(width * percent / 100)
    return "[" + "#" * filled + "-" * (width - filled) + f"] {percent:5.1f}%"

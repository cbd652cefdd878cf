"""``JobSetRunner``: the one engine of every sweep, whatever its jobs compute.

It moves each chunk of items through submit -> wait -> fetch (``run_job``: one
task run each), at most ``max_jobs_in_flight`` chunks at a time; resubmits the
items left without a result, ``resubmit_failed`` rounds at most; takes the jobs a
rerun with the same sweep id finds instead of submitting them again; with the
cache on, first looks every chunk up in Prefect's result storage at once (a chunk
found there makes no task run); and tells its hooks of each finished job (the
progress artifact and line are one). What a job's items are and what table its
result makes is the :class:`JobKind`'s: counts of circuits (``circuit_sweep``) or
expectation values of PUBs (``estimator_sweep``).

A chunk whose batch ended under it (IBM cancels the jobs still queued in a batch
past its ``max_ttl`` and refuses new ones) is submitted again, with the same
idempotency key, in the batch its :class:`BatchRenewal` (the flow's execution mode)
opens instead, at most :data:`MAX_REOPENS` times; the cancelled job stays in the
tables, so the summary shows each job's batch.

Each chunk is one asyncio task of the flow's event loop that awaits its task
runs in turn; a semaphore keeps the bound. No polling and no threads: the loop
wakes when a task run ends. Jobs are submitted one at a time, in chunk order
(waits and fetches overlap freely): on a 1,000-circuit sweep of the embedded
default the first job started running ~0.2 s after the call instead of ~0.5 s,
when four submits encoding and decoding QPY at once shared one GIL and all
four jobs were created together.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import pandas as pd
from prefect import get_run_logger

from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.flows.job import FinishedJob, JobStageError, StoredJobKey, look_up_jobs, run_job
from prefect_ibmq.flows.jobset.chunks import Chunk, jobset_tag
from prefect_ibmq.platforms import JobPlatform
from prefect_ibmq.wire import ApiJobStatus, JobRecord

#: Times one chunk is moved to a new batch because its batch ended, before its failure is reported.
MAX_REOPENS = 3


class JobKind(Protocol):
    """What one kind of sweep adds to the runner: its items, their digests, and the table a job's result makes."""

    #: Shots of every job (0 where the program asks for a precision instead).
    shots: int

    def items(self, indices: tuple[int, ...]) -> list[Any]:
        """The items (circuits, PUBs) of these indices, as a job takes them."""
        ...

    def item_name(self, index: int) -> str:
        """What the item at ``index`` is called in tables (its circuit's name)."""
        ...

    def digests(self, item_lists: Sequence[list[Any]]) -> list[str]:
        """A digest of each job's items: the same items, the same digest (cache keys; run in a worker thread)."""
        ...

    def tabulate(self, chunk: Chunk, job: FinishedJob) -> None:
        """Add the rows of the job's result to the kind's table."""
        ...


class JobSetHook(Protocol):
    """Told when the set's jobs start and of every job as it ends, in that order (the progress artifact is one)."""

    def start(self, done: int, planned: int) -> None:
        """Jobs are about to be submitted: ``done`` of ``planned`` came from the cache (called once, if any runs)."""
        ...

    async def after_job(self, chunk: Chunk, job: FinishedJob | None, done: int, planned: int) -> None:
        """``job`` ended (None when a task run failed); ``done`` of ``planned`` jobs have ended."""
        ...


class BatchRenewal(Protocol):
    """Replaces a batch that ended under the set's jobs (``flows.sessions.ExecutionMode`` is one)."""

    #: The ``runtime`` options jobs are submitted with now (in the latest batch).
    runtime: Any

    async def reopen(self, error: JobStageError | JobRecord, used: Any) -> Any | None:
        """New ``runtime`` options for a job that failed only because its batch ended (``error``: why); else None.

        ``used``: the ``runtime`` options the failed attempt was submitted with.
        """
        ...


class Admission(Protocol):
    """Asked before each chunk is submitted whether it may be (``budget.QuantumBudget`` is one)."""

    async def admit(self, chunk: Chunk) -> bool:
        """Whether the chunk may be submitted now; one not admitted is reported as not run."""
        ...


@dataclass(frozen=True)
class JobSetOptions:
    """How every job of the set is submitted and waited on."""

    backend_name: str
    #: The sweep's job-set tag first, then the caller's tags.
    tags: list[str]
    share_level: str | None
    #: Seconds each job may take to reach a final state.
    timeout: float | None
    #: ``submit_job``'s ``runtime`` (None where the platform needs none).
    runtime: Any
    #: The ``service`` argument the task runs resolve (credentials, or None).
    service: Any
    cache: bool
    max_jobs_in_flight: int
    resubmit_failed: int


@dataclass
class JobSetOutcome:
    """What the runner did: the jobs (each once), what became of every item, and what failed."""

    records: list[JobRecord] = field(default_factory=list)
    #: job id -> experiments of it that succeeded.
    success_counts: dict[str, int] = field(default_factory=dict)
    cached_job_ids: set[str] = field(default_factory=set)
    #: item index -> (job_id, experiment, item name) of its latest attempt, when that failed.
    failures: dict[int, tuple[str, int, str]] = field(default_factory=dict)
    #: Items whose latest attempt has no successful result.
    failed_items: set[int] = field(default_factory=set)
    errors: list[str] = field(default_factory=list)
    #: job id -> what its chunk was (``Chunk.label``), for tables and pictures.
    labels: dict[str, str] = field(default_factory=dict)
    submitted: int = 0
    reused: int = 0
    #: Jobs to run: the chunks, plus resubmissions, minus the chunks the admission did not let be submitted.
    planned: int = 0
    #: job id -> the quantum seconds it used, as the platform tells (jobs of this run, not cached ones).
    quantum_seconds: dict[str, float] = field(default_factory=dict)
    #: Items of chunks the admission (the budget guard) did not let be submitted, and those chunks' labels.
    not_run: set[int] = field(default_factory=set)
    not_run_labels: list[str] = field(default_factory=list)

    def add(self, chunk: Chunk, job: FinishedJob, note: str = "") -> None:
        """Count the job (each job once: identical chunks may share a cached job); ``note`` ends its label."""
        job_id = job.record.job_id
        if job_id not in self.labels:
            self.records.append(job.record)
            self.labels[job_id] = chunk.label() + note

    def failed_experiments(self) -> pd.DataFrame:
        """The experiments whose item's latest attempt failed: job_id, experiment, circuit (by item index)."""
        rows = [self.failures[index] for index in sorted(self.failures)]
        return pd.DataFrame(rows, columns=["job_id", "experiment", "circuit"])


class JobSetRunner:
    """Runs a job set's chunks on a platform (see the module docstring)."""

    def __init__(self, sweep_id: str, platform: JobPlatform, kind: JobKind, options: JobSetOptions,
                 existing: dict[str, JobRecord], hooks: Sequence[JobSetHook] = (),
                 batches: BatchRenewal | None = None, admission: Admission | None = None) -> None:
        self.sweep_id, self.platform, self.kind, self.options = sweep_id, platform, kind, options
        self.existing, self.hooks, self.batches, self.admission = existing, list(hooks), batches, admission
        self.outcome = JobSetOutcome()
        self._slots = asyncio.Semaphore(options.max_jobs_in_flight)
        # One submit at a time, in chunk order: the first job is created (and runs) while the next are still
        # being encoded and sent, instead of all of them arriving together after every encoding shared the GIL.
        self._submitting = asyncio.Lock()
        self._done = 0
        # chunk index -> where its job's outcome is stored, for the chunks looked up in the cache and not found.
        self._stored: dict[int, StoredJobKey] = {}

    async def run(self, chunks: list[Chunk]) -> JobSetOutcome:
        """Run every chunk, and up to ``resubmit_failed`` resubmissions of the items left without a result.

        Raises:
            IBMQValueError: If a job of an earlier run under this sweep id holds another number of
                items than its chunk (the sweep id reused with other items per job): nothing is submitted.
        """
        self._check_existing(chunks)
        self.outcome.planned = len(chunks)
        pending = await self._take_cached(chunks) if self.options.cache else chunks
        self._done = len(chunks) - len(pending)
        if pending:
            for hook in self.hooks:
                hook.start(self._done, self.outcome.planned)
        async with asyncio.TaskGroup() as group:
            for chunk in pending:
                group.create_task(self._run_chunk(chunk, group))
        return self.outcome

    def _check_existing(self, chunks: list[Chunk]) -> None:
        for chunk in chunks:
            record = self.existing.get(chunk.job_name(self.sweep_id))
            if record is not None and record.num_experiments not in (0, len(chunk.circuit_indices)):
                raise IBMQValueError(
                    f"sweep_id={self.sweep_id!r} has job {record.name} of {record.num_experiments} items where this "
                    f"run plans {len(chunk.circuit_indices)}; rerun it as it was first run (the same items and "
                    "max_experiments_per_job), or give a new sweep_id."
                )

    async def _take_cached(self, chunks: list[Chunk]) -> list[Chunk]:
        """Tabulate the chunks whose jobs are in the cache; returns the others."""
        looked_up = [chunk for chunk in chunks if chunk.job_name(self.sweep_id) not in self.existing]
        item_lists = [self.kind.items(chunk.circuit_indices) for chunk in looked_up]
        digests = await anyio.to_thread.run_sync(self.kind.digests, item_lists)
        identity = await self.platform.identity()
        found = await look_up_jobs(digests, self.options.backend_name, self.kind.shots, identity)
        taken, keyed = set(), set()
        for chunk, digest, job in zip(looked_up, digests, found, strict=True):
            if job is not None:
                self._tabulate(chunk, job)
                self.outcome.cached_job_ids.add(job.record.job_id)
                taken.add(chunk.index)
            elif digest not in keyed:
                # One writer per key: two identical chunks storing under one key at once can leave a torn
                # record (Prefect's file storage writes in place) that a rerun reads as a miss. The other
                # identical chunks still run, unstored.
                keyed.add(digest)
                self._stored[chunk.index] = StoredJobKey(digest, identity)
        return [chunk for chunk in chunks if chunk.index not in taken]

    async def _run_chunk(self, chunk: Chunk, group: asyncio.TaskGroup) -> None:
        async with self._slots:
            admitted = self.admission is None or await self.admission.admit(chunk)
            if admitted:
                job, without_result = await self._attempt(chunk)
            else:
                job, without_result = None, ()
                self.outcome.not_run.update(chunk.circuit_indices)
                self.outcome.not_run_labels.append(chunk.label())
        if admitted:
            self._done += 1
        else:  # no longer planned (not done either): the progress ends at 100% of the jobs that did run
            self.outcome.planned -= 1
        if without_result and chunk.round < self.options.resubmit_failed:
            self.outcome.planned += 1
            group.create_task(self._run_chunk(chunk.retried(without_result), group))
        for hook in self.hooks:
            await hook.after_job(chunk, job, self._done, self.outcome.planned)

    async def _attempt(self, chunk: Chunk) -> tuple[FinishedJob | None, tuple[int, ...]]:
        """Submit the chunk's job (unless it exists), wait, fetch, tabulate; the job and its items left over."""
        name = chunk.job_name(self.sweep_id)
        existing = self.existing.get(name)
        options = self.options
        # Jobs submitted after a batch was replaced go to the new one (the set's options hold the first).
        runtime = options.runtime if self.batches is None else self.batches.runtime
        for reopens in range(MAX_REOPENS + 1):
            try:
                job = await run_job(
                    self.kind.items(chunk.circuit_indices), options.backend_name, self.kind.shots,
                    stored=self._stored.get(chunk.index) if chunk.round == 0 else None, existing=existing,
                    timeout=options.timeout, service=options.service, job_name=name, job_tags=options.tags,
                    share_level=options.share_level, runtime=runtime, submit_slot=self._submitting,
                    # The same key on a rerun and in a new batch too: a submit that reached the platform is not
                    # repeated (a job its expired batch cancelled unrun does not count: see the platform).
                    idempotency_key=f"sweep-{self.sweep_id}-{name}",
                )
            except JobStageError as exc:
                renewed = await self._reopen(exc, runtime, reopens)
                if renewed is not None:
                    runtime, existing = renewed, None
                    continue
                if existing is None and exc.stage in ("wait", "fetch"):
                    self.outcome.submitted += 1
                self.outcome.errors.append(f"{name}: {exc}")
                get_run_logger().error("Job %s: %s", name, exc)
                self.outcome.failed_items.update(chunk.circuit_indices)
                return None, chunk.circuit_indices
            renewed = None
            if job.record.status is ApiJobStatus.CANCELLED:
                renewed = await self._reopen(job.record, runtime, reopens)
            if renewed is None:
                break
            # Cancelled unrun with its batch: kept in the tables (its batch, why), its items go to the new batch.
            self.outcome.add(chunk, job, " (batch expired, resubmitted)")
            if existing is None:
                self.outcome.submitted += 1
            runtime, existing = renewed, None
        if job.cached:
            self.outcome.cached_job_ids.add(job.record.job_id)
        elif existing is not None:
            self.outcome.reused += 1
        else:
            self.outcome.submitted += 1
        if not job.cached:
            seconds = await self.platform.quantum_seconds(job.record)
            if seconds is not None:
                self.outcome.quantum_seconds[job.record.job_id] = seconds
        return job, self._tabulate(chunk, job)

    async def _reopen(self, error: JobStageError | JobRecord, runtime: Any, reopens: int) -> Any | None:
        """The options to submit the chunk with in a new batch, if its batch ended and it may move once more."""
        if self.batches is None or reopens >= MAX_REOPENS:
            return None
        return await self.batches.reopen(error, runtime)

    def _tabulate(self, chunk: Chunk, job: FinishedJob) -> tuple[int, ...]:
        """Record the job and its items' outcomes; returns the chunk's items without a successful result."""
        self.outcome.add(chunk, job)
        outcome, indices = self.outcome, chunk.circuit_indices
        if not job.has_result:
            outcome.failed_items.update(indices)
            return indices
        self.kind.tabulate(chunk, job)
        succeeded = job.successes
        outcome.success_counts[job.record.job_id] = sum(succeeded)
        without_result = []
        for experiment, index in enumerate(indices):
            if experiment < len(succeeded) and succeeded[experiment]:
                outcome.failures.pop(index, None)
                outcome.failed_items.discard(index)
            else:  # failed, or missing from the result (IBM keeps none of a failed job)
                outcome.failures[index] = (job.record.job_id, experiment, self.kind.item_name(index))
                outcome.failed_items.add(index)
                without_result.append(index)
        return tuple(without_result)


async def existing_jobs(platform: JobPlatform, sweep_id: str) -> dict[str, JobRecord]:
    """The sweep's jobs already on the platform, by name (the newest when a name repeats)."""
    found: dict[str, JobRecord] = {}
    for record in await platform.find_jobs(jobset_tag(sweep_id)):  # newest first: keep the first of each name
        found.setdefault(record.name or record.job_id, record)
    return found

"""One job of a flow, from circuits to its result: submit, wait, fetch (one task run each), optionally cached.

With a ``StoredJobKey`` the three task runs happen inside ``run_job_cached``, a task
whose result Prefect persists under a key made of the items' digest (the circuits'
QPY), the backend, the shots and the platform's identity (``JobPlatform.identity``:
the same in every process; not the job's name, tags or sweep id). A job whose key
was stored before is read back by :func:`look_up_jobs` (many jobs in one read of
Prefect's result storage, see :mod:`prefect_ibmq.flows.result_cache`): no job is
submitted and no task run is made. Only a job whose every experiment succeeded is
stored; any other outcome ends the cached task failed (``IncompleteJob``), so it
runs again next time.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import pickle
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
from prefect import get_run_logger
from prefect.cache_policies import NO_CACHE
from prefect.runtime import task_run as current_task_run
from prefect.utilities.annotations import quote
from qiskit import QuantumCircuit
from qiskit.result import Result

from prefect_ibmq.flows.result_cache import read_cached
from prefect_ibmq.platforms import resolve_platform
from prefect_ibmq.syncable import io_task
from prefect_ibmq.tables import counts_frame
from prefect_ibmq.tasks import API_ERROR_RETRIES, fetch_result, log_fetched, submit_job, wait_for_final_state
from prefect_ibmq.wire import (
    RAN_STATUSES,
    ApiJobStatus,
    JobRecord,
    circuits_to_qpy,
    columnar_values,
    is_columnar,
    legacy_result,
)


class FinishedJob:
    """A job that reached a final state, its result (None when nothing ran), and whether it came from the cache.

    Stored by ``run_job_cached`` in a form that is quick to read back: the result as a
    pickle of its own, unpickled only when ``result`` is read (its ~300 experiment
    objects per job are most of the cost of reading), beside what a sweep needs of
    it: which experiments succeeded and the counts table (:meth:`counts`).
    """

    def __init__(self, record: JobRecord, result: Any, cached: bool = False) -> None:
        self.record, self.cached = record, cached
        self._result, self._pickled_result = result, b""
        self._counts: pd.DataFrame | None = None
        self._successes: tuple[bool, ...] | None = None

    @property
    def result(self) -> Any:
        """The job's ``Result`` (an estimator's ``PrimitiveResult`` on IBM Quantum Platform), None when nothing ran."""
        if self._pickled_result:
            self._result, self._pickled_result = pickle.loads(self._pickled_result), b""
        if is_columnar(self._result):  # as the job service sent it: a Result only for a caller who asks
            self._result = Result.from_dict(legacy_result(self._result))
        return self._result

    def _tabulated(self) -> Any:
        """The result in the form the tables read fastest: the wire's columns when it came so, else ``result``."""
        if self._pickled_result:
            self._result, self._pickled_result = pickle.loads(self._pickled_result), b""
        return self._result if is_columnar(self._result) else self.result

    @property
    def has_result(self) -> bool:
        """Whether experiments ran, so there is a result (known without unpickling a stored one)."""
        return bool(self._pickled_result) or self._result is not None

    @property
    def successes(self) -> tuple[bool, ...]:
        """Whether each experiment succeeded (empty when nothing ran)."""
        if self._successes is None:
            self._successes = result_successes(self._tabulated())
        return self._successes

    @property
    def has_counts(self) -> bool:
        """Whether the result has counts (a ``Result``); an estimator's ``PrimitiveResult`` has values."""
        result = self._tabulated()
        return is_columnar(result) or isinstance(result, Result)

    def counts(self) -> pd.DataFrame:
        """The result's ``counts_frame`` (made once; a new copy each call, to be changed freely)."""
        if self._counts is None:
            result = self._tabulated()
            self._counts = counts_frame([result] if result is not None else [])
        return self._counts.copy()

    @property
    def complete(self) -> bool:
        """Whether the job completed and every experiment succeeded."""
        return self.record.status is ApiJobStatus.COMPLETED and self.has_result and all(self.successes)

    def from_cache(self) -> FinishedJob:
        """This job, marked as taken from the cache (nothing submitted for it)."""
        job = FinishedJob(self.record, self._result, cached=True)
        job._pickled_result, job._counts, job._successes = self._pickled_result, self._counts, self._successes
        return job

    def __reduce__(self) -> tuple[Any, ...]:
        pickled = self._pickled_result or pickle.dumps(self._result, protocol=pickle.HIGHEST_PROTOCOL)
        return _stored_job, (self.record, pickled, self._counts, self._successes, self.cached)


def _stored_job(record: JobRecord, pickled_result: bytes, counts: pd.DataFrame | None,
                successes: tuple[bool, ...] | None, cached: bool) -> FinishedJob:
    """A ``FinishedJob`` read back from its pickle (see ``FinishedJob.__reduce__``); its result still pickled."""
    job = FinishedJob(record, None, cached)
    job._pickled_result, job._counts, job._successes = pickled_result, counts, successes
    return job


class JobStageError(Exception):
    """A task run of the job failed (after its retries): ``stage`` is submit, wait or fetch; ``error`` is why."""

    def __init__(self, stage: str, error: BaseException) -> None:
        super().__init__(stage, error)
        self.stage, self.error = stage, error
        self.message = str(error) or type(error).__name__

    def __str__(self) -> str:
        return f"{self.stage} failed: {self.message}"


class IncompleteJob(Exception):
    """The cached job did not complete every experiment, so its outcome is not stored."""

    def __init__(self, job: FinishedJob) -> None:
        super().__init__(job)
        self.job = job

    def __str__(self) -> str:
        return f"job {self.job.record.job_id} ended {self.job.record.status.value} with failed experiments"


async def run_job(items: Sequence[Any], backend_name: str, shots: int, *, stored: StoredJobKey | None = None,
                  existing: JobRecord | None = None, submit_slot: asyncio.Lock | None = None,
                  **options: Any) -> FinishedJob:
    """Run one job to its result (or take ``existing``'s); with ``stored``, as a cached task that stores it.

    ``options``: ``submit_job``'s job_name, job_tags, share_level, idempotency_key, service,
    runtime, and ``timeout``/``cancel_on_timeout`` of the wait. The circuits must have been
    checked against the backend (both flows do that before any job): they are not checked again.
    ``stored``: where the job's outcome is stored, for a job the caller looked up with
    :func:`look_up_jobs` and did not find. ``submit_slot``: a lock held while the job is submitted,
    so that jobs of one set are sent one at a time (see ``JobSetRunner``).

    Raises:
        JobStageError: If a task run failed.
    """
    if stored is None or existing is not None:
        return await _submit_wait_fetch(items, backend_name, shots, existing, submit_slot=submit_slot, **options)
    state = await run_job_cached(quote(list(items)), stored.digest, backend_name, shots, stored.identity,
                                 submit_slot=quote(submit_slot), return_state=True, **options)
    outcome = await state.aresult(raise_on_failure=False)
    if isinstance(outcome, IncompleteJob):
        return outcome.job
    if isinstance(outcome, BaseException):
        raise outcome if isinstance(outcome, JobStageError) else JobStageError("run", outcome)
    if state.name == "Cached":  # stored by a run that ended after this one looked it up
        return outcome.from_cache()
    return outcome


@dataclass(frozen=True)
class StoredJobKey:
    """What a job's outcome is stored under, beside its backend and shots: its items' digest, the platform."""

    digest: str
    identity: str


async def look_up_jobs(digests: Sequence[str], backend_name: str, shots: int,
                       identity: str) -> list[FinishedJob | None]:
    """The stored job that ran the items of each digest on this backend, shots and platform (None if none).

    One worker thread reads every stored job; no task run is made. The reuse is logged once
    for all the jobs found.
    """
    keys = [job_cache_key(digest, backend_name, shots, identity) for digest in digests]
    stored = await read_cached(run_job_cached, keys)
    found = [stored.get(key) for key in keys]
    reused = list(dict.fromkeys(job.record.job_id for job in found if job is not None))
    if reused:
        get_run_logger().info(
            "Reused the results of %d jobs from the cache (same circuits, backend %s, %d shots): nothing submitted "
            "for them (%s)", len(reused), backend_name, shots, ", ".join(reused[:10]) + (", ..." if len(reused) > 10
                                                                                          else ""),
        )
    return [None if job is None else job.from_cache() for job in found]


async def _submit_wait_fetch(items: Sequence[Any], backend_name: str, shots: int,
                             existing: JobRecord | None, *, timeout: float | None = None,
                             cancel_on_timeout: bool = True, service: Any = None,
                             submit_slot: asyncio.Lock | None = None, **submit: Any) -> FinishedJob:
    stage = "submit"
    try:
        if existing is None:
            async with submit_slot or contextlib.nullcontext():
                # quote: Prefect would otherwise walk every circuit looking for futures.
                job_id = await submit_job(quote(items), backend_name, shots, service=service,
                                          circuits_checked=True, **submit)
        else:
            job_id = existing.job_id
        stage = "wait"
        record = await wait_for_final_state(job_id, timeout=timeout, cancel_on_timeout=cancel_on_timeout,
                                            service=service)
        stage = "fetch"
        result = None
        if record.status in RAN_STATUSES and record.private:
            result = await fetch_result(job_id, partial=True, service=service)
        elif record.status in RAN_STATUSES:
            result = await _fetch_again_later(job_id, partial=True, service=service, final=quote(record))
    except Exception as exc:
        raise JobStageError(stage, exc) from exc
    return FinishedJob(record, result)


@io_task(task_run_name="fetch-{job_id}", cache_policy=NO_CACHE, cache_result_in_memory=False, **API_ERROR_RETRIES)
async def _fetch_again_later(job_id: str, partial: bool = True, service: Any = None,
                             final: JobRecord | None = None) -> Any:
    """``fetch_result`` of a job the service hands its result out again (not private), in the platform's wire form.

    No copy of the result in Prefect's storage (a pickle of the whole Result and a file per
    job of the flow's time), and no ``Result`` made: the job service's columns go to the
    counts table as they came (``FinishedJob.result`` makes the ``Result`` if asked). ``final``: the
    record the wait ended with, so the job is not read once more.
    """
    result = await resolve_platform(service).result_data(job_id, partial, final)
    log_fetched(job_id, result_successes(result))
    return result


def result_successes(result: Any) -> tuple[bool, ...]:
    """Whether each experiment of a result (any form ``FinishedJob`` holds) succeeded; empty for None."""
    if result is None:
        return ()
    if is_columnar(result):
        return tuple(bool(ok) for ok in columnar_values(result, "success"))
    if hasattr(result, "results"):
        return tuple(bool(experiment.success) for experiment in result.results)
    return (True,) * len(result)  # an estimator's PrimitiveResult: every PUB result is done


def circuits_digest(circuits: Sequence[QuantumCircuit]) -> str:
    """SHA-256 of the circuits' QPY: the same circuits (names included) give the same digest."""
    return hashlib.sha256(circuits_to_qpy(circuits)).hexdigest()


def job_cache_key(digest: str, backend_name: str, shots: int, identity: str) -> str:
    """The key a job's outcome is stored under: its items (digest), backend, shots and the platform it ran on."""
    key = f"{digest}|{backend_name}|{shots}|{identity}"
    return "prefect-ibmq-job-v3-" + hashlib.sha256(key.encode()).hexdigest()[:40]


def _cache_key(context: Any, parameters: dict[str, Any]) -> str:
    return job_cache_key(parameters["digest"], parameters["backend_name"], parameters["shots"],
                         parameters["identity"])


def _cached_run_name() -> str:
    params = current_task_run.parameters
    return f"cached-job-{params.get('job_name') or params.get('digest', '')[:12]}"


@io_task(task_run_name=_cached_run_name, cache_key_fn=_cache_key, persist_result=True, cache_result_in_memory=False)
async def run_job_cached(
    circuits: list[Any],
    digest: str,
    backend_name: str,
    shots: int,
    identity: str,
    job_name: str | None = None,
    job_tags: list[str] | None = None,
    share_level: str | None = None,
    idempotency_key: str | None = None,
    timeout: float | None = None,
    cancel_on_timeout: bool = True,
    service: Any = None,
    runtime: Any = None,
    submit_slot: asyncio.Lock | None = None,
) -> FinishedJob:
    """Submit, wait and fetch one job; Prefect stores the outcome under ``_cache_key`` and reuses it.

    ``circuits``: the job's circuits (or PUBs); ``identity``: the platform's (``JobPlatform.identity``);
    ``runtime``: ``RuntimeOptions`` of a job on IBM Quantum Platform (None elsewhere); ``submit_slot``:
    see :func:`run_job`.

    Raises:
        IncompleteJob: If an experiment failed or the job did not complete (nothing is stored).
        JobStageError: If a task run failed.
    """
    job = await _submit_wait_fetch(
        circuits, backend_name, shots, None, timeout=timeout, cancel_on_timeout=cancel_on_timeout, service=service,
        job_name=job_name, job_tags=job_tags, share_level=share_level, idempotency_key=idempotency_key,
        runtime=runtime, submit_slot=submit_slot,
    )
    if not job.complete:
        raise IncompleteJob(job)
    if job.has_counts:
        job.counts()  # made here, so that it is stored with the job: a rerun that reads it back need not make it
    return job

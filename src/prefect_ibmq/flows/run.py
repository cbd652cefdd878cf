"""``run_circuits``: one job, from circuits to tables and artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio
import pandas as pd
from qiskit.result import Result

from prefect_ibmq.blocks import ServiceCredentials
from prefect_ibmq.circuits import load_circuits
from prefect_ibmq.flows.artifacts import artifact_key, failed_experiments, publish_job_table, publish_summary
from prefect_ibmq.flows.circuits_flow import circuits_flow
from prefect_ibmq.flows.job import JobStageError, StoredJobKey, circuits_digest, look_up_jobs, run_job
from prefect_ibmq.flows.sessions import check_mode, execution_mode
from prefect_ibmq.platforms import resolve_platform
from prefect_ibmq.tables import job_summary_frame, time_per_step_frame
from prefect_ibmq.wire import ApiJobStatus


@dataclass
class RunReport:
    """What ``run_circuits`` returns: the job, how it ended, and its three tables."""

    job_id: str
    status: ApiJobStatus
    timings: pd.DataFrame
    summary: pd.DataFrame
    counts: pd.DataFrame
    result: Result | None

    def __repr__(self) -> str:  # the frames' own reprs are long and slow to make
        return f"RunReport(job_id={self.job_id!r}, status={self.status.value}, count_rows={len(self.counts)})"


@circuits_flow(name="run-circuits")
async def run_circuits(
    circuits: list[Any] | str,
    backend_name: str = "aer_simulator",
    shots: int = 1024,
    job_name: str | None = None,
    job_tags: list[str] | None = None,
    timeout: float | None = None,
    cancel_on_timeout: bool = True,
    service: ServiceCredentials | None = None,
    cache_results: bool = False,
    mode: str | None = None,
) -> RunReport:
    """Submit circuits as one job, wait for its final state, read its (partial) result, tabulate.

    Publishes a per-job timing table and a markdown summary.

    Args:
        circuits: QuantumCircuits, OpenQASM 2/3 texts, or paths/globs of .qasm files.
        backend_name: The backend the job runs on.
        shots: Shots of every circuit.
        job_name: The job's name (also names its artifacts; the job id when None).
        job_tags: The job's tags.
        timeout: Seconds the job may take to reach a final state (then it is cancelled,
            unless ``cancel_on_timeout`` is False).
        cancel_on_timeout: Whether a job still running at ``timeout`` is cancelled.
        cache_results: Reuse the stored counts of a job with the same circuits (QPY digest),
            backend and shots instead of submitting (see :mod:`prefect_ibmq.flows.job`).
        service: A job service's or IBM Quantum Platform's credentials.
        mode: IBM Quantum Platform only: ``job`` (default), ``batch`` or ``session``.

    Returns:
        A ``RunReport``; its ``summary`` has a ``cached`` column.

    Raises:
        IBMQJobTimeoutError: If the job is not final within ``timeout``.
        IBMQBackendValueError, CircuitInputError: On bad input, before anything is submitted.

    Examples:
        Run a Bell pair from a flow and look at its counts:
        ```python
        from prefect import flow
        from prefect_ibmq.circuits import bell
        from prefect_ibmq.flows import run_circuits

        @flow
        def bell_counts():
            return run_circuits([bell()], shots=1024).counts
        ```
    """
    check_mode(mode)
    platform = resolve_platform(service)
    qcs = await platform.check_circuits(load_circuits(circuits), backend_name, shots)
    stored = job = None
    if cache_results:
        digest = await anyio.to_thread.run_sync(circuits_digest, qcs)
        stored = StoredJobKey(digest, await platform.identity())
        [job] = await look_up_jobs([digest], backend_name, shots, stored.identity)
    try:
        if job is None:
            async with execution_mode(platform, service, backend_name, mode) as execution:
                job = await run_job(qcs, backend_name, shots, stored=stored, job_name=job_name, job_tags=job_tags,
                                    timeout=timeout, cancel_on_timeout=cancel_on_timeout, service=service,
                                    runtime=execution.runtime)
    except JobStageError as exc:
        raise exc.error from None  # the task's own error: a timeout, a bad token, ...
    job_id, record, result = job.record.job_id, job.record, job.result
    results = [result] if result is not None else []
    summary = job_summary_frame([record], results)
    summary["cached"] = job.cached
    counts = job.counts()
    key = artifact_key("job", job_name or job_id)
    await publish_job_table(f"{key}-timings", summary)
    await publish_summary(f"{key}-summary", f"Job {job_id} on {backend_name}: {record.status.value}", summary,
                          failed_experiments(counts) if len(counts) else None)
    return RunReport(job_id, record.status, time_per_step_frame([record]), summary, counts, result)

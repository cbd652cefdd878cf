"""``run_circuits``: one job, from circuits to tables and artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
from prefect import flow
from qiskit.result import Result

from prefect_ibmq.blocks import ServiceCredentials, get_service
from prefect_ibmq.circuits import load_circuits
from prefect_ibmq.flows.artifacts import artifact_key, publish_job_table, publish_summary
from prefect_ibmq.flows.sessions import execution_mode
from prefect_ibmq.tables import counts_frame, job_summary_frame, time_per_step_frame
from prefect_ibmq.tasks import fetch_result, submit_job, wait_for_final_state
from prefect_ibmq.wire import ApiJobStatus

# Statuses whose jobs ran experiments, so a (partial) result can be read.
RAN_STATUSES = (ApiJobStatus.COMPLETED, ApiJobStatus.ERROR_RUNNING_JOB)


@dataclass
class RunReport:
    """What ``run_circuits`` returns: the job, how it ended, and its three tables."""

    job_id: str
    status: ApiJobStatus
    timings: pd.DataFrame
    summary: pd.DataFrame
    counts: pd.DataFrame
    result: Result | None


@flow(name="run-circuits")
def run_circuits(
    circuits: list[Any] | str,
    backend_name: str = "aer_simulator",
    shots: int = 1024,
    job_name: str | None = None,
    job_tags: list[str] | None = None,
    timeout: float | None = None,
    cancel_on_timeout: bool = True,
    service: ServiceCredentials | None = None,
    mode: str | None = None,
) -> RunReport:
    """Submit circuits as one job, wait for its final state, read its (partial) result, tabulate.

    ``circuits`` are QuantumCircuits, OpenQASM 2/3 texts, or paths/globs of .qasm files.
    Publishes a per-job timing table and a markdown summary. ``service`` may name IBM Quantum
    Platform; there ``mode`` may be ``batch`` or ``session`` (default ``job``).
    """
    qcs = load_circuits(circuits)
    get_service(service).backend(backend_name).validate_circuits(qcs, shots=shots)
    with execution_mode(service, backend_name, mode) as runtime:
        job_id = submit_job(qcs, backend_name, shots, job_name=job_name, job_tags=job_tags, service=service,
                            runtime=runtime)
        record = wait_for_final_state(job_id, timeout=timeout, cancel_on_timeout=cancel_on_timeout, service=service)
    result = fetch_result(job_id, partial=True, service=service) if record.status in RAN_STATUSES else None
    results = [result] if result is not None else []
    summary = job_summary_frame([record], results)
    counts = counts_frame(results)
    key = artifact_key("job", job_name or job_id)
    publish_job_table(f"{key}-timings", summary)
    publish_summary(f"{key}-summary", f"Job {job_id} on {backend_name}: {record.status.value}", summary, counts)
    return RunReport(job_id, record.status, time_per_step_frame([record]), summary, counts, result)

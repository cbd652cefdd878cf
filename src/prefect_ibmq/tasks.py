"""Prefect tasks: one task run per remote operation on a job.

Only ``IBMQJobApiError`` (a transient service or network fault) is retried, with
exponential backoff and jitter. Retrying is safe: a retried submit sends the
same idempotency key, so the service gives back the job it already made; a
retried wait or fetch reads the same job again and never submits.

Timeouts are the client's, not Prefect's ``timeout_seconds`` (which cannot
interrupt a blocking call in a worker thread): every HTTP request has connect and
read timeouts, and ``wait_for_final_state`` takes its own ``timeout``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from prefect import get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext
from prefect.events import emit_event
from prefect.runtime import task_run as current_task_run
from prefect.states import State
from prefect.tasks import exponential_backoff
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus
from qiskit.result import Result

from prefect_ibmq.blocks import IBMQServiceCredentials, get_service
from prefect_ibmq.job import IBMQJob, IBMQJobApiError, IBMQJobTimeoutError, QueueInfo
from prefect_ibmq.backend import IBMQService
from prefect_ibmq.wire import API_PREFIX, JobRecord

ServiceArg = IBMQServiceCredentials | None


def retry_on_api_error(task: Any, task_run: Any, state: State) -> bool:
    """Retry a task only when it failed with the one retryable error, IBMQJobApiError."""
    return isinstance(state.result(raise_on_failure=False), IBMQJobApiError)


_RETRYING: dict[str, Any] = dict(
    retries=4,
    retry_delay_seconds=exponential_backoff(backoff_factor=1),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_on_api_error,
)


def _job_run_name(action: str):
    def name() -> str:
        return f"{action}-{current_task_run.parameters.get('job_id')}"

    return name


def _submit_run_name() -> str:
    params = current_task_run.parameters
    return f"submit-{params.get('job_name') or params.get('backend_name')}"


def derive_idempotency_key(circuits: Sequence[QuantumCircuit], *parts: object) -> str:
    """A key that is the same on every retry of this task run and differs between runs."""
    task_run = TaskRunContext.get()
    digest = hashlib.sha256(str(task_run.task_run.id if task_run else "").encode())
    for part in parts:
        digest.update(repr(part).encode())
    for circuit in circuits:
        digest.update(f"{circuit.name}:{circuit.num_qubits}:{circuit.size()}".encode())
    return digest.hexdigest()[:32]


@task(task_run_name=_submit_run_name, cache_policy=NO_CACHE, **_RETRYING)
def submit_job(
    circuits: Sequence[QuantumCircuit],
    backend_name: str = "aer_simulator",
    shots: int = 1024,
    job_name: str | None = None,
    job_tags: list[str] | None = None,
    share_level: str | None = None,
    experiment_id: str | None = None,
    header: dict[str, Any] | None = None,
    private: bool = False,
    idempotency_key: str | None = None,
    service: ServiceArg = None,
) -> str:
    """Submit circuits as one job and return its id; a retry never makes a second job.

    A ``private`` job hands out its result once; ``fetch_result`` keeps that copy.
    """
    key = idempotency_key or derive_idempotency_key(circuits, backend_name, shots, job_name)
    resolved = get_service(service)
    backend = resolved.backend(backend_name)
    job = backend.run(
        list(circuits),
        shots=shots,
        job_name=job_name,
        job_tags=job_tags,
        share_level=share_level,
        experiment_id=experiment_id,
        header=header,
        private=private,
        idempotency_key=key,
    )
    get_run_logger().info(
        "Submitted job %s (%d circuits) to %s: %s", job.job_id(), len(circuits), backend_name, job_link(resolved, job)
    )
    return job.job_id()


@task(task_run_name=_job_run_name("wait"), cache_policy=NO_CACHE, **_RETRYING)
def wait_for_final_state(
    job_id: str,
    timeout: float | None = None,
    cancel_on_timeout: bool = True,
    service: ServiceArg = None,
) -> JobRecord:
    """Wait (by long-poll) until the job is final; log and emit an event on every change.

    When ``timeout`` passes first the job is cancelled (unless ``cancel_on_timeout``
    is False) and ``IBMQJobTimeoutError`` is raised.
    """
    logger = get_run_logger()
    job = get_service(service).job(job_id)
    reported: list[tuple[str, int | None]] = []

    def report(record: JobRecord, position: int | None) -> None:
        if reported and reported[-1] == (record.status.value, position):
            return
        reported.append((record.status.value, position))
        logger.info(
            "Job %s is %s%s", job_id, record.status.value, f" (queue position {position})" if position else ""
        )
        emit_job_event(record, position)

    def on_change(job_id: str, status: JobStatus, job: IBMQJob, queue_info: QueueInfo | None = None) -> None:
        report(job.record, queue_info.position if queue_info else None)

    # The record was read just now: report it as it is (asking status() and queue_info() again cost 2 requests).
    report(job.record, job.queue_position())
    try:
        job.wait_for_final_state(timeout=timeout, callback=on_change)
    except IBMQJobTimeoutError:
        if cancel_on_timeout and job.cancel():
            logger.warning("Job %s did not finish within %s s and was cancelled", job_id, timeout)
            report(job.record, None)
        raise
    # The job's own callback stops before the final state; report that one too.
    report(job.record, None)
    return job.record


def job_link(service: IBMQService, job: IBMQJob) -> str:
    """Where the job's record can be read (with the token) on its service."""
    return f"{service.url}{API_PREFIX}/jobs/{job.job_id()}"


def emit_job_event(record: JobRecord, queue_position: int | None = None) -> None:
    """Emit ``prefect-ibmq.job.<status>`` about resource ``prefect-ibmq.job.<id>``."""
    emit_event(
        event=f"prefect-ibmq.job.{record.status.value.lower()}",
        resource={
            "prefect.resource.id": f"prefect-ibmq.job.{record.job_id}",
            "prefect.resource.name": record.name or record.job_id,
        },
        related=[{"prefect.resource.id": f"prefect-ibmq.backend.{record.backend}", "prefect.resource.role": "backend"}],
        payload={"status": record.status.value, "queue_position": queue_position, "tags": record.tags},
    )


def _result_cache_key(context: Any, parameters: dict[str, Any]) -> str:
    return f"prefect-ibmq-result-{parameters['job_id']}-{'partial' if parameters.get('partial') else 'full'}"


# The result is persisted under a key made from the job id: a private job hands its
# result out once, so a retried or re-run fetch must read the stored copy instead.
@task(
    task_run_name=_job_run_name("fetch"),
    cache_key_fn=_result_cache_key,
    persist_result=True,
    **_RETRYING,
)
def fetch_result(job_id: str, partial: bool = True, service: ServiceArg = None) -> Result:
    """The job's result; with ``partial`` the experiments of a failed job that did run."""
    result = get_service(service).job(job_id).result(partial=partial)
    ok = sum(1 for experiment in result.results if experiment.success)
    get_run_logger().info("Fetched result of job %s: %d of %d experiments succeeded", job_id, ok, len(result.results))
    return result


@task(task_run_name=_job_run_name("status"), cache_policy=NO_CACHE, **_RETRYING)
def job_status(job_id: str, service: ServiceArg = None) -> JobStatus:
    """The job's current status."""
    return get_service(service).job(job_id).status()


@task(task_run_name=_job_run_name("cancel"), cache_policy=NO_CACHE, **_RETRYING)
def cancel_job(job_id: str, service: ServiceArg = None) -> bool:
    """Cancel the job; False when it was already final."""
    cancelled = get_service(service).job(job_id).cancel()
    get_run_logger().info("Job %s %s", job_id, "cancelled" if cancelled else "could not be cancelled")
    return cancelled


@task(task_run_name=_job_run_name("tags"), cache_policy=NO_CACHE, **_RETRYING)
def update_job_tags(
    job_id: str,
    replacement_tags: list[str] | None = None,
    additional_tags: list[str] | None = None,
    removal_tags: list[str] | None = None,
    service: ServiceArg = None,
) -> list[str]:
    """Replace, then add, then remove tags; returns the job's new tags."""
    return get_service(service).job(job_id).update_tags(replacement_tags, additional_tags, removal_tags)


@task(task_run_name=_job_run_name("rename"), cache_policy=NO_CACHE, **_RETRYING)
def update_job_name(job_id: str, name: str, service: ServiceArg = None) -> str:
    """Rename the job; returns the new name."""
    return get_service(service).job(job_id).update_name(name)

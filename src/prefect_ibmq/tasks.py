"""Prefect tasks: one task run per remote operation on a job.

Every task resolves its ``service`` argument to a :class:`~prefect_ibmq.platforms.JobPlatform`
(:func:`prefect_ibmq.platforms.resolve_platform`) and calls one of its async
methods; the tasks own what is the same on every platform (retries, idempotency
keys, run names, logs, events, the persisted result, cancelling on timeout), a
platform only its remote calls, and no task asks which platform it got.

Only ``IBMQJobApiError`` (a transient service or network fault) is retried, with
exponential backoff and jitter. Retrying is safe: a retried submit sends the
same idempotency key, so the platform gives back the job it already made; a
retried wait or fetch reads the same job again and never submits.

The tasks are async, so Prefect's ``timeout_seconds`` stops a run at once (it
ends ``TimedOut``); a wait stopped that way cancels its job unless
``cancel_on_timeout=False``, as the wait's own ``timeout`` does. Sync code (a
sync flow) still calls them for their result (see :mod:`prefect_ibmq.syncable`).
"""

from __future__ import annotations

import hashlib
import inspect
import logging
from collections.abc import Sequence
from typing import Any

import anyio
from prefect import get_run_logger
from prefect.cache_policies import NO_CACHE
from prefect.context import TaskRunContext
from prefect.events import emit_event
from prefect.runtime import task_run as current_task_run
from prefect.states import State
from prefect.tasks import exponential_backoff
from qiskit import QuantumCircuit
from qiskit.providers import JobStatus
from qiskit.result import Result

from prefect_ibmq.blocks import ServiceCredentials
from prefect_ibmq.job import IBMQJobApiError, IBMQJobTimeoutError
from prefect_ibmq.job.status import log_job_status
from prefect_ibmq.platforms import JobPlatform, resolve_platform
from prefect_ibmq.runtime.options import RuntimeOptions
from prefect_ibmq.syncable import io_task
from prefect_ibmq.wire import JobRecord

ServiceArg = ServiceCredentials | None
#: A wait logs the job's status changes at INFO once it has waited this long (before: its final status only).
QUIET_WAIT_S = 10.0


def retry_on_api_error(task: Any, task_run: Any, state: State) -> Any:
    """Retry a task only when it failed with the one retryable error, IBMQJobApiError.

    Args:
        task: The task (Prefect's ``retry_condition_fn`` signature; unused).
        task_run: The task run (unused).
        state: The failed state.

    Returns:
        Whether to retry: a bool, or for an async task an awaitable of one.
    """
    outcome = state.result(raise_on_failure=False)
    if inspect.isawaitable(outcome):  # Prefect hands out the result of an async task's state by await
        return _is_api_error(outcome)
    return isinstance(outcome, IBMQJobApiError)


async def _is_api_error(outcome: Any) -> bool:
    return isinstance(await outcome, IBMQJobApiError)


_RETRYING: dict[str, Any] = dict(
    retries=4,
    retry_delay_seconds=exponential_backoff(backoff_factor=1),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_on_api_error,
)
#: The retry options of every task here, for tasks of other modules that talk to a platform too.
API_ERROR_RETRIES: dict[str, Any] = _RETRYING


def _job_run_name(action: str):
    def name() -> str:
        return f"{action}-{current_task_run.parameters.get('job_id')}"

    return name


def _submit_run_name() -> str:
    params = current_task_run.parameters
    return f"submit-{params.get('job_name') or params.get('backend_name')}"


def derive_idempotency_key(circuits: Sequence[QuantumCircuit], *parts: object) -> str:
    """A key that is the same on every retry of this task run and differs between runs.

    Args:
        circuits: The job's circuits (or PUBs); their names and sizes go into the key.
        *parts: Further arguments that tell jobs of one task run apart (backend, shots, name).

    Returns:
        32 hex characters.
    """
    task_run = TaskRunContext.get()
    digest = hashlib.sha256(str(task_run.task_run.id if task_run else "").encode())
    for part in parts:
        digest.update(repr(part).encode())
    for item in circuits:  # a circuit, or a primitive's PUB whose first part is one
        circuit = item if isinstance(item, QuantumCircuit) else getattr(item, "circuit", None) or item[0]
        digest.update(f"{circuit.name}:{circuit.num_qubits}:{circuit.size()}".encode())
    return digest.hexdigest()[:32]


@io_task(task_run_name=_submit_run_name, cache_policy=NO_CACHE, **_RETRYING)
async def submit_job(
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
    circuits_checked: bool = False,
    runtime: RuntimeOptions | None = None,
) -> str:
    """Submit circuits as one job and return its id; a retry never makes a second job.

    Args:
        circuits: The job's circuits; each must measure and fit the backend.
        backend_name: The backend to run them on.
        shots: Shots per circuit.
        job_name: A name for the job.
        job_tags: Tags for the job.
        share_level: Who else may see it (global, hub, group, project, none).
        experiment_id: Id of the experiment the job is part of.
        header: A user header kept with the job.
        private: The job's result can be read only once; ``fetch_result`` keeps that copy.
        idempotency_key: The same key gives back the same job (default: one per task run).
        service: Credentials of the service (or of IBM Quantum Platform); None for the settings,
            else the embedded default.
        circuits_checked: The caller validated these circuits against the backend already
            (``backend.validate_circuits``), so they are not checked again.
        runtime: On IBM Quantum Platform: program (sampler, estimator or executor), optimization level,
            session; ``circuits`` may then be the program's PUBs.

    Returns:
        The job id.

    Raises:
        IBMQValueError: If an argument is invalid, or ``runtime`` is given without IBM Quantum
            Platform credentials (nothing is submitted).
        IBMQJobApiError: If the service could not be reached (the task retries).

    Examples:
        Submit a Bell circuit to the embedded job service and wait for it:
        ```python
        from prefect import flow

        from prefect_ibmq.circuits import bell
        from prefect_ibmq.tasks import submit_job, wait_for_final_state


        @flow
        def bell_flow() -> str:
            job_id = submit_job([bell()], shots=1024, job_tags=["demo"])
            return wait_for_final_state(job_id, timeout=60).status.value


        bell_flow()
        ```

        Submit to a saved job service:
        ```python
        from prefect_ibmq.blocks import IBMQServiceCredentials

        job_id = submit_job([bell()], backend_name="aer_simulator", service=IBMQServiceCredentials.load("my-service"))
        ```
    """
    key = idempotency_key or derive_idempotency_key(circuits, backend_name, shots, job_name)
    platform = resolve_platform(service)
    job_id = await platform.submit(
        circuits, backend_name, key, shots=shots, job_name=job_name, job_tags=job_tags, share_level=share_level,
        experiment_id=experiment_id, header=header, private=private, circuits_checked=circuits_checked,
        runtime=runtime,
    )
    get_run_logger().info(
        "Submitted job %s (%d circuits) to %s: %s", job_id, len(circuits), backend_name, platform.job_link(job_id)
    )
    return job_id


@io_task(task_run_name=_job_run_name("wait"), cache_policy=NO_CACHE, **_RETRYING)
async def wait_for_final_state(
    job_id: str,
    timeout: float | None = None,
    cancel_on_timeout: bool = True,
    service: ServiceArg = None,
) -> JobRecord:
    """Wait (by long-poll) until the job is final; emit an event per status and log each change.

    The final status is logged; the changes before it too once the wait has lasted
    ``QUIET_WAIT_S`` seconds (at DEBUG before that), so a sweep of short jobs logs a line per job.

    Args:
        job_id: The job to wait for.
        timeout: Seconds to wait; None waits as long as it takes.
        cancel_on_timeout: Cancel the job when the wait is stopped first: by ``timeout``
            or by the task's ``timeout_seconds``.
        service: Credentials of the service (or of IBM Quantum Platform); None for the settings,
            else the embedded default.

    Returns:
        The job's final record (a ``JobRecord``: status, times per step, tags, ...).

    Raises:
        IBMQJobTimeoutError: When ``timeout`` passes first (the job is cancelled unless
            ``cancel_on_timeout=False``).
        IBMQJobApiError: If the service could not be reached (the task retries).

    Examples:
        Wait at most a minute, then look at the job's final status:
        ```python
        from prefect import flow

        from prefect_ibmq.circuits import bell
        from prefect_ibmq.tasks import submit_job, wait_for_final_state


        @flow
        def bell_flow() -> str:
            job_id = submit_job([bell()])
            record = wait_for_final_state(job_id, timeout=60)
            return record.status.value  # "COMPLETED", "CANCELLED" or an "ERROR_..." status
        ```

        Let Prefect stop the wait instead (the job is cancelled all the same):
        ```python
        record = wait_for_final_state.with_options(timeout_seconds=60)(job_id)
        ```
    """
    logger = get_run_logger()
    platform = resolve_platform(service)
    reported: list[tuple[str, int | None]] = []
    started = anyio.current_time()

    def report(record: JobRecord, position: int | None) -> None:
        seen = (record.status.value, position)
        if reported and reported[-1] == seen:
            return
        new_status = not reported or reported[-1][0] != seen[0]
        reported.append(seen)
        # One line per job: its final status. A wait that lasts shows every change too (DEBUG before that).
        patient = record.status.is_final or anyio.current_time() - started >= QUIET_WAIT_S
        log_job_status(logger, logging.INFO if patient else logging.DEBUG, job_id, record.status.value, position)
        if new_status:
            # One event per status (a new queue position is logged, not emitted): the events are what the UI
            # and automations follow, and each costs Prefect's server work.
            emit_job_event(record, position)

    try:
        return await platform.wait(job_id, timeout, report)
    except (IBMQJobTimeoutError, anyio.get_cancelled_exc_class()):
        if cancel_on_timeout:
            # Prefect's timeout cancels this task: the cancel request must still go out.
            with anyio.CancelScope(shield=True):
                await _cancel_stopped_wait(platform, job_id, timeout, report)
        raise


async def _cancel_stopped_wait(platform: JobPlatform, job_id: str, timeout: float | None, report: Any) -> None:
    logger = get_run_logger()
    try:
        cancelled = await platform.cancel(job_id)
        if cancelled:
            report(await platform.record(job_id), None)
    except IBMQJobApiError as exc:
        logger.warning("Job %s: the wait was stopped, but cancelling the job failed: %s", job_id, exc)
        return
    if cancelled:
        reason = f"within {timeout} s" if timeout is not None else "before the task's timeout"
        logger.warning("Job %s did not finish %s and was cancelled", job_id, reason)


def emit_job_event(record: JobRecord, queue_position: int | None = None) -> None:
    """Emit ``prefect-ibmq.job.<status>`` about resource ``prefect-ibmq.job.<id>``.

    Args:
        record: The job's record; its status names the event.
        queue_position: The job's place in its backend's queue, when it waits there.
    """
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
# Prefect need not also keep each result in memory: a 100,000-circuit sweep would hold them all.
@io_task(
    task_run_name=_job_run_name("fetch"),
    cache_key_fn=_result_cache_key,
    persist_result=True,
    cache_result_in_memory=False,
    **_RETRYING,
)
async def fetch_result(job_id: str, partial: bool = True, service: ServiceArg = None) -> Result:
    """The final job's result; with ``partial`` the experiments of a failed job that did run.

    The result is persisted under a key made from the job id, so a retried or re-run fetch
    reads the stored copy (a private job hands its result out only once).

    Args:
        job_id: The job, final already (wait for it first).
        partial: Return the experiments that ran of a failed job instead of raising.
        service: Credentials of the service (or of IBM Quantum Platform); None for the settings,
            else the embedded default.

    Returns:
        The job's ``Result`` (an estimator's ``PrimitiveResult`` on IBM Quantum Platform).

    Raises:
        IBMQJobInvalidStateError: If the job was cancelled or is not final.
        IBMQJobFailureError: If the job failed (and ``partial`` is False, or nothing ran).
        IBMQJobApiError: If the service could not be reached (the task retries).

    Examples:
        Counts of a Bell circuit:
        ```python
        from prefect import flow

        from prefect_ibmq.circuits import bell
        from prefect_ibmq.tasks import fetch_result, submit_job, wait_for_final_state


        @flow
        def bell_counts() -> dict[str, int]:
            job_id = submit_job([bell()], shots=1000)
            wait_for_final_state(job_id)
            return fetch_result(job_id).get_counts()
        ```
    """
    result = await resolve_platform(service).result(job_id, partial)
    # A Result has experiments; an estimator's PrimitiveResult (IBM Quantum Platform) has PUB results, all done.
    log_fetched(job_id, [e.success for e in result.results] if hasattr(result, "results") else [True] * len(result))
    return result


def log_fetched(job_id: str, outcomes: Sequence[bool]) -> None:
    """Log a fetched result's line: how many of its experiments succeeded."""
    get_run_logger().info("Fetched result of job %s: %d of %d experiments succeeded",
                          job_id, sum(outcomes), len(outcomes))


@io_task(task_run_name=_job_run_name("status"), cache_policy=NO_CACHE, **_RETRYING)
async def job_status(job_id: str, service: ServiceArg = None) -> JobStatus:
    """The job's current status.

    Args:
        job_id: The job.
        service: Credentials of the service (or of IBM Quantum Platform); None for the settings,
            else the embedded default.

    Returns:
        Its ``qiskit.providers.JobStatus``.

    Raises:
        IBMQJobApiError: If the service could not be reached (the task retries).

    Examples:
        ```python
        from qiskit.providers import JobStatus

        if job_status(job_id) is JobStatus.QUEUED:  # inside a flow
            ...
        ```
    """
    return await resolve_platform(service).status(job_id)


@io_task(task_run_name=_job_run_name("cancel"), cache_policy=NO_CACHE, **_RETRYING)
async def cancel_job(job_id: str, service: ServiceArg = None) -> bool:
    """Cancel the job.

    Args:
        job_id: The job.
        service: Credentials of the service (or of IBM Quantum Platform); None for the settings,
            else the embedded default.

    Returns:
        True when it was cancelled; False when it was final already.

    Raises:
        IBMQJobApiError: If the service could not be reached (the task retries).

    Examples:
        ```python
        if not cancel_job(job_id):  # inside a flow
            print("the job had finished already")
        ```
    """
    cancelled = await resolve_platform(service).cancel(job_id)
    get_run_logger().info("Job %s %s", job_id, "cancelled" if cancelled else "could not be cancelled")
    return cancelled


@io_task(task_run_name=_job_run_name("tags"), cache_policy=NO_CACHE, **_RETRYING)
async def update_job_tags(
    job_id: str,
    replacement_tags: list[str] | None = None,
    additional_tags: list[str] | None = None,
    removal_tags: list[str] | None = None,
    service: ServiceArg = None,
) -> list[str]:
    """Replace, then add, then remove the job's tags.

    Args:
        job_id: The job.
        replacement_tags: Tags that replace the job's own (its job-set tags are kept); None keeps them.
        additional_tags: Tags to add.
        removal_tags: Tags to remove.
        service: Credentials of the service (or of IBM Quantum Platform); None for the settings,
            else the embedded default.

    Returns:
        The job's new tags.

    Raises:
        IBMQJobInvalidStateError: If no list is given, a tag is not a string, or a list names
            a job-set tag (``ibmq_jobset...``); nothing is changed.
        IBMQJobApiError: If the service could not be reached (the task retries).

    Examples:
        ```python
        tags = update_job_tags(job_id, additional_tags=["checked"], removal_tags=["draft"])  # inside a flow
        ```
    """
    return await resolve_platform(service).update_tags(job_id, replacement_tags, additional_tags, removal_tags)


@io_task(task_run_name=_job_run_name("rename"), cache_policy=NO_CACHE, **_RETRYING)
async def update_job_name(job_id: str, name: str, service: ServiceArg = None) -> str:
    """Rename the job.

    Args:
        job_id: The job.
        name: Its new name.
        service: Credentials of the service (or of IBM Quantum Platform); None for the settings,
            else the embedded default.

    Returns:
        The job's new name.

    Raises:
        IBMQJobInvalidStateError: If ``name`` is not a string (nothing is changed).
        IBMQJobApiError: If the service could not be reached (the task retries).

    Examples:
        ```python
        update_job_name(job_id, "bell-2026-11-25")  # inside a flow
        ```
    """
    return await resolve_platform(service).update_name(job_id, name)

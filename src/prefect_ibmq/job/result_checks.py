"""Whether a final job has a result to read, and what the service's "no result" means."""

from __future__ import annotations

from qiskit.providers import JobStatus

from prefect_ibmq.exceptions import IBMQJobFailureError, IBMQJobInvalidStateError
from prefect_ibmq.job.status import api_status_to_job_status
from prefect_ibmq.wire import ApiJobStatus, JobRecord


def check_result_readable(record: JobRecord, partial: bool) -> None:
    """Raise when a final job has no result to read (cancelled; failed, unless ``partial``)."""
    if record.status is ApiJobStatus.CANCELLED:
        raise IBMQJobInvalidStateError(f"Job {record.job_id} was cancelled, so it has no result.", job_id=record.job_id)
    if api_status_to_job_status(record.status) is JobStatus.ERROR and not partial:
        raise IBMQJobFailureError(
            f"Job {record.job_id} failed ({record.status.value}). Use job.error_message() for details, "
            "or job.result(partial=True) for the experiments that ran.",
            job_id=record.job_id,
        )


def result_unavailable_error(record: JobRecord, error: IBMQJobInvalidStateError) -> Exception:
    """What the service's "no result" means: a job that failed before running has not even a partial one."""
    if api_status_to_job_status(record.status) is not JobStatus.ERROR:
        return error
    return IBMQJobFailureError(
        f"Job {record.job_id} failed before running any experiment ({record.status.value}), "
        "so it has no result. Use job.error_message() for details.",
        code=error.code, status_code=error.status_code, job_id=record.job_id,
    )


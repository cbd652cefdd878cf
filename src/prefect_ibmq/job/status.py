"""Job statuses: the service's ``ApiJobStatus`` and how each maps to qiskit's ``JobStatus``."""

from __future__ import annotations

from typing import Any

from qiskit.providers import JobStatus

from prefect_ibmq.wire import ApiJobStatus

#: The legacy provider's mapping: several service steps show as one qiskit status.
API_TO_JOB_STATUS: dict[ApiJobStatus, JobStatus] = {
    ApiJobStatus.CREATING: JobStatus.INITIALIZING,
    ApiJobStatus.CREATED: JobStatus.INITIALIZING,
    ApiJobStatus.VALIDATING: JobStatus.VALIDATING,
    ApiJobStatus.VALIDATED: JobStatus.VALIDATING,
    ApiJobStatus.QUEUED: JobStatus.QUEUED,
    ApiJobStatus.RUNNING: JobStatus.RUNNING,
    ApiJobStatus.COMPLETED: JobStatus.DONE,
    ApiJobStatus.CANCELLED: JobStatus.CANCELLED,
    ApiJobStatus.ERROR_CREATING_JOB: JobStatus.ERROR,
    ApiJobStatus.ERROR_VALIDATING_JOB: JobStatus.ERROR,
    ApiJobStatus.ERROR_RUNNING_JOB: JobStatus.ERROR,
}


def api_status_to_job_status(status: ApiJobStatus | str) -> JobStatus:
    """The qiskit ``JobStatus`` of a service status (an ``ApiJobStatus`` or its value)."""
    return API_TO_JOB_STATUS[ApiJobStatus(status)]


def job_status_to_api_statuses(status: JobStatus) -> list[ApiJobStatus]:
    """Every service status that shows as ``status`` (e.g. ERROR -> the three ERROR_* steps)."""
    return [api for api, job in API_TO_JOB_STATUS.items() if job is status]


def log_job_status(logger: Any, level: int, job_id: str, status: str, queue_position: int | None = None) -> None:
    """Log the one line every wait writes for a job's status: ``Job <id> is <status> (queue position n)``."""
    logger.log(level, "Job %s is %s%s", job_id, status, f" (queue position {queue_position})" if queue_position else "")

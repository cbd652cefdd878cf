"""Jobs on the job service: ``IBMQJob``, ``QueueInfo``, statuses and exceptions."""

from prefect_ibmq.exceptions import (
    IBMQError,
    IBMQJobAccessError,
    IBMQJobApiError,
    IBMQJobError,
    IBMQJobFailureError,
    IBMQJobInvalidStateError,
    IBMQJobNotFoundError,
    IBMQJobResultConsumedError,
    IBMQJobTimeoutError,
    IBMQValueError,
)
from prefect_ibmq.job.ibmqjob import IBMQJob
from prefect_ibmq.job.queueinfo import QueueInfo
from prefect_ibmq.job.status import API_TO_JOB_STATUS, ApiJobStatus, api_status_to_job_status

__all__ = [
    "API_TO_JOB_STATUS",
    "ApiJobStatus",
    "IBMQError",
    "IBMQJob",
    "IBMQJobAccessError",
    "IBMQJobApiError",
    "IBMQJobError",
    "IBMQJobFailureError",
    "IBMQJobInvalidStateError",
    "IBMQJobNotFoundError",
    "IBMQJobResultConsumedError",
    "IBMQJobTimeoutError",
    "IBMQValueError",
    "QueueInfo",
    "api_status_to_job_status",
]

"""prefect-ibmq: quantum jobs as first-class Prefect work.

The names here are the client's (no Prefect import): ``IBMQService`` is the
entry point; Prefect tasks and flows live in ``prefect_ibmq.tasks`` and
``prefect_ibmq.flows``.
"""

from prefect_ibmq.backend import IBMQBackend, IBMQService
from prefect_ibmq.exceptions import (
    IBMQJobApiError,
    IBMQJobError,
    IBMQJobFailureError,
    IBMQJobInvalidStateError,
    IBMQJobTimeoutError,
)
from prefect_ibmq.job import ApiJobStatus, IBMQJob, QueueInfo

__all__ = [
    "ApiJobStatus",
    "IBMQBackend",
    "IBMQJob",
    "IBMQJobApiError",
    "IBMQJobError",
    "IBMQJobFailureError",
    "IBMQJobInvalidStateError",
    "IBMQJobTimeoutError",
    "IBMQService",
    "QueueInfo",
]

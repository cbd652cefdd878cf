"""prefect-ibmq: quantum jobs as first-class Prefect work.

The names here are the client's (no Prefect import): ``IBMQService`` is the
entry point; Prefect tasks and flows live in ``prefect_ibmq.tasks`` and
``prefect_ibmq.flows``. The blocks are named here too but imported only when
asked for, so ``prefect block register -m prefect_ibmq`` finds them while a plain
``import prefect_ibmq`` stays free of Prefect.
"""

from typing import Any

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

_BLOCKS = ("IBMQJobBlock", "IBMQServiceCredentials", "IBMQuantumPlatformCredentials")


def __getattr__(name: str) -> Any:
    if name in _BLOCKS:
        from prefect_ibmq import blocks

        return getattr(blocks, name)
    raise AttributeError(f"module 'prefect_ibmq' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_BLOCKS])

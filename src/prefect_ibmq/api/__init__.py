"""HTTP access to the job service: ``AccountClient`` and its retry policy."""

from prefect_ibmq.api.client import AccountClient
from prefect_ibmq.api.retry import RetryPolicy

__all__ = ["AccountClient", "RetryPolicy"]

"""HTTP access to the job service: ``AccountClient`` (sync), ``AsyncAccountClient`` and their retry policy."""

from prefect_ibmq.api.async_client import AsyncAccountClient
from prefect_ibmq.api.client import AccountClient
from prefect_ibmq.api.retry import RetryPolicy

__all__ = ["AccountClient", "AsyncAccountClient", "RetryPolicy"]

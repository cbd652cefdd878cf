"""Settings read from the environment (``PREFECT_IBMQ_*``).

They pick the job service when a task or flow is given no credentials block:
``PREFECT_IBMQ_URL`` and ``PREFECT_IBMQ_TOKEN`` name a running service, else the
embedded default runs (``IBMQService.local()``, whose data folder is
``PREFECT_IBMQ_DATA_DIR``, default ``~/.prefect-ibmq``).
"""

from __future__ import annotations

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class IBMQSettings(BaseSettings):
    """Where the job service is; the token is a ``SecretStr`` so it never prints."""

    model_config = SettingsConfigDict(env_prefix="PREFECT_IBMQ_", extra="ignore")

    url: str | None = None
    token: SecretStr | None = None

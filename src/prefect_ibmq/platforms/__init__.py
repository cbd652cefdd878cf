"""Where jobs run: one :class:`JobPlatform` protocol, used by the tasks and the flows alike.

``resolve_platform(service)`` maps a task's or flow's ``service`` argument to its
platform: a credentials block hands out its own (``block.platform()``), an
``IBMQService`` is a job service, and None means the ``PREFECT_IBMQ_URL`` /
``PREFECT_IBMQ_TOKEN`` settings, else the embedded default. A new platform is a
module here with a class that implements ``JobPlatform``, and a credentials block
whose ``platform()`` returns it; nothing else names it.
"""

from __future__ import annotations

import os
from typing import Any

from prefect_ibmq.backend import IBMQService
from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.platforms.base import MODES, BackendLimits, JobPlatform, PlatformSource, Report
from prefect_ibmq.platforms.jobservice import JobServicePlatform, job_service_platform, shared_client
from prefect_ibmq.settings import IBMQSettings

_settings_clients: dict[tuple[str | None, ...], IBMQService] = {}


def settings_client() -> IBMQService:
    """The job service of the ``PREFECT_IBMQ_URL``/``PREFECT_IBMQ_TOKEN`` settings, else the embedded default.

    Returns:
        This process's one ``IBMQService`` for it (see ``shared_client``).
    """
    values = tuple(os.environ.get(f"PREFECT_IBMQ_{name}") for name in ("URL", "TOKEN", "DATA_DIR"))
    known = _settings_clients.get(values)
    if known is None:  # the settings' model is read once per value (every task of every job asks)
        settings = IBMQSettings()
        known = _settings_clients[values] = shared_client(
            settings.url, settings.token.get_secret_value() if settings.token else None)
    return known


def resolve_platform(service: Any = None) -> JobPlatform:
    """The platform a task's or flow's ``service`` argument names.

    Args:
        service: A credentials block (its ``platform()``), an ``IBMQService`` (a job service),
            or None: the service of the ``PREFECT_IBMQ_URL``/``PREFECT_IBMQ_TOKEN`` settings,
            else the embedded default.

    Returns:
        The ``JobPlatform`` the tasks and flows call (one per service in a process).

    Raises:
        IBMQValueError: If ``service`` is none of these.
    """
    if isinstance(service, PlatformSource):
        return service.platform()
    if isinstance(service, IBMQService):
        return job_service_platform(service)
    if service is None:
        return job_service_platform(settings_client())
    # The type, not the value: a token passed here by mistake must not reach a log.
    raise IBMQValueError(
        f"service is a {type(service).__name__}, not a service: give an IBMQServiceCredentials or "
        "IBMQuantumPlatformCredentials block, an IBMQService, or None for the settings."
    )


__all__ = [
    "MODES", "BackendLimits", "JobPlatform", "JobServicePlatform", "PlatformSource", "Report",
    "job_service_platform", "resolve_platform", "settings_client", "shared_client",
]

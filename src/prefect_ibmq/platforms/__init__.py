"""Platforms the tasks run jobs on, chosen by the tasks' ``service`` argument.

``resolve_platform(service)`` maps the argument to a :class:`JobPlatform`. A new
platform is a new module here with a class that implements ``JobPlatform``,
plus one line in ``_PLATFORMS`` mapping its credentials block to that class.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from prefect_ibmq.blocks import IBMQuantumPlatformCredentials, get_service
from prefect_ibmq.platforms.base import JobPlatform, Report
from prefect_ibmq.platforms.jobservice import JobServicePlatform
from prefect_ibmq.platforms.runtime import RuntimeJobPlatform

if TYPE_CHECKING:
    from prefect_ibmq.backend import IBMQService

#: (type of the ``service`` argument, how to make its platform); the first match wins.
_PLATFORMS: list[tuple[type, Callable[[Any], JobPlatform]]] = [
    (IBMQuantumPlatformCredentials, RuntimeJobPlatform),
]


def resolve_platform(service: Any = None) -> JobPlatform:
    """The platform a task's ``service`` argument names.

    An ``IBMQuantumPlatformCredentials`` block is IBM Quantum Platform; anything else (a job
    service block, an ``IBMQService``, or None for the settings/embedded default) is a
    prefect-ibmq job service.
    """
    for kind, make in _PLATFORMS:
        if isinstance(service, kind):
            return make(service)
    # IBMQuantumPlatformCredentials, the one block that resolves to a RuntimePlatform, was matched above.
    return JobServicePlatform(cast("IBMQService", get_service(service)))


__all__ = ["JobPlatform", "JobServicePlatform", "Report", "RuntimeJobPlatform", "resolve_platform"]

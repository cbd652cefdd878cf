"""Which service a task's or flow's ``service`` argument means, and one client per service per process.

``resolve_service(service)`` turns the argument every task and flow takes (a
credentials block, an ``IBMQService``, or None) into the client to call.
``shared_service(url, token, data_dir)`` hands out the one ``IBMQService`` this
process keeps for a job service: each client holds an HTTP connection pool and
caches backends, and the embedded default starts a server, so it is made once.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, overload

from prefect.blocks.abstract import CredentialsBlock

from prefect_ibmq.backend import IBMQService
from prefect_ibmq.backend.local import resolve_data_dir
from prefect_ibmq.settings import IBMQSettings

if TYPE_CHECKING:
    from prefect_ibmq.blocks import IBMQServiceCredentials, IBMQuantumPlatformCredentials, ServiceCredentials
    from prefect_ibmq.runtime.platform import RuntimePlatform

_shared: dict[tuple[str | None, str | None, str | None], IBMQService] = {}
_shared_lock = threading.Lock()


@overload
def resolve_service(service: IBMQuantumPlatformCredentials) -> RuntimePlatform: ...
@overload
def resolve_service(service: IBMQServiceCredentials | IBMQService | None = None) -> IBMQService: ...
@overload
def resolve_service(service: ServiceCredentials | IBMQService | None) -> IBMQService | RuntimePlatform: ...
def resolve_service(service: ServiceCredentials | IBMQService | None = None) -> IBMQService | RuntimePlatform:
    """The client a task's ``service`` argument names.

    Args:
        service: A credentials block (its ``get_client()``), an ``IBMQService`` (used as it is),
            or None: the service of the ``PREFECT_IBMQ_URL``/``PREFECT_IBMQ_TOKEN`` settings,
            else the embedded default.

    Returns:
        An ``IBMQService`` for a prefect-ibmq job service, or a ``RuntimePlatform``
        for IBM Quantum Platform credentials.

    Raises:
        TypeError: If ``service`` is none of these.
    """
    if isinstance(service, IBMQService):
        return service
    if isinstance(service, CredentialsBlock):
        return service.get_client()
    if service is None:
        settings = IBMQSettings()
        return shared_service(settings.url, settings.token.get_secret_value() if settings.token else None)
    # The type, not the value: a token passed here by mistake must not reach a log.
    raise TypeError(
        f"service is a {type(service).__name__}, not a service: pass an IBMQServiceCredentials or "
        "IBMQuantumPlatformCredentials block, an IBMQService, or None for the settings"
    )


def shared_service(url: str | None, token: str | None, data_dir: str | None = None) -> IBMQService:
    """This process's client of the job service at ``url`` (the embedded default when ``url`` is empty).

    Args:
        url: The job service's URL; None or empty for the embedded default.
        token: The bearer token to use there.
        data_dir: The embedded default's data folder (None: ``PREFECT_IBMQ_DATA_DIR`` or its default).

    Returns:
        The same ``IBMQService`` for the same service and token, however often asked.
    """
    # A remote service is known by its URL alone; the embedded default by its data folder, however it was named.
    data_dir = None if url else str(resolve_data_dir(data_dir))
    key = (url, token, data_dir)
    with _shared_lock:
        if key not in _shared:
            if url:
                _shared[key] = IBMQService(url=url, token=token or "")
            else:
                _shared[key] = IBMQService.local(data_dir=data_dir)
        return _shared[key]

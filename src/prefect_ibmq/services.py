"""Deprecated: the names this module had now live in :mod:`prefect_ibmq.platforms`.

``resolve_service(service)`` became ``resolve_platform(service)`` (a ``JobPlatform``,
whatever the platform) and ``block.get_client()`` (the platform's own client);
``shared_service`` became ``platforms.shared_client``. Both old names still work
and warn once per call site.
"""

from __future__ import annotations

import warnings
from typing import Any

from prefect.blocks.abstract import CredentialsBlock

from prefect_ibmq.backend import IBMQService
from prefect_ibmq.platforms import resolve_platform, settings_client, shared_client


def resolve_service(service: Any = None) -> Any:
    """Deprecated: the client a ``service`` argument names; use ``resolve_platform`` or ``block.get_client()``.

    Args:
        service: A credentials block, an ``IBMQService``, or None for the settings/embedded default.

    Returns:
        The block's ``get_client()``; an ``IBMQService`` as it is; for None the settings' service.
    """
    warnings.warn("prefect_ibmq.services.resolve_service is deprecated: use prefect_ibmq.platforms."
                  "resolve_platform (or the block's get_client())", DeprecationWarning, stacklevel=2)
    if isinstance(service, IBMQService):
        return service
    if isinstance(service, CredentialsBlock):
        return service.get_client()
    if service is not None:
        resolve_platform(service)  # raises IBMQValueError naming what is accepted
    return settings_client()


def shared_service(url: str | None, token: str | None, data_dir: str | None = None) -> IBMQService:
    """Deprecated: ``prefect_ibmq.platforms.shared_client`` (same arguments, same client).

    Args:
        url: The job service's URL; None or empty for the embedded default.
        token: The bearer token to use there.
        data_dir: The embedded default's data folder.

    Returns:
        This process's one ``IBMQService`` for that service and token.
    """
    warnings.warn("prefect_ibmq.services.shared_service is deprecated: use prefect_ibmq.platforms.shared_client",
                  DeprecationWarning, stacklevel=2)
    return shared_client(url, token, data_dir)

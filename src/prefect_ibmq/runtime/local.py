"""The stock ``QiskitRuntimeService`` for a running prefect-ibmq job service: a local IBM Quantum for dry runs.

The client finds IBM Cloud's IAM, Global Search, Global Catalog and Resource
Controller through environment variables (``IAM_URL``, ``GLOBAL_SEARCH_URL``,
``GLOBAL_CATALOG_URL``, ``RESOURCE_CONTROLLER_URL``; ``IBM_CREDENTIALS_FILE=/dev/null``
keeps an ``ibm-credentials.env`` file from overriding them), and the runtime API's
regional host through its ``url_resolver``. :func:`local_runtime_service` sets them **only while the service
is built**, under a lock, and restores them after: the client reads them once,
there (the IAM token manager keeps its URL and refreshes against it), so a real
``QiskitRuntimeService`` built later in the same process still reaches IBM Cloud.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from os import PathLike
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from qiskit_ibm_runtime import QiskitRuntimeService

from prefect_ibmq.api.errors import CHECK_TOKEN
from prefect_ibmq.exceptions import IBMQJobAccessError
from prefect_ibmq.server.runtime.app import RUNTIME_PREFIX
from prefect_ibmq.server.runtime.discovery import CATALOG_PREFIX

_ENV_LOCK = threading.Lock()


def local_environment(url: str) -> dict[str, str]:
    """The environment that points the client's IBM Cloud calls at the service at ``url``."""
    base = url.rstrip("/")
    return {
        "IAM_URL": base,
        "GLOBAL_SEARCH_URL": base,
        "GLOBAL_CATALOG_URL": base + CATALOG_PREFIX,
        # The SDK's ResourceControllerV2 adds /v2/resource_instances itself.
        "RESOURCE_CONTROLLER_URL": base,
        "IBM_CREDENTIALS_FILE": os.devnull,
    }


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    with _ENV_LOCK:
        saved = {name: os.environ.get(name) for name in values}
        os.environ.update(values)
        try:
            yield
        finally:
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value


def local_url_resolver(url: str, instance: Any, private: Any = False, channel: Any = None) -> str:
    """The client's ``url_resolver``: the runtime API is at ``<base>/api/v1`` whatever the instance's region.

    (IBM's resolver derives ``https://[<region>.]quantum.<host>/api/v1`` from the CRN's location.)
    """
    return url.rstrip("/") + RUNTIME_PREFIX


def local_instance(url: str, token: str, timeout: float = 10.0) -> str:
    """The instance CRN of ``token`` on the service at ``url`` (asked of its IAM and Global Search).

    Raises:
        IBMQJobAccessError: the service does not know the token (it is never shown).
    """
    import requests

    base = url.rstrip("/")
    grant = {"grant_type": "urn:ibm:params:oauth:grant-type:apikey", "apikey": token}
    answer = requests.post(f"{base}/identity/token", data=grant, timeout=timeout)
    if answer.status_code in (400, 401):
        raise IBMQJobAccessError(f"The job service at {base} does not know this token. {CHECK_TOKEN}")
    answer.raise_for_status()
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    search = requests.post(
        f"{base}/v3/resources/search",
        json={"query": "service_name:quantum-computing"},
        headers=headers,
        timeout=timeout,
    )
    search.raise_for_status()
    return search.json()["items"][0]["crn"]


def local_runtime_service(url: str, token: str, instance: str | None = None, **options: Any) -> QiskitRuntimeService:
    """A ``QiskitRuntimeService`` talking to the prefect-ibmq job service at ``url``.

    Args:
        url: The service's base URL (``JobServer.url``, ``IBMQService.local().url``).
        token: One of the service's tokens (the client's API key).
        instance: What the client is given as its ``instance``: the token's instance CRN
            (``prefect-ibmq server`` prints each project's), its name, or ``"auto"`` (the
            client picks among the token's instances by ``region``, plans and tags). By
            default the CRN is asked of the service (:func:`local_instance`).
        **options: Further ``QiskitRuntimeService`` arguments, e.g. ``region="us-east"``,
            ``plans_preference``, ``tags``.

    Returns:
        The stock client, ready for the executor-based ``Sampler`` / ``Estimator`` (and
        ``SamplerV2`` / ``EstimatorV2``) in job, batch or session mode.

    Raises:
        ImportError: qiskit-ibm-runtime is not installed (``pip install 'prefect-ibmq[runtime]'``).
        IBMQJobAccessError: the service does not know the token.

    Examples:
        >>> service = local_runtime_service(server.url, token)  # doctest: +SKIP
        >>> Sampler(mode=service.backend("aer_simulator")).run([isa_bell]).result()  # doctest: +SKIP
        >>> local_runtime_service(server.url, token, instance="auto", region="us-east")  # doctest: +SKIP
    """
    from qiskit_ibm_runtime import QiskitRuntimeService

    if instance is None:
        instance = local_instance(url, token)
    with _environment(local_environment(url)):
        return QiskitRuntimeService(
            channel="ibm_quantum_platform",
            token=token,
            instance=instance,
            url=url.rstrip("/"),
            url_resolver=local_url_resolver,
            **options,
        )


@contextmanager
def embedded_runtime_service(data_dir: str | PathLike[str] | None = None) -> Iterator[QiskitRuntimeService]:
    """The embedded default's job service (the one ``IBMQService.local()`` uses) through the stock client.

    Connects to the service of ``data_dir`` (default ``$PREFECT_IBMQ_DATA_DIR``, else
    ``~/.prefect-ibmq``) or starts it in this process, and keeps it running until the
    ``with`` block ends.

    Args:
        data_dir: The service's data folder, as for ``IBMQService.local``.

    Yields:
        A ``QiskitRuntimeService`` for the service's local token and instance.

    Examples:
        >>> with embedded_runtime_service() as service:  # doctest: +SKIP
        ...     job = SamplerV2(mode=service.backend("aer_simulator")).run([isa_bell])
    """
    from prefect_ibmq.backend.local import acquire_local_server

    lease = acquire_local_server(data_dir)
    try:
        yield local_runtime_service(lease.url, lease.token)
    finally:
        lease.release()

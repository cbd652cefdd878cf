"""Building the stock ``QiskitRuntimeService`` for an account, once per process and account.

Two ways to reach IBM Quantum Platform (the block's ``url_resolver``):

- ``ibm-cloud``: IBM's own service (``url`` None for the default region, or an
  IBM Cloud URL), resolved by the client as usual;
- ``prefect-ibmq``: a prefect-ibmq job service at ``url`` that serves the Qiskit
  Runtime API itself ("a local IBM Quantum for dry runs"), reached through
  ``runtime.local.local_runtime_service``.
"""

from __future__ import annotations

import threading
from typing import Any

from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.runtime.errors import retrying

URL_RESOLVERS = ("ibm-cloud", "prefect-ibmq")
#: Connecting has no side effect, but takes ~6 requests that the IBM Cloud SDK does not retry
#: (IAM, Global Search, Global Catalog): it is tried more often than a single read.
CONNECT_ATTEMPTS = 20

_services: dict[tuple[str | None, str, str | None, str], Any] = {}
_lock = threading.Lock()


def runtime_service(token: str, instance: str | None, url: str | None = None, url_resolver: str = "ibm-cloud") -> Any:
    """This process's ``QiskitRuntimeService`` for the account (building one costs several requests).

    ``instance`` may be None on a prefect-ibmq service: it tells the token's own.

    Raises:
        IBMQValueError: An unknown ``url_resolver``, or ``prefect-ibmq`` without a ``url``.
        IBMQJobApiError: The service could not be reached (worth retrying).
    """
    if url_resolver not in URL_RESOLVERS:
        raise IBMQValueError(f"url_resolver={url_resolver!r} is not accepted; give one of {list(URL_RESOLVERS)}.")
    if url_resolver == "prefect-ibmq" and not url:
        raise IBMQValueError("url_resolver='prefect-ibmq' needs the url of a prefect-ibmq job service.")
    key = (url, token, instance, url_resolver)
    with _lock:
        if key not in _services:
            _services[key] = retrying("connecting to IBM Quantum Platform",
                                      lambda: _build(token, instance, url, url_resolver), attempts=CONNECT_ATTEMPTS)
        return _services[key]


def _build(token: str, instance: str | None, url: str | None, url_resolver: str) -> Any:
    if url_resolver == "prefect-ibmq" and url:  # runtime_service refused prefect-ibmq without a url
        from prefect_ibmq.runtime.local import local_runtime_service

        return local_runtime_service(url, token, instance)
    from qiskit_ibm_runtime import QiskitRuntimeService

    options: dict[str, Any] = {"url": url} if url else {}
    return QiskitRuntimeService(channel="ibm_quantum_platform", token=token, instance=instance, **options)

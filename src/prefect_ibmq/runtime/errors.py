"""Errors of the ``qiskit-ibm-runtime`` client translated to this project's typed exceptions.

The runtime client wraps HTTP failures in ``RequestsApiError`` (status -1 when no
answer came) and often re-raises them as ``IBMRuntimeError`` ``from None``; the
original stays reachable as ``__context__``. A failure that retrying can cure
(no answer, 408, 429, 5xx) becomes ``IBMQJobApiError``, the one error the
Prefect tasks retry. Reads are also retried here a few times (``retrying``), so
a flow body's reads (backends, job listings) ride out the faults the stock
client does not retry itself (429, dropped connections).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import requests

from prefect_ibmq.api.retry import RetryPolicy
from prefect_ibmq.exceptions import IBMQJobApiError

T = TypeVar("T")

_TRANSIENT_STATUS = (-1, 408, 429)
#: HTTP errors of the runtime client (RequestsApiError) and of the IBM Cloud SDK it uses for IAM (ApiException);
#: ``requests.HTTPError`` (a raised answer) counts too.
_HTTP_ERRORS = ("RequestsApiError", "ApiException")
#: Attempts of a read before its IBMQJobApiError goes to the caller (jittered waits of up to 0.25, 0.5, 1 s between).
READ_ATTEMPTS = 4


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` (or an error it was raised from) is a network fault or a 408/429/5xx answer."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (requests.ConnectionError, requests.Timeout)):
            return True
        status = getattr(current, "status_code", None)
        if isinstance(current, requests.HTTPError) and current.response is not None:
            status = current.response.status_code
        elif type(current).__name__ not in _HTTP_ERRORS:
            status = None
        if isinstance(status, int):
            return status in _TRANSIENT_STATUS or status >= 500
        current = current.__cause__ or current.__context__
    return False


def is_session_closed(error: BaseException) -> bool:
    """Whether ``error`` says the batch or session takes no more jobs.

    IBM answers a submit to a closed or expired one ``409`` with code ``session_closed``; the
    stock client refuses by itself (``The session is closed.``) when it read the session as closed.
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = str(current)
        if "The session is closed" in text or (getattr(current, "status_code", None) == 409
                                               and "session_closed" in text):
            return True
        current = current.__cause__ or current.__context__
    return False


@contextmanager
def transient_as_api_error(action: str) -> Iterator[None]:
    """Raise ``IBMQJobApiError`` (retryable) for transient faults of the block; let others through."""
    try:
        yield
    except IBMQJobApiError:
        raise
    except Exception as error:
        if is_transient(error):
            raise IBMQJobApiError(f"IBM Quantum Platform: {action} failed, worth retrying: {error}") from error
        raise


#: The pauses between attempts at a read: the clients' own policy, capped at 1 s.
_READ_BACKOFF = RetryPolicy(backoff_base=0.25, backoff_max=1.0)


def retrying(action: str, read: Callable[[], T], attempts: int = READ_ATTEMPTS) -> T:
    """``read()`` (safe to repeat), retried on transient faults with the clients' backoff; then IBMQJobApiError.

    The pauses are :class:`~prefect_ibmq.api.RetryPolicy`'s (jittered, ~0.25 s doubling up to 1 s).
    """
    for attempt in range(attempts):
        try:
            with transient_as_api_error(action):
                return read()
        except IBMQJobApiError:
            if attempt == attempts - 1:
                raise
            time.sleep(_READ_BACKOFF.delay(attempt))
    raise AssertionError("unreachable")

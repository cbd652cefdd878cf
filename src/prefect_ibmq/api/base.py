"""What the sync and the async client share: where and as whom they talk, and their timeouts."""

from __future__ import annotations

from prefect_ibmq.api.calls import Call
from prefect_ibmq.api.retry import RetryPolicy
from prefect_ibmq.exceptions import IBMQValueError
from prefect_ibmq.wire import API_PREFIX


class ClientBase:
    """One job service, one identity (the token's), timeouts and retry policy.

    Args:
        url: The service's base URL, e.g. ``http://127.0.0.1:8765``.
        token: The bearer token; it is never shown in a repr, log or exception.
        connect_timeout: Seconds to wait for a connection.
        read_timeout: Seconds to wait for an answer (a long-poll adds its own wait).
        retry: How often and how long to back off on transient failures.
        long_poll_margin: Seconds a long-poll's read timeout exceeds its wait.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        connect_timeout: float = 5.0,
        read_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        long_poll_margin: float = 10.0,
    ) -> None:
        if not isinstance(token, str) or not token:
            raise IBMQValueError(
                "The token must be a non-empty str: give the token of your identity on the job service."
            )
        self._url = url.rstrip("/")
        self._token = token
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._retry = retry or RetryPolicy()
        self._long_poll_margin = long_poll_margin

    @property
    def url(self) -> str:
        """The service's base URL."""
        return self._url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self._url!r}, token='***')"

    def _settings(self) -> dict[str, object]:
        """The keyword arguments that make another client like this one."""
        return dict(connect_timeout=self._connect_timeout, read_timeout=self._read_timeout, retry=self._retry,
                    long_poll_margin=self._long_poll_margin)

    def _url_of(self, call: Call) -> str:
        return f"{self._url}{API_PREFIX}{call.path}"

    def _read_timeout_of(self, call: Call) -> float:
        """A long-poll's answer comes after up to ``call.long_poll`` seconds: reading must outlast them."""
        return call.long_poll + self._long_poll_margin if call.long_poll else self._read_timeout

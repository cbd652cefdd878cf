"""``AccountClient``: one HTTP session to the job service's REST API.

Every call sends the token as a bearer header, uses (connect, read) timeouts
and repeats transient failures with backoff. A request is repeated only when
repeating it is safe: any GET, PUT or PATCH (they are idempotent on this API),
and a POST only when it carries an ``Idempotency-Key``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import requests

from prefect_ibmq.api import calls
from prefect_ibmq.api.base import ClientBase
from prefect_ibmq.api.retry import Attempts
from prefect_ibmq.exceptions import IBMQError
from prefect_ibmq.wire import (
    API_PREFIX,
    RESULT_HELD_HEADER,
    ApiJobStatus,
    BackendConfiguration,
    BackendStatus,
    CancelResponse,
    JobList,
    JobRecord,
    JobStatusResponse,
    JobSubmission,
    TagsUpdate,
    legacy_result,
    new_read_key,
)

if TYPE_CHECKING:
    from prefect_ibmq.api.async_client import AsyncAccountClient

logger = logging.getLogger(__name__)


class AccountClient(ClientBase):
    """Talks to one job service as one identity (the token's), over a ``requests`` session.

    Args: those of :class:`~prefect_ibmq.api.base.ClientBase` (url, token, timeouts, retry).
    """

    def __init__(self, url: str, token: str, **settings: Any) -> None:
        super().__init__(url, token, **settings)
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"

    def close(self) -> None:
        """Close the HTTP session (its pooled connections)."""
        self._session.close()

    # --- service ------------------------------------------------------------

    def health(self) -> bool:
        """Whether a job service answers at this URL (one quick try, no retries)."""
        try:
            response = self._session.get(
                f"{self._url}{API_PREFIX}/health", timeout=(self._connect_timeout, self._connect_timeout)
            )
        except requests.RequestException:
            return False
        return response.ok

    # --- backends -----------------------------------------------------------

    def list_backends(self) -> list[BackendConfiguration]:
        """The configurations of every backend of the service."""
        return self.send(calls.list_backends())

    def get_backend_configuration(self, name: str) -> BackendConfiguration:
        """One backend's configuration; IBMQBackendNotFoundError when unknown."""
        return self.send(calls.get_backend_configuration(name))

    def get_backend_status(self, name: str) -> BackendStatus:
        """One backend's status (operational, pending jobs)."""
        return self.send(calls.get_backend_status(name))

    # --- jobs ---------------------------------------------------------------

    def submit_job(self, submission: JobSubmission, idempotency_key: str) -> JobRecord:
        """Create a job. The key makes repeats safe: the same key gives back the same job."""
        return self.send(calls.submit_job(submission, idempotency_key))

    def list_jobs(self, params: Mapping[str, Any]) -> JobList:
        """Jobs the caller may see, newest first; ``params`` are the query of ``GET /v1/jobs``."""
        return self.send(calls.list_jobs(params))

    def get_job(self, job_id: str) -> JobRecord:
        """Everything the service knows about a job."""
        return self.send(calls.get_job(job_id))

    def get_job_status(
        self,
        job_id: str,
        wait: float | None = None,
        known: ApiJobStatus | None = None,
        known_position: int | None = None,
        until_final: bool = False,
    ) -> JobStatusResponse:
        """A job's status; with ``wait`` a long-poll that answers at the first change (or after ``wait`` s).

        With ``until_final`` the long-poll answers only once the job is final
        (``until=final``); a server without that option answers at the first
        change, which a waiting loop handles the same way. A final answer carries
        the job's whole record in ``record`` (None from a server without it).
        """
        return self.send(calls.get_job_status(job_id, wait, known, known_position, until_final))

    def get_job_result(self, job_id: str, partial: bool = False, read_key: str | None = None) -> dict[str, Any]:
        """The result dict that ``qiskit.result.Result.from_dict`` reads.

        The read carries a read key (``read_key``, else a fresh one): a private
        job's result stays held for it, so a read whose answer is lost is simply
        repeated, and is acknowledged once it arrived (see docs/rest-api.md).
        """
        key = read_key or new_read_key()
        answer = self.exchange(calls.get_job_result(job_id, partial, key))
        if RESULT_HELD_HEADER in answer.headers:
            try:
                self.exchange(calls.acknowledge_job_result(job_id, key))
            except IBMQError as exc:
                logger.warning(calls.ACKNOWLEDGEMENT_FAILED, exc)
        return legacy_result(answer.json())

    def get_job_circuits(self, job_id: str) -> str:
        """The job's circuits as base64 QPY."""
        return self.send(calls.get_job_circuits(job_id)).qpy

    def cancel_job(self, job_id: str) -> CancelResponse:
        """Ask the service to cancel a job (not repeated on failure: a POST without a key)."""
        return self.send(calls.cancel_job(job_id))

    def update_job_tags(self, job_id: str, update: TagsUpdate) -> list[str]:
        """Apply a tags update (replace, then add, then remove) and return the new tags."""
        return self.send(calls.update_job_tags(job_id, update)).tags

    def update_job_name(self, job_id: str, name: str) -> str:
        """Rename a job and return its new name."""
        return self.send(calls.update_job_name(job_id, name)).name

    def to_async(self) -> AsyncAccountClient:
        """A new ``AsyncAccountClient`` for the same service, identity, timeouts and retry policy.

        Each one holds connections of the event loop it is used in: open it in that loop
        (``async with client.to_async() as api: ...``).
        """
        from prefect_ibmq.api.async_client import AsyncAccountClient

        return AsyncAccountClient(self._url, self._token, **self._settings())

    # --- plumbing -----------------------------------------------------------

    def send(self, call: calls.Call) -> Any:
        """Send one call (see ``exchange``); returns its parsed answer."""
        return call.parse(self.exchange(call).json())

    def exchange(self, call: calls.Call) -> requests.Response:
        """Send one call, repeating it on transient failures when that is safe; returns its successful answer."""
        url, read_timeout = self._url_of(call), self._read_timeout_of(call)
        attempts = Attempts(call, self._retry, self._url, self._token)
        while True:
            try:
                response = self._session.request(
                    call.method, url, params=call.params, json=call.json, headers=call.headers,
                    timeout=(self._connect_timeout, read_timeout),
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                decision = attempts.no_answer(type(exc).__name__)
            except requests.RequestException as exc:
                decision = attempts.no_answer(type(exc).__name__, transient=False)
            else:
                decision = attempts.answered(response, response.headers.get("Retry-After"))
                if decision.action == "return":
                    return response
            if decision.error is not None:
                raise decision.error from None
            time.sleep(decision.delay)

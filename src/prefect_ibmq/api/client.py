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
from typing import Any

import requests
from pydantic import BaseModel, ValidationError

from prefect_ibmq.api.errors import error_from_response
from prefect_ibmq.api.retry import RETRYABLE_STATUS_CODES, RetryPolicy, parse_retry_after
from prefect_ibmq.exceptions import IBMQBackendNotFoundError, IBMQBackendValueError, IBMQError, IBMQJobApiError
from prefect_ibmq.wire import (
    API_PREFIX,
    IDEMPOTENCY_HEADER,
    READ_KEY_HEADER,
    RESULT_HELD_HEADER,
    ApiJobStatus,
    BackendConfiguration,
    BackendStatus,
    CancelResponse,
    CircuitsResponse,
    ErrorCode,
    JobList,
    JobRecord,
    JobStatusResponse,
    JobSubmission,
    NameResponse,
    NameUpdate,
    TagsResponse,
    TagsUpdate,
    new_read_key,
)

logger = logging.getLogger(__name__)

_IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE"})


class AccountClient:
    """Talks to one job service as one identity (the token's).

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
            raise IBMQBackendValueError(
                "The token must be a non-empty str: give the token of your identity on the job service."
            )
        self._url = url.rstrip("/")
        self._token = token
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._retry = retry or RetryPolicy()
        self._long_poll_margin = long_poll_margin
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {token}"

    @property
    def url(self) -> str:
        """The service's base URL."""
        return self._url

    def __repr__(self) -> str:
        return f"AccountClient(url={self._url!r}, token='***')"

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

    def backends(self) -> list[BackendConfiguration]:
        """The configurations of every backend of the service."""
        answer = self._request("GET", "/backends", what="Listing backends").json()
        return [self._parse(BackendConfiguration, item, "Listing backends") for item in answer]

    def backend_configuration(self, name: str) -> BackendConfiguration:
        """One backend's configuration; IBMQBackendNotFoundError when unknown."""
        what = f"Reading backend {name!r}"
        answer = self._request(
            "GET", f"/backends/{name}", what=what, overrides={ErrorCode.NOT_FOUND: IBMQBackendNotFoundError}
        )
        return self._parse(BackendConfiguration, answer.json(), what)

    def backend_status(self, name: str) -> BackendStatus:
        """One backend's status (operational, pending jobs)."""
        what = f"Reading the status of backend {name!r}"
        answer = self._request(
            "GET", f"/backends/{name}/status", what=what, overrides={ErrorCode.NOT_FOUND: IBMQBackendNotFoundError}
        )
        return self._parse(BackendStatus, answer.json(), what)

    # --- jobs ---------------------------------------------------------------

    def job_submit(self, submission: JobSubmission, idempotency_key: str) -> JobRecord:
        """Create a job. The key makes repeats safe: the same key gives back the same job."""
        what = f"Submitting a job to backend {submission.backend!r}"
        answer = self._request(
            "POST",
            "/jobs",
            json=submission.model_dump(mode="json"),
            headers={IDEMPOTENCY_HEADER: idempotency_key},
            what=what,
            overrides={
                ErrorCode.INVALID_REQUEST: IBMQBackendValueError,
                ErrorCode.INVALID_TAGS: IBMQBackendValueError,
                ErrorCode.NOT_FOUND: IBMQBackendNotFoundError,
            },
        )
        return self._parse(JobRecord, answer.json(), what)

    def job_list(self, params: Mapping[str, Any]) -> JobList:
        """Jobs the caller may see, newest first; ``params`` are the query of ``GET /v1/jobs``."""
        what = "Listing jobs"
        answer = self._request(
            "GET", "/jobs", params=params, what=what, overrides={ErrorCode.INVALID_REQUEST: IBMQBackendValueError}
        )
        return self._parse(JobList, answer.json(), what)

    def job_get(self, job_id: str) -> JobRecord:
        """Everything the service knows about a job."""
        what = f"Reading job {job_id}"
        return self._parse(JobRecord, self._request("GET", f"/jobs/{job_id}", what=what).json(), what)

    def job_status(
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
        what = f"Reading the status of job {job_id}"
        params: dict[str, Any] = {}
        if until_final:
            params["until"] = "final"
        read_timeout = self._read_timeout
        if wait:
            params["wait"] = wait
            # The server holds the answer up to `wait` seconds: reading must outlast it.
            read_timeout = wait + self._long_poll_margin
        if known is not None:
            params["known"] = ApiJobStatus(known).value
        if known_position is not None:
            params["known_position"] = known_position
        answer = self._request(
            "GET", f"/jobs/{job_id}/status", params=params, read_timeout=read_timeout, what=what
        )
        return self._parse(JobStatusResponse, answer.json(), what)

    def job_result(self, job_id: str, partial: bool = False, read_key: str | None = None) -> dict[str, Any]:
        """The result dict that ``qiskit.result.Result.from_dict`` reads.

        The read carries a read key (``read_key``, else a fresh one): a private
        job's result stays held for it, so a read whose answer is lost is simply
        repeated, and is acknowledged once it arrived (see docs/rest-api.md).
        """
        what = f"Reading the result of job {job_id}"
        key = read_key or new_read_key()
        answer = self._request(
            "GET", f"/jobs/{job_id}/result", params={"partial": str(partial).lower()},
            headers={READ_KEY_HEADER: key}, what=what,
        )
        data = answer.json()
        if RESULT_HELD_HEADER in answer.headers:
            self._acknowledge_result(job_id, key)
        return data

    def _acknowledge_result(self, job_id: str, read_key: str) -> None:
        """Tell the service the held result arrived; a failure leaves it held for this key only."""
        try:
            self._request("DELETE", f"/jobs/{job_id}/result", headers={READ_KEY_HEADER: read_key},
                          what=f"Acknowledging the result of job {job_id}")
        except IBMQError as exc:
            logger.warning("%s; the result stays stored, readable with this reader's key only", exc)

    def job_circuits(self, job_id: str) -> str:
        """The job's circuits as base64 QPY."""
        what = f"Reading the circuits of job {job_id}"
        answer = self._request("GET", f"/jobs/{job_id}/circuits", what=what)
        return self._parse(CircuitsResponse, answer.json(), what).qpy

    def job_cancel(self, job_id: str) -> CancelResponse:
        """Ask the service to cancel a job (not repeated on failure: a POST without a key)."""
        what = f"Cancelling job {job_id}"
        answer = self._request("POST", f"/jobs/{job_id}/cancel", what=what)
        return self._parse(CancelResponse, answer.json(), what)

    def job_update_tags(self, job_id: str, update: TagsUpdate) -> list[str]:
        """Apply a tags update (replace, then add, then remove) and return the new tags."""
        what = f"Updating the tags of job {job_id}"
        answer = self._request("PATCH", f"/jobs/{job_id}/tags", json=update.model_dump(mode="json"), what=what)
        return self._parse(TagsResponse, answer.json(), what).tags

    def job_update_name(self, job_id: str, name: str) -> str:
        """Rename a job and return its new name."""
        what = f"Renaming job {job_id}"
        answer = self._request("PUT", f"/jobs/{job_id}/name", json=NameUpdate(name=name).model_dump(), what=what)
        return self._parse(NameResponse, answer.json(), what).name

    # --- plumbing -----------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        read_timeout: float | None = None,
        overrides: Mapping[ErrorCode, type[IBMQError]] | None = None,
    ) -> requests.Response:
        """Send one request, repeating it on transient failures when that is safe."""
        url = f"{self._url}{API_PREFIX}{path}"
        timeout = (self._connect_timeout, read_timeout or self._read_timeout)
        repeatable = method in _IDEMPOTENT_METHODS or bool(headers and IDEMPOTENCY_HEADER in headers)
        attempt = 0
        while True:
            try:
                response = self._session.request(
                    method, url, params=params, json=json, headers=headers, timeout=timeout
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                if repeatable and attempt < self._retry.max_retries:
                    self._back_off(method, path, attempt, type(exc).__name__, None)
                    attempt += 1
                    continue
                raise IBMQJobApiError(
                    f"{what} failed: could not reach the job service at {self._url} "
                    f"({type(exc).__name__}, {attempt + 1} attempt(s)). Check that it is running; "
                    "retrying later may succeed."
                ) from None  # requests' text adds nothing useful and may be long
            except requests.RequestException as exc:
                raise IBMQJobApiError(f"{what} failed: {type(exc).__name__} for {self._url}.") from None
            logger.debug("%s %s -> %s", method, path, response.status_code)
            if response.ok:
                return response
            if repeatable and response.status_code in RETRYABLE_STATUS_CODES and attempt < self._retry.max_retries:
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
                self._back_off(method, path, attempt, f"HTTP {response.status_code}", retry_after)
                attempt += 1
                continue
            raise error_from_response(response, what, self._token, overrides)

    def _back_off(self, method: str, path: str, attempt: int, reason: str, retry_after: float | None) -> None:
        delay = self._retry.delay(attempt, retry_after)
        logger.warning(
            "%s %s failed (%s); repeat %d of %d in %.2f s",
            method, path, reason, attempt + 1, self._retry.max_retries, delay,
        )
        time.sleep(delay)

    @staticmethod
    def _parse(model: type[BaseModel], data: Any, what: str) -> Any:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            raise IBMQJobApiError(
                f"{what}: the service's answer is not a valid {model.__name__} ({exc.error_count()} error(s)). "
                "Check that client and server versions match."
            ) from exc

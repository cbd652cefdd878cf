"""``AsyncAccountClient``: the job service's REST API for async code (httpx).

It sends the same :mod:`prefect_ibmq.api.calls` as the sync ``AccountClient``
(requests), maps errors and repeats transient failures the same way, and waits
with ``await``: so a task that uses it can be cancelled at once (Prefect's
``timeout_seconds``), between or during requests. Its connections belong to
the event loop it is opened in; make it with ``AccountClient.to_async()`` and
use it as ``async with``.
"""

from __future__ import annotations

import functools
import logging
import ssl
from typing import Any

import anyio
import httpx

from prefect_ibmq.api import calls
from prefect_ibmq.api.base import ClientBase
from prefect_ibmq.api.retry import Attempts
from prefect_ibmq.exceptions import IBMQError
from prefect_ibmq.wire import (
    RESULT_HELD_HEADER,
    ApiJobStatus,
    CancelResponse,
    JobList,
    JobRecord,
    JobStatusResponse,
    JobSubmission,
    TagsUpdate,
    legacy_result,
    new_read_key,
)

logger = logging.getLogger("prefect_ibmq.api.client")


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """One TLS context per process: loading the CA certificates costs ~20 ms, and a client is made per task run."""
    return httpx.create_ssl_context()


class AsyncAccountClient(ClientBase):
    """Talks to one job service as one identity, from async code, over an ``httpx.AsyncClient``.

    Args: those of :class:`~prefect_ibmq.api.base.ClientBase` (url, token, timeouts, retry).
    """

    def __init__(self, url: str, token: str, **settings: Any) -> None:
        super().__init__(url, token, **settings)
        self._http = httpx.AsyncClient(headers={"Authorization": f"Bearer {token}"}, verify=_tls_context())

    async def __aenter__(self) -> AsyncAccountClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    async def get_service_info(self) -> dict[str, Any]:
        """What the service says of itself: ``status`` and its ``store_id`` (see ``calls.get_service_info``)."""
        return await self.send(calls.get_service_info())

    async def submit_job(self, submission: JobSubmission, idempotency_key: str) -> JobRecord:
        """Create a job; the same key gives back the same job."""
        return await self.send(calls.submit_job(submission, idempotency_key))

    async def list_jobs(self, params: dict[str, Any]) -> JobList:
        """Jobs the caller may see, newest first (the query of ``GET /v1/jobs``)."""
        return await self.send(calls.list_jobs(params))

    async def get_job(self, job_id: str) -> JobRecord:
        """Everything the service knows about a job."""
        return await self.send(calls.get_job(job_id))

    async def get_job_status(
        self,
        job_id: str,
        wait: float | None = None,
        known: ApiJobStatus | None = None,
        known_position: int | None = None,
        until_final: bool = False,
    ) -> JobStatusResponse:
        """A job's status; with ``wait`` a long-poll (see ``AccountClient.get_job_status``)."""
        return await self.send(calls.get_job_status(job_id, wait, known, known_position, until_final))

    async def get_job_result(self, job_id: str, partial: bool = False, read_key: str | None = None) -> dict[str, Any]:
        """The result dict that ``qiskit.result.Result.from_dict`` reads.

        The read carries a read key (``read_key``, else a fresh one): a private
        job's result stays held for it, so a read whose answer is lost is simply
        repeated, and is acknowledged once it arrived (see docs/rest-api.md).
        """
        return legacy_result(await self.get_job_result_data(job_id, partial, read_key))

    async def get_job_result_data(self, job_id: str, partial: bool = False,
                                  read_key: str | None = None) -> dict[str, Any]:
        """``get_job_result``'s answer as it came: columnar (``wire.columnar_result``), or legacy (older servers)."""
        key = read_key or new_read_key()
        answer = await self.exchange(calls.get_job_result(job_id, partial, key))
        if RESULT_HELD_HEADER in answer.headers:
            try:
                await self.exchange(calls.acknowledge_job_result(job_id, key))
            except IBMQError as exc:
                logger.warning(calls.ACKNOWLEDGEMENT_FAILED, exc)
        return answer.json()

    async def cancel_job(self, job_id: str) -> CancelResponse:
        """Ask the service to cancel a job."""
        return await self.send(calls.cancel_job(job_id))

    async def update_job_tags(self, job_id: str, update: TagsUpdate) -> list[str]:
        """Apply a tags update (replace, then add, then remove) and return the new tags."""
        return (await self.send(calls.update_job_tags(job_id, update))).tags

    async def update_job_name(self, job_id: str, name: str) -> str:
        """Rename a job and return its new name."""
        return (await self.send(calls.update_job_name(job_id, name))).name

    async def send(self, call: calls.Call) -> Any:
        """Send one call (see ``exchange``); returns its parsed answer."""
        return call.parse((await self.exchange(call)).json())

    async def exchange(self, call: calls.Call) -> httpx.Response:
        """Send one call, repeating it on transient failures when that is safe; returns its successful answer."""
        url = self._url_of(call)
        timeout = httpx.Timeout(self._read_timeout_of(call), connect=self._connect_timeout)
        attempts = Attempts(call, self._retry, self._url, self._token)
        while True:
            try:
                response = await self._http.request(
                    call.method, url, params=call.params, json=call.json, headers=call.headers, timeout=timeout
                )
            except (httpx.TransportError, httpx.TimeoutException) as exc:
                decision = attempts.no_answer(type(exc).__name__)
            except httpx.HTTPError as exc:
                decision = attempts.no_answer(type(exc).__name__, transient=False)
            else:
                decision = attempts.answered(response, response.headers.get("Retry-After"))
                if decision.action == "return":
                    return response
            if decision.error is not None:
                raise decision.error from None
            await anyio.sleep(decision.delay)

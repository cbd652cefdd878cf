"""Each REST call of the job service, described once for the sync and the async client.

A :class:`Call` says what to send (method, path, query, body, headers), how long
the server may hold the answer (a long-poll), which error codes mean something
more specific here, and which wire model the answer is. ``AccountClient``
(requests) and ``AsyncAccountClient`` (httpx) only send calls and parse answers;
so both speak exactly the same API, with the same error mapping and retry rule.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from prefect_ibmq.exceptions import IBMQBackendNotFoundError, IBMQError, IBMQJobApiError
from prefect_ibmq.wire import (
    IDEMPOTENCY_HEADER,
    READ_KEY_HEADER,
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
)

_IDEMPOTENT_METHODS = frozenset({"GET", "PUT", "PATCH", "DELETE"})
_BACKEND_NOT_FOUND = {ErrorCode.NOT_FOUND: IBMQBackendNotFoundError}


@dataclass(frozen=True)
class Call:
    """One request to the API under ``/v1`` and how to read its answer."""

    method: str
    path: str
    what: str  # starts every error message: "Reading job 123 failed ..."
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] | None = None
    #: Seconds the server may hold the answer (a long-poll); reading must outlast them.
    long_poll: float | None = None
    overrides: Mapping[ErrorCode, type[IBMQError]] | None = None
    #: The wire model of the answer; None hands back the JSON as it is.
    model: type[BaseModel] | None = None
    many: bool = False  # the answer is a list of ``model``
    #: The job the call is about (its errors carry it), None for calls about no one job.
    job_id: str | None = None

    @property
    def repeatable(self) -> bool:
        """Whether sending it again is safe: idempotent methods, and a POST with an idempotency key."""
        return self.method in _IDEMPOTENT_METHODS or bool(self.headers and IDEMPOTENCY_HEADER in self.headers)

    def parse(self, data: Any) -> Any:
        """The answer as ``model`` (or a list of them); IBMQJobApiError when it does not fit."""
        if self.model is None:
            return data
        try:
            if self.many:
                return [self.model.model_validate(item) for item in data]
            return self.model.model_validate(data)
        except (ValidationError, TypeError) as exc:
            count = exc.error_count() if isinstance(exc, ValidationError) else 1
            raise IBMQJobApiError(
                f"{self.what}: the service's answer is not a valid {self.model.__name__} ({count} error(s)). "
                "Check that client and server versions match.",
                job_id=self.job_id,
            ) from exc


def get_service_info() -> Call:
    """What the service says of itself without a token: ``status`` and its ``store_id`` (older servers: none)."""
    return Call("GET", "/health", "Reading the service's health")


def list_backends() -> Call:
    """List the backends' configurations."""
    return Call("GET", "/backends", "Listing backends", model=BackendConfiguration, many=True)


def get_backend_configuration(name: str) -> Call:
    """Read one backend's configuration (IBMQBackendNotFoundError when unknown)."""
    return Call("GET", f"/backends/{name}", f"Reading backend {name!r}", overrides=_BACKEND_NOT_FOUND,
                model=BackendConfiguration)


def get_backend_status(name: str) -> Call:
    """Read one backend's status (IBMQBackendNotFoundError when unknown)."""
    return Call("GET", f"/backends/{name}/status", f"Reading the status of backend {name!r}",
                overrides=_BACKEND_NOT_FOUND, model=BackendStatus)


def submit_job(submission: JobSubmission, idempotency_key: str) -> Call:
    """Create a job; the key makes the POST repeatable (the same key gives back the same job)."""
    return Call(
        "POST", "/jobs", f"Submitting a job to backend {submission.backend!r}",
        json=submission.model_dump(mode="json"),
        headers={IDEMPOTENCY_HEADER: idempotency_key},
        overrides=_BACKEND_NOT_FOUND,
        model=JobRecord,
    )


def list_jobs(params: Mapping[str, Any]) -> Call:
    """List the jobs the caller may see, newest first (``params`` is the query)."""
    return Call("GET", "/jobs", "Listing jobs", params=params, model=JobList)


def get_job(job_id: str) -> Call:
    """Read a job's whole record."""
    return Call("GET", f"/jobs/{job_id}", f"Reading job {job_id}", model=JobRecord, job_id=job_id)


def get_job_status(
    job_id: str,
    wait: float | None = None,
    known: ApiJobStatus | None = None,
    known_position: int | None = None,
    until_final: bool = False,
) -> Call:
    """A status read; with ``wait`` a long-poll (see ``JobStatusResponse``)."""
    params: dict[str, Any] = {}
    if until_final:
        params["until"] = "final"
    if wait:
        params["wait"] = wait
    if known is not None:
        params["known"] = ApiJobStatus(known).value
    if known_position is not None:
        params["known_position"] = known_position
    return Call("GET", f"/jobs/{job_id}/status", f"Reading the status of job {job_id}", params=params,
                long_poll=wait or None, model=JobStatusResponse, job_id=job_id)


def get_job_result(job_id: str, partial: bool, read_key: str) -> Call:
    """A result read with the reader's key: a private job's result stays held for it until acknowledged."""
    # Columnar: ~5x fewer bytes to send and parse; a server that predates it ignores the parameter.
    return Call("GET", f"/jobs/{job_id}/result", f"Reading the result of job {job_id}",
                params={"partial": str(partial).lower(), "format": "columnar"}, headers={READ_KEY_HEADER: read_key},
                job_id=job_id)


def acknowledge_job_result(job_id: str, read_key: str) -> Call:
    """The reader has the held result: the service deletes it (a DELETE, so repeated safely)."""
    return Call("DELETE", f"/jobs/{job_id}/result", f"Acknowledging the result of job {job_id}",
                headers={READ_KEY_HEADER: read_key}, job_id=job_id)


#: Logged when an acknowledgement fails: nothing is lost, the result stays held for this key.
ACKNOWLEDGEMENT_FAILED = "%s; the result stays stored, readable with this reader's key only"


def get_job_circuits(job_id: str) -> Call:
    """Read a job's circuits (base64 QPY)."""
    return Call("GET", f"/jobs/{job_id}/circuits", f"Reading the circuits of job {job_id}", model=CircuitsResponse,
                job_id=job_id)


def cancel_job(job_id: str) -> Call:
    """Cancel a job: a POST without a key, so it is not repeated on failure."""
    return Call("POST", f"/jobs/{job_id}/cancel", f"Cancelling job {job_id}", model=CancelResponse, job_id=job_id)


def update_job_tags(job_id: str, update: TagsUpdate) -> Call:
    """Replace, add and remove tags of a job (a PATCH, repeated safely)."""
    return Call("PATCH", f"/jobs/{job_id}/tags", f"Updating the tags of job {job_id}",
                json=update.model_dump(mode="json"), model=TagsResponse, job_id=job_id)


def update_job_name(job_id: str, name: str) -> Call:
    """Rename a job (a PUT, repeated safely)."""
    return Call("PUT", f"/jobs/{job_id}/name", f"Renaming job {job_id}",
                json=NameUpdate(name=name).model_dump(), model=NameResponse, job_id=job_id)

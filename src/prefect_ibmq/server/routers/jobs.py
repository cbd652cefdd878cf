"""``/v1/jobs``: submit, read, wait on, cancel, retag, rename and delete jobs."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Body, Depends, Header, Query, Response
from pydantic import ValidationError

from prefect_ibmq.timestamps import parse_iso, to_iso
from prefect_ibmq.wire import (
    IDEMPOTENCY_HEADER,
    MAX_STATUS_WAIT,
    READ_KEY_HEADER,
    RESULT_HELD_HEADER,
    ApiJobStatus,
    CancelResponse,
    CircuitsResponse,
    ErrorBody,
    ErrorCode,
    Identity,
    JobList,
    JobRecord,
    JobStatusResponse,
    JobSubmission,
    NameResponse,
    NameUpdate,
    ResultFormat,
    StatusUntil,
    TagsResponse,
    TagsUpdate,
)

from ..auth import current_identity
from ..errors import ApiError, describe_validation_errors
from ..filters import parse_filters
from ..service import JobBook
from .deps import job_book

SQLITE_MAX_INT = 2**63 - 1
#: A listing's cursor: a job's place in the store (opaque to clients), at most 18 digits.
CURSOR_PATTERN = r"^[0-9]{1,18}$"
_errors: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorBody} for code in (400, 401, 403, 404, 409, 410, 413, 422, 429, 503)
}
router = APIRouter(prefix="/jobs", tags=["jobs"], responses=_errors)


@router.post("", response_model=JobRecord, status_code=201)
def submit_job(
    body: JobSubmission,
    response: Response,
    idempotency_key: str | None = Header(None, alias=IDEMPOTENCY_HEADER, min_length=1, max_length=255),
    who: Identity = Depends(current_identity),
    service: JobBook = Depends(job_book),
) -> JobRecord:
    """Submit a job (201); a replayed ``Idempotency-Key`` answers the first job (200)."""
    record, created = service.submit(who, body, idempotency_key)
    if not created:
        response.status_code = 200  # a replay: the job the key made first
    return record


@router.get("", response_model=JobList)
def list_jobs(
    backend: str | None = None,
    status: list[ApiJobStatus] | None = Query(None),
    tags: list[str] | None = Query(None),
    tags_operator: Literal["OR", "AND"] = "OR",
    name: str | None = Query(None, description="a regular expression searched in the job name"),
    created_after: str | None = Query(None, json_schema_extra={"format": "date-time"}),
    created_before: str | None = Query(None, json_schema_extra={"format": "date-time"}),
    experiment_id: str | None = None,
    limit: int = Query(50, ge=1, le=1000),
    offset: int = Query(0, ge=0, le=SQLITE_MAX_INT),  # SQLite cannot even compare a larger one
    cursor: str | None = Query(
        None, pattern=CURSOR_PATTERN,
        description="the next_cursor of the previous page: this page starts after it (then skips offset)",
    ),
    who: Identity = Depends(current_identity),
    service: JobBook = Depends(job_book),
) -> JobList:
    """The caller's visible jobs matching the filters, newest first, and their total."""
    filters = parse_filters(
        backend, status, tags, tags_operator, name,
        _iso_query("created_after", created_after), _iso_query("created_before", created_before),
        experiment_id,
    )
    return service.list_jobs(who, filters, limit, offset, cursor)


def _iso_query(name: str, value: str | None) -> str | None:
    """An ISO 8601 time from the query, in the stored format; 422 naming it otherwise.

    Parsed here rather than as a ``datetime`` parameter, which would also take a number
    as a Unix time, though the OpenAPI document says ``date-time``.
    """
    if value is None:
        return None
    try:
        return to_iso(parse_iso(value))
    except (ValueError, OverflowError):  # overflow: a year 1 or 9999 time moved past UTC's range
        raise ApiError(
            422, ErrorCode.INVALID_REQUEST,
            f"query.{name}={value!r}: give an ISO 8601 time such as 2024-05-01T12:00:00Z",
        ) from None


@router.get("/{job_id}", response_model=JobRecord)
def get_job(
    job_id: str, who: Identity = Depends(current_identity), service: JobBook = Depends(job_book)
) -> JobRecord:
    """The job's record."""
    return service.get(who, job_id)


@router.get("/{job_id}/status", response_model=JobStatusResponse)
async def job_status(
    job_id: str,
    wait: float = Query(0.0, ge=0.0, le=MAX_STATUS_WAIT),
    known: ApiJobStatus | None = None,
    known_position: int | None = Query(None, ge=0),
    until: StatusUntil = Query(
        "change",
        description="change: answer at the first change of status (or of queue position, with known_position); "
        "final: answer only once the status is final, ignoring intermediate changes (and known, known_position)",
    ),
    who: Identity = Depends(current_identity),
    service: JobBook = Depends(job_book),
) -> JobStatusResponse:
    """Answer at once, or (``wait`` > 0) as soon as the job changes (``until=final``: is final), else after ``wait`` s.

    A final answer carries the job's whole record.
    """
    return await service.wait_status(who, job_id, wait, known, known_position, until)


@router.get(
    "/{job_id}/result",
    response_class=Response,
    responses={200: {"content": {"application/json": {}}, "description": "the dict Result.from_dict reads"}},
)
def job_result(
    job_id: str,
    partial: bool = False,
    result_format: ResultFormat = Query(
        "legacy", alias="format",
        description="legacy: the dict Result.from_dict reads; columnar: its experiments as columns "
        "(prefect_ibmq.wire.columnar_result), ~5x smaller",
    ),
    read_key: str | None = Header(None, alias=READ_KEY_HEADER, min_length=1, max_length=255),
    who: Identity = Depends(current_identity),
    service: JobBook = Depends(job_book),
) -> Response:
    """The job's result in the asked form (a private job's to one reader; see ``acknowledge_result``)."""
    text, held = service.result(who, job_id, partial, read_key, result_format)
    # The stored JSON goes out as it is: no decode and re-encode of a large result.
    headers = {RESULT_HELD_HEADER: "until-acknowledged"} if held else None
    return Response(content=text, media_type="application/json", headers=headers)


@router.delete("/{job_id}/result", status_code=204, response_class=Response)
def acknowledge_result(
    job_id: str,
    read_key: str = Header(..., alias=READ_KEY_HEADER, min_length=1, max_length=255),
    who: Identity = Depends(current_identity),
    service: JobBook = Depends(job_book),
) -> Response:
    """The reader has the result: a private job's result held for its read key is deleted."""
    service.acknowledge_result(who, job_id, read_key)
    return Response(status_code=204)


@router.get("/{job_id}/circuits", response_model=CircuitsResponse)
def job_circuits(
    job_id: str, who: Identity = Depends(current_identity), service: JobBook = Depends(job_book)
) -> CircuitsResponse:
    """The job's circuits as base64 QPY."""
    return CircuitsResponse(qpy=service.circuits(who, job_id))


@router.post("/{job_id}/cancel", response_model=CancelResponse)
def cancel_job(
    job_id: str, who: Identity = Depends(current_identity), service: JobBook = Depends(job_book)
) -> CancelResponse:
    """Cancel the job (owner only); 409 if it is already final."""
    record = service.cancel(who, job_id)
    return CancelResponse(job_id=job_id, cancelled=True, status=record.status)


@router.patch(
    "/{job_id}/tags",
    response_model=TagsResponse,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": TagsUpdate.model_json_schema()}},
        }
    },
)
def update_tags(
    job_id: str,
    body: Any = Body(...),
    who: Identity = Depends(current_identity),
    service: JobBook = Depends(job_book),
) -> TagsResponse:
    """Replace, add and remove the job's tags (owner only)."""
    # Validated here rather than by FastAPI: a bad tag list is INVALID_TAGS (400), per the contract.
    try:
        update = TagsUpdate.model_validate(body)
    except ValidationError as exc:
        message = describe_validation_errors(list(exc.errors()))
        raise ApiError(400, ErrorCode.INVALID_TAGS, f"invalid tags update: {message}") from exc
    return TagsResponse(tags=service.update_tags(who, job_id, update))


@router.put("/{job_id}/name", response_model=NameResponse)
def rename_job(
    job_id: str,
    body: NameUpdate,
    who: Identity = Depends(current_identity),
    service: JobBook = Depends(job_book),
) -> NameResponse:
    """Rename the job (owner only)."""
    return NameResponse(name=service.rename(who, job_id, body.name))


@router.delete("/{job_id}", status_code=204, response_class=Response)
def delete_job(
    job_id: str, who: Identity = Depends(current_identity), service: JobBook = Depends(job_book)
) -> Response:
    """Delete the job and its result (cancelling it first if not final; owner only)."""
    service.delete(who, job_id)
    return Response(status_code=204)

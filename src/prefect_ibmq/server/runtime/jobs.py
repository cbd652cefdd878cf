"""``/api/v1/jobs``: submit, read, list, results, metrics, cancel and tags of runtime jobs."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import PlainTextResponse

from prefect_ibmq.wire import FINAL_STATUSES, ApiJobStatus, Identity

from ..filters import JobFilter
from ..routers.jobs import SQLITE_MAX_INT
from .deps import runtime_identity, runtime_jobs
from .schemas import JobCreate, JobCreated, JobList, RuntimeJob, TagsReplace
from .service import RuntimeJobs, parse_time

router = APIRouter(prefix="/jobs", tags=["runtime: jobs"])
#: The largest page of ``GET /jobs``.
MAX_LIMIT = 200


@router.post("", response_model=JobCreated)
def create_job(
    body: JobCreate, who: Identity = Depends(runtime_identity), runtime: RuntimeJobs = Depends(runtime_jobs)
) -> JobCreated:
    """Submit a program's job (``sampler`` or ``estimator``), in a session when one is named."""
    return runtime.submit(who, body)


@router.get("", response_model=JobList, response_model_exclude_none=True)
def list_runtime_jobs(
    who: Identity = Depends(runtime_identity),
    runtime: RuntimeJobs = Depends(runtime_jobs),
    limit: int = Query(10, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0, le=SQLITE_MAX_INT),  # SQLite cannot even compare a larger one
    tags: list[str] | None = Query(None, description="jobs having every one of these tags"),
    backend: str | None = None,
    pending: bool | None = Query(None, description="true: Queued/Running; false: final"),
    program: str | None = None,
    session_id: str | None = None,
    created_after: str | None = None,
    created_before: str | None = None,
    sort: Literal["ASC", "DESC"] = "DESC",
    exclude_params: bool = True,
) -> JobList:
    """The caller's visible runtime jobs matching the filters, and their count."""
    statuses = None
    if pending is not None:
        statuses = [s.value for s in ApiJobStatus if (s in FINAL_STATUSES) != pending]
    filters = JobFilter(
        tags=tags,
        tags_and=True,
        backend=backend,
        statuses=statuses,
        runtime_only=True,
        program_id=program,
        session_id=session_id,
        created_after=parse_time(created_after, "created_after") if created_after else None,
        created_before=parse_time(created_before, "created_before") if created_before else None,
        ascending=sort == "ASC",
    )
    records, total, _ = runtime.store.list_jobs(who, filters, limit, offset)
    jobs = [runtime.view(record, with_params=not exclude_params) for record in records]
    return JobList(jobs=jobs, count=total, limit=limit, offset=offset)


@router.get("/{job_id}", response_model=RuntimeJob, response_model_exclude_none=True)
def get_job(
    job_id: str,
    exclude_params: bool = False,
    who: Identity = Depends(runtime_identity),
    runtime: RuntimeJobs = Depends(runtime_jobs),
) -> RuntimeJob:
    """The runtime job (with its parameters unless ``exclude_params``)."""
    return runtime.view(runtime.record(who, job_id), with_params=not exclude_params)


@router.get("/{job_id}/results", response_class=PlainTextResponse)
def results(
    job_id: str, who: Identity = Depends(runtime_identity), runtime: RuntimeJobs = Depends(runtime_jobs)
) -> PlainTextResponse:
    """The job's results: a PrimitiveResult as JSON (Completed) or its failure's message (Failed)."""
    return PlainTextResponse(runtime.results(runtime.record(who, job_id)), media_type="application/json")


@router.get("/{job_id}/metrics")
def metrics(
    job_id: str, who: Identity = Depends(runtime_identity), runtime: RuntimeJobs = Depends(runtime_jobs)
) -> dict[str, Any]:
    """The job's timestamps and usage."""
    return runtime.metrics(runtime.record(who, job_id))


@router.post("/{job_id}/cancel", status_code=204)
def cancel(
    job_id: str, who: Identity = Depends(runtime_identity), runtime: RuntimeJobs = Depends(runtime_jobs)
) -> Response:
    """Cancel the job (owner only); 409 if it is already final."""
    runtime.cancel(who, runtime.record(who, job_id))
    return Response(status_code=204)


@router.put("/{job_id}/tags", status_code=204)
def replace_tags(
    job_id: str,
    body: TagsReplace,
    who: Identity = Depends(runtime_identity),
    runtime: RuntimeJobs = Depends(runtime_jobs),
) -> Response:
    """Replace the job's tags (owner only)."""
    runtime.replace_tags(who, runtime.record(who, job_id), body.tags)
    return Response(status_code=204)


@router.get("/{job_id}/logs", response_class=PlainTextResponse)
def logs(
    job_id: str, who: Identity = Depends(runtime_identity), runtime: RuntimeJobs = Depends(runtime_jobs)
) -> PlainTextResponse:
    """The job's lifecycle, one line per step (and its failure): a simulator has no other output."""
    return PlainTextResponse(runtime.logs(runtime.record(who, job_id)))


@router.delete("/{job_id}", status_code=204)
def delete_job(
    job_id: str, who: Identity = Depends(runtime_identity), runtime: RuntimeJobs = Depends(runtime_jobs)
) -> Response:
    """Delete the job and its result (a job not yet final is cancelled first); owner only."""
    runtime.record(who, job_id)
    runtime.jobs.delete(who, job_id)
    return Response(status_code=204)

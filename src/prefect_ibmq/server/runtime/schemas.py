"""Request and response bodies of the runtime API (the shapes qiskit-ibm-runtime 0.51 sends and reads)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


def zulu(iso: str | None) -> str | None:
    """A stored time (ISO 8601, ``+00:00``) as IBM writes times (``...Z``)."""
    return iso.replace("+00:00", "Z") if iso else None


#: ``state.status`` values of a runtime job.
RuntimeStatus = Literal["Queued", "Running", "Completed", "Failed", "Cancelled"]


class JobCreate(BaseModel):
    """``POST /api/v1/jobs``. Fields the client may send and we do not use are accepted and ignored."""

    model_config = ConfigDict(extra="ignore")

    program_id: str
    backend: str | None = None
    #: The program's inputs, in the client's tagged JSON (see codec.py).
    params: dict[str, Any]
    tags: list[str] = Field(default_factory=list)
    session_id: str | None = None
    private: bool = False
    #: Maximum execution time in seconds (IBM's "cost"); accepted, not enforced.
    cost: int | None = None
    log_level: str | None = None
    #: The backend calibration the job is for (each backend here has one; another is refused).
    calibration_id: str | None = None


class JobCreated(BaseModel):
    """The answer to ``POST /api/v1/jobs``."""
    id: str
    backend: str
    session_id: str | None = None


class JobState(BaseModel):
    """A runtime job's status, and why it failed."""
    status: RuntimeStatus
    reason: str | None = None
    reason_code: int | None = None


class Usage(BaseModel):
    """The time a job used."""
    quantum_seconds: float
    seconds: float


class Program(BaseModel):
    """The program a job runs."""
    id: str


class RuntimeJob(BaseModel):
    """``GET /api/v1/jobs/{id}`` (and each item of the listing)."""

    id: str
    backend: str
    program: Program
    state: JobState
    #: The same as state.status, for clients that read it at the top (prefect-qiskit does).
    status: RuntimeStatus
    created: str
    ended: str | None = None
    tags: list[str]
    session_id: str | None = None
    private: bool
    user_id: str
    runtime: str = ""
    usage: Usage
    #: The service's estimate of the job's quantum seconds (``job.usage_estimation``).
    estimated_running_time_seconds: float | None = None
    params: dict[str, Any] | None = None


class JobList(BaseModel):
    """A page of ``GET /api/v1/jobs``."""
    jobs: list[RuntimeJob]
    count: int
    limit: int
    offset: int


class TagsReplace(BaseModel):
    """``PUT /api/v1/jobs/{id}/tags``: the job's new tags (they replace the old ones)."""

    tags: list[str]


class SessionCreate(BaseModel):
    """The body of ``POST /api/v1/sessions``."""
    model_config = ConfigDict(extra="ignore")

    mode: Literal["batch", "dedicated"] = "dedicated"
    backend: str
    instance: str | None = None
    max_ttl: int | None = Field(None, ge=1)


class SessionClose(BaseModel):
    """``PATCH /api/v1/sessions/{id}``: only closing (``accepting_jobs: false``) is supported."""

    accepting_jobs: Literal[False]


class SessionInfo(BaseModel):
    """``GET /api/v1/sessions/{id}``: a session and whether it accepts jobs."""
    id: str
    mode: str
    backend_name: str
    state: Literal["open", "active", "closed"]
    accepting_jobs: bool
    max_ttl: int
    interactive_ttl: int | None = None
    active_ttl: int | None = None
    started_at: str
    activated_at: str | None = None
    closed_at: str | None = None
    last_job_started: str | None = None
    last_job_completed: str | None = None
    elapsed_time: float | None = None

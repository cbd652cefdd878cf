"""``/api/v1/sessions``: batches and dedicated sessions (create, read, close, cancel).

Jobs of a session go through the same fairshare queue as every other job: the
local service has no exclusive device time to reserve.
"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Response

from prefect_ibmq.wire import Identity

from .deps import runtime_identity, runtime_jobs
from .errors import IBMApiError
from .schemas import SessionClose, SessionCreate, SessionInfo
from .service import RuntimeJobs

router = APIRouter(prefix="/sessions", tags=["runtime: sessions"])


@router.post("", response_model=SessionInfo, response_model_exclude_none=True)
def create_session(
    body: SessionCreate, who: Identity = Depends(runtime_identity), runtime: RuntimeJobs = Depends(runtime_jobs)
) -> SessionInfo:
    """Open a session (its ``max_ttl`` at most ``limits.max_session_ttl_s``)."""
    longest = runtime.jobs.config.limits.max_session_ttl_s
    if body.max_ttl is not None and body.max_ttl > longest:
        raise IBMApiError(
            400, "invalid_request", f"max_ttl={body.max_ttl} s exceeds limits.max_session_ttl_s={longest}"
        )
    return runtime.create_session(who, body)


@router.get("/{session_id}", response_model=SessionInfo, response_model_exclude_none=True)
def get_session(
    session_id: str, who: Identity = Depends(runtime_identity), runtime: RuntimeJobs = Depends(runtime_jobs)
) -> SessionInfo:
    """The session."""
    return runtime.session(who, session_id)


@router.patch("/{session_id}", status_code=204)
def close_session(
    session_id: str,
    body: SessionClose,
    who: Identity = Depends(runtime_identity),
    runtime: RuntimeJobs = Depends(runtime_jobs),
) -> Response:
    """Stop accepting jobs; those already submitted still run."""
    runtime.close_session(who, session_id, cancel=False)
    return Response(status_code=204)


@router.delete("/{session_id}/close", status_code=204)
def cancel_session(
    session_id: str, who: Identity = Depends(runtime_identity), runtime: RuntimeJobs = Depends(runtime_jobs)
) -> Response:
    """Stop accepting jobs and cancel those not final yet."""
    runtime.close_session(who, session_id, cancel=True)
    return Response(status_code=204)

"""Dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from ..service import JobService


def job_service(request: Request) -> JobService:
    """The app's job service (a FastAPI dependency)."""
    return request.app.state.service

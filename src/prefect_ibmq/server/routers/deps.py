"""Dependencies shared by the routers."""

from __future__ import annotations

from fastapi import Request

from ..service import JobBook


def job_book(request: Request) -> JobBook:
    """The app's job book: what each /v1 endpoint does (a FastAPI dependency)."""
    return request.app.state.service

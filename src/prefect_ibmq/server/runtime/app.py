"""Adding the runtime API to the job service's FastAPI app."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from starlette.concurrency import run_in_threadpool

from ..service import JobBook
from . import backends, discovery, iam, jobs, resource_controller, sessions
from .deps import RuntimeState
from .errors import install_error_handlers
from .iam import TokenIssuer
from .service import RuntimeJobs
from .session_expiry import SessionExpiry

#: Prefix of the Qiskit Runtime API (the client's url_resolver answers base + this).
RUNTIME_PREFIX = "/api/v1"


def install(app: FastAPI, service: JobBook) -> None:
    """Serve the runtime API beside ``/v1``; call after the app's own error handlers are installed.

    The app's lifespan also runs the session expiry timer (started once the service is).
    """
    runtime = RuntimeJobs(service)
    runtime.expiry = SessionExpiry(runtime.expire_session, runtime.waiting_sessions)
    app.state.runtime = RuntimeState(tokens=TokenIssuer(service.config.tokens), service=runtime)
    api = APIRouter(prefix=RUNTIME_PREFIX)
    for module in (backends, jobs, sessions):
        api.include_router(module.router)
    # Left out of /openapi.json: that document is /v1's contract (fuzzed against it); this API's
    # contract is IBM's, checked with the stock client (tests/runtime) and listed in docs/runtime-api.md.
    for router in (iam.router, discovery.router, resource_controller.router, api):
        app.include_router(router, include_in_schema=False)
    install_error_handlers(app)
    _run_with_the_app(app, runtime.expiry)


def _run_with_the_app(app: FastAPI, expiry: SessionExpiry) -> None:
    """Start ``expiry`` after the app's own lifespan started the service; stop it before the service stops."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_: Any) -> AsyncIterator[Any]:
        async with inner(app_) as state:
            await run_in_threadpool(expiry.start)
            try:
                yield state
            finally:
                await run_in_threadpool(expiry.stop)

    app.router.lifespan_context = lifespan

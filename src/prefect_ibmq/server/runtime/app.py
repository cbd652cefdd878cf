"""Adding the runtime API to the job service's FastAPI app."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from ..service import JobService
from . import backends, discovery, iam, jobs, sessions
from .deps import RuntimeState
from .errors import install_error_handlers
from .iam import TokenIssuer
from .service import RuntimeService

#: Prefix of the Qiskit Runtime API (the client's url_resolver answers base + this).
RUNTIME_PREFIX = "/api/v1"


def install(app: FastAPI, service: JobService) -> None:
    """Serve the runtime API beside ``/v1``; call after the app's own error handlers are installed."""
    app.state.runtime = RuntimeState(tokens=TokenIssuer(service.config.tokens), service=RuntimeService(service))
    api = APIRouter(prefix=RUNTIME_PREFIX)
    for module in (backends, jobs, sessions):
        api.include_router(module.router)
    # Left out of /openapi.json: that document is /v1's contract (fuzzed against it); this API's
    # contract is IBM's, checked with the stock client (tests/runtime) and listed in docs/runtime-api.md.
    for router in (iam.router, discovery.router, api):
        app.include_router(router, include_in_schema=False)
    install_error_handlers(app)

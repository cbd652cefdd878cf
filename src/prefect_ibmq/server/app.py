"""``create_app``: the FastAPI application of the job service."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from prefect_ibmq.wire import API_PREFIX, ErrorBody

from .auth import TokenTable, current_identity
from .config import ServerConfig
from .errors import install_error_handlers
from .gate import RequestGate
from .kinds import server_kinds
from .limits import Limits
from .routers import backends, jobs
from .runtime.app import install as install_runtime_api
from .service import JobBook
from .store_identity import store_id


def create_app(config: ServerConfig, service: JobBook | None = None) -> FastAPI:
    """The app; its lifespan starts the service (executor, resumed jobs) and stops it."""
    service = service or JobBook(config, server_kinds())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        service.notifier.bind(asyncio.get_running_loop())
        await run_in_threadpool(service.start)
        try:
            yield
        finally:
            service.notifier.close()
            await run_in_threadpool(service.stop)

    app = FastAPI(
        title="prefect-ibmq job service",
        version="1",
        description="Quantum jobs on Qiskit simulators, with the lifecycle of the IBM Quantum job service.",
        lifespan=lifespan,
    )
    app.state.service = service
    app.state.tokens = TokenTable(config.tokens)
    install_error_handlers(app)
    # Outermost: the caller is known, and within its rate, before any body is read.
    app.add_middleware(
        RequestGate, tokens=app.state.tokens, limits=config.limits, max_body_bytes=config.max_body_bytes
    )

    v1 = APIRouter(prefix=API_PREFIX)
    identity = store_id(config.data_dir)

    @v1.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Whether the server answers, and the id of its store (no token needed)."""
        return {"status": "ok", "store_id": identity}

    @v1.get("/stats", tags=["health"], dependencies=[Depends(current_identity)],
            responses={code: {"model": ErrorBody} for code in (401, 429, 503)})
    async def stats() -> dict[str, int | str]:
        """What the server is doing now: its parked long polls and its replica id.

        ``long_polls_waiting`` counts the status requests parked in a long poll; ``replica_id``
        is the name this replica's claims carry in the shared store.
        """
        # waiting() on the loop, as the notifier requires.
        return {"long_polls_waiting": service.notifier.waiting(), "replica_id": service.store.origin}

    @v1.get("/limits", tags=["health"], dependencies=[Depends(current_identity)], response_model=Limits,
            responses={code: {"model": ErrorBody} for code in (401, 429)})
    def limits() -> Limits:
        """The bounds this server puts on requests, jobs and identities (``ServerConfig.limits``).

        A request past one is refused with a 4xx naming it (``limits.<name>``); ``max_body_bytes``
        (the largest job submission) is in the configuration's top level and named as such.
        """
        return config.limits

    v1.include_router(backends.router)
    v1.include_router(jobs.router)
    app.include_router(v1)
    # The Qiskit Runtime REST API (/api/v1, IAM, instance discovery) on the same service.
    install_runtime_api(app, service)
    return app

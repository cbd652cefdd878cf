"""Dependencies of the runtime routers: the runtime state and the caller's identity."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from prefect_ibmq.wire import Identity

from .errors import IBMApiError
from .iam import TokenIssuer
from .service import RuntimeJobs

_bearer = HTTPBearer(auto_error=False, description="an access token from POST /identity/token")


@dataclass
class RuntimeState:
    """What the runtime routers share, kept on ``app.state.runtime``."""

    tokens: TokenIssuer
    service: RuntimeJobs


def runtime_jobs(request: Request) -> RuntimeJobs:
    """The app's runtime jobs: what each runtime endpoint does (a FastAPI dependency)."""
    return request.app.state.runtime.service


def runtime_identity(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    service_crn: str | None = Header(None, alias="Service-CRN"),
) -> Identity:
    """The identity of the bearer JWT; 401 without a valid one, 403 for another instance's CRN."""
    state: RuntimeState = request.app.state.runtime
    identity = state.tokens.identify(credentials.credentials) if credentials else None
    if identity is None:
        reason = "missing" if credentials is None else "invalid or expired"
        raise IBMApiError(
            401,
            "unauthorized",
            f"{reason} access token: send 'Authorization: Bearer <token from POST /identity/token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if service_crn is not None and service_crn != state.service.instance(identity).crn:
        raise IBMApiError(403, "forbidden", f"this token has no access to instance {service_crn!r}")
    return identity

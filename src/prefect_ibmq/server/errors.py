"""Every failure answers an :class:`~prefect_ibmq.wire.ErrorBody` with a stable code.

Handlers here turn our own :class:`ApiError`, FastAPI's validation errors,
Starlette's HTTP errors (unknown route, wrong method) and unexpected exceptions
into that one shape, so the client never parses HTML or FastAPI's ``detail``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from prefect_ibmq.wire import ErrorBody, ErrorCode

logger = logging.getLogger("prefect_ibmq.server.errors")

#: Seconds a client should wait before retrying a 503.
RETRY_AFTER_S = 1


class ApiError(Exception):
    """An error answered to the client as ``status`` + ErrorBody."""

    def __init__(
        self,
        status: int,
        code: ErrorCode,
        message: str,
        detail: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.detail = detail
        self.headers = headers


class StoreUnavailable(ApiError):
    """The SQLite store is locked, failing or full: retry later."""

    def __init__(self, reason: str) -> None:
        super().__init__(
            503,
            ErrorCode.SERVICE_UNAVAILABLE,
            f"the job store is unavailable ({reason}); retry in {RETRY_AFTER_S} s",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )


def not_found(what: str) -> ApiError:
    """404 NOT_FOUND for ``what`` (also for what the caller may not see)."""
    return ApiError(404, ErrorCode.NOT_FOUND, f"{what} not found")


def error_response(
    status: int, code: ErrorCode, message: str, detail: Any = None, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """The JSON response of an error: ``status`` with an ErrorBody."""
    body = ErrorBody(code=code, message=message, detail=detail)
    return JSONResponse(status_code=status, content=body.model_dump(mode="json"), headers=headers)


def describe_validation_errors(errors: Sequence[Mapping[str, Any]]) -> str:
    """One line naming each bad field and the value it had."""
    parts = []
    for err in errors:
        if err.get("type") == "json_invalid":
            parts.append(f"malformed JSON body: {err.get('ctx', {}).get('error', err.get('msg'))}")
            continue
        # loc is e.g. ("body", "options", "shots") or ("query", "wait").
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        field = ".".join(loc) or "body"
        value = err.get("input")
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        parts.append(f"{field}={shown}: {err.get('msg')}")
    return "; ".join(parts) or "invalid request"


def _json_safe_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    safe = []
    for err in errors:
        item: dict[str, Any] = {k: err[k] for k in ("type", "loc", "msg") if k in err}
        value = err.get("input")
        # Large inputs (a whole QPY string) are not worth echoing back.
        item["input"] = value if isinstance(value, (int, float, bool, type(None))) else repr(value)[:200]
        safe.append(item)
    return safe


async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
    return error_response(exc.status, exc.code, exc.message, exc.detail, exc.headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    return error_response(
        422, ErrorCode.INVALID_REQUEST, describe_validation_errors(errors), _json_safe_errors(errors)
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 404:
        return error_response(404, ErrorCode.NOT_FOUND, f"no such route: {request.method} {request.url.path}")
    if exc.status_code == 405:
        return error_response(
            405, ErrorCode.INVALID_REQUEST, f"method {request.method} not allowed on {request.url.path}",
            headers=exc.headers,
        )
    code = ErrorCode.INTERNAL if exc.status_code >= 500 else ErrorCode.INVALID_REQUEST
    return error_response(exc.status_code, code, str(exc.detail), headers=exc.headers)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    logger.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, ErrorCode.INTERNAL, f"internal server error: {type(exc).__name__}")


def install_error_handlers(app: FastAPI) -> None:
    """Answer every error of ``app`` as an ErrorBody."""
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)

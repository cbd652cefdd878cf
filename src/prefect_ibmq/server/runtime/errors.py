"""Errors of the runtime API in IBM's shape: ``{"errors": [{"message", "code"}], "status_code"}``.

The app's own handlers answer ``/v1``'s ErrorBody; :func:`install_error_handlers`
wraps them so that requests to the runtime API's paths (and only those) get IBM's
shape for every failure: our :class:`IBMApiError`, the shared service's ApiError
(404 backend, 503 store), FastAPI's validation errors and unknown routes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ApiError, describe_validation_errors

#: Path prefixes of the runtime API and the IBM Cloud calls it needs.
RUNTIME_PATHS = ("/api/v1", "/identity", "/v3/resources", "/global-catalog", "/v2/resource_instances")


class IBMApiError(Exception):
    """An error answered as ``status`` with IBM's body; ``code`` is a short snake_case reason."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers


def ibm_error(status: int, code: str, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    """The JSON response of an error in IBM's shape: ``{errors: [{message, code}], status_code}``."""
    body = {"errors": [{"message": message, "code": code}], "status_code": status}
    return JSONResponse(status_code=status, content=body, headers=headers)


def not_found(what: str) -> IBMApiError:
    """404 ``not_found`` for ``what`` (also for what the caller may not see)."""
    return IBMApiError(404, "not_found", f"{what} not found")


def _is_runtime(request: Request) -> bool:
    return request.url.path.startswith(RUNTIME_PATHS)


def install_error_handlers(app: FastAPI) -> None:
    """Answer IBM's shape on the runtime paths; leave every other path's handler as it was."""
    originals: dict[Any, Any] = dict(app.exception_handlers)

    async def ibm(request: Request, exc: IBMApiError) -> JSONResponse:
        return ibm_error(exc.status, exc.code, exc.message, exc.headers)

    def wrap(kind: Any, translate: Any) -> None:
        original = originals.get(kind)

        async def handler(request: Request, exc: Any) -> Any:
            if _is_runtime(request) or original is None:
                return translate(request, exc)
            return await original(request, exc)

        app.add_exception_handler(kind, handler)

    app.add_exception_handler(IBMApiError, ibm)  # type: ignore[arg-type]
    wrap(ApiError, lambda r, e: ibm_error(e.status, e.code.value.lower(), e.message, e.headers))
    # IBM answers a malformed body with 400, not FastAPI's 422.
    wrap(
        RequestValidationError,
        lambda r, e: ibm_error(400, "invalid_request", describe_validation_errors(list(e.errors()))),
    )
    wrap(StarletteHTTPException, _http_error)


def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    if exc.status_code == 404:
        return ibm_error(404, "not_found", f"no such route: {request.method} {request.url.path}")
    if exc.status_code == 405:
        return ibm_error(
            405, "method_not_allowed", f"method {request.method} not allowed on {request.url.path}", exc.headers
        )
    return ibm_error(exc.status_code, "http_error", str(exc.detail), exc.headers)

"""Exception → HTTP response: the only place this happens. Errors are JSON
`{"error": {"code": …, "message": …}}`; unexpected ones show no traceback to clients."""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from batchscore.errors import (
    BatchscoreError,
    Conflict,
    Forbidden,
    InputError,
    ModelError,
    NotAuthenticated,
    NotFound,
    TooLarge,
)

logger = logging.getLogger(__name__)

# Most specific first: TooLarge is an InputError, InvalidTransition a Conflict.
_STATUS: list[tuple[type[BatchscoreError], int, str]] = [
    (NotAuthenticated, 401, "not_authenticated"),
    (Forbidden, 403, "forbidden"),
    (NotFound, 404, "not_found"),
    (Conflict, 409, "conflict"),
    (TooLarge, 413, "too_large"),
    (InputError, 422, "invalid_input"),
    (ModelError, 503, "model_unavailable"),
]
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BatchscoreError)
    for kind, status, code in _STATUS:
        if isinstance(exc, kind):
            headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
            return JSONResponse(error_body(code, exc.message), status_code=status, headers=headers)
    return server_error(request, exc)


def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(
        error_body(code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )


def server_error(request: Request, exc: Exception) -> Response:
    # Starlette's ServerErrorMiddleware re-raises after this, so the server logs the traceback.
    # It also runs outside RequestIdMiddleware, so it sets the request id header itself.
    message = "Internal server error. It has been logged; quote the request id to the operator."
    rid = getattr(request.state, "request_id", None)
    headers = {"X-Request-ID": rid} if rid else None
    return JSONResponse(error_body("internal_error", message), status_code=500, headers=headers)


EXCEPTION_HANDLERS = {
    BatchscoreError: domain_error,
    HTTPException: http_error,
    Exception: server_error,
}

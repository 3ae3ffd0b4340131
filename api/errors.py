"""Exception → HTTP response: the only place this happens. Errors are JSON
`{"error": {"code": …, "message": …}}` for programs, an HTML page for a browser on the panel;
unexpected ones show no traceback to anyone."""

from __future__ import annotations

import logging
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from batchscore.api.pages import render
from batchscore.api.payloads import error_payload, json_response
from batchscore.errors import (
    BatchscoreError,
    Conflict,
    DatabaseUnavailable,
    Forbidden,
    InputError,
    ModelError,
    NotAuthenticated,
    NotFound,
    TooLarge,
    TooManyAttempts,
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
    (TooManyAttempts, 429, "too_many_attempts"),
    (ModelError, 503, "model_unavailable"),
    (DatabaseUnavailable, 503, "database_unavailable"),
]
_DATABASE_RETRY_AFTER_SECONDS = 30
_HTTP_CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}
_PROGRAM_PATHS = ("/api/", "/process_", "/health", "/openapi.json")


def status_of(exc: BatchscoreError) -> int:
    """The HTTP status a domain error answers with (500 for one with no mapping)."""
    return _mapping(exc)[0]


def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BatchscoreError)
    status, code = _mapping(exc)
    if status == 500:
        return server_error(request, exc)
    if isinstance(exc, DatabaseUnavailable):
        logger.warning(
            "%s %s: database unreachable (%s)", request.method, request.url.path, exc.reason
        )
    if wants_page(request):
        return _page_error(request, exc, status)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after_seconds)
    if isinstance(exc, DatabaseUnavailable):
        headers["Retry-After"] = str(_DATABASE_RETRY_AFTER_SECONDS)
    return json_response(error_payload(code, exc.message), status, headers=headers)


def _mapping(exc: BatchscoreError) -> tuple[int, str]:
    return next(((s, c) for kind, s, c in _STATUS if isinstance(exc, kind)), (500, "internal"))


def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if wants_page(request):
        return render_error(request, str(exc.detail), exc.status_code)
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    headers = dict(exc.headers) if exc.headers else None
    return json_response(error_payload(code, str(exc.detail)), exc.status_code, headers=headers)


def server_error(request: Request, exc: Exception) -> Response:
    # Starlette's ServerErrorMiddleware re-raises after this, so the server logs the traceback.
    # It also runs outside RequestIdMiddleware, so it sets the request id header itself.
    message = "Internal server error. It has been logged; quote the request id to the operator."
    rid = getattr(request.state, "request_id", None)
    headers = {"X-Request-ID": rid} if rid else None
    if wants_page(request):
        return render_error(request, f"{message} Request id: {rid}.", 500, headers)
    return json_response(error_payload("internal_error", message), 500, headers=headers)


def wants_page(request: Request) -> bool:
    """A browser asking for a panel page (not a program calling the API) gets HTML back."""
    return "text/html" in request.headers.get("accept", "") and not request.url.path.startswith(
        _PROGRAM_PATHS
    )


def render_error(
    request: Request, message: str, status: int, headers: dict[str, str] | None = None
) -> Response:
    context = {"message": message, "status": status}
    response = render(request, "error.html", context, user=None, status_code=status)
    response.headers.update(headers or {})
    return response


def _page_error(request: Request, exc: BatchscoreError, status: int) -> Response:
    if isinstance(exc, NotAuthenticated):
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return render_error(request, exc.message, status)


EXCEPTION_HANDLERS = {
    BatchscoreError: domain_error,
    HTTPException: http_error,
    Exception: server_error,
}

"""Signing in to the panel and out again."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from batchscore.api.auth import session_user
from batchscore.api.errors import status_of
from batchscore.api.pages import render
from batchscore.api.session import (
    CSRF_FIELD,
    Session,
    check_csrf,
    clear_session,
    new_session,
    read_session,
    save_session,
)
from batchscore.api.state import context_of
from batchscore.errors import Forbidden, NotAuthenticated, TooManyAttempts
from batchscore.service.accounts import log_in


def login_page(request: Request) -> Response:
    """The sign-in form (or the panel, for someone signed in already)."""
    if session_user(request) is not None:
        return RedirectResponse(_next_page(request.query_params.get("next")), status_code=303)
    notice = "You are signed out." if "signed_out" in request.query_params else None
    context = {"next": _next_page(request.query_params.get("next")), "notice": notice}
    return render(request, "login.html", context, user=None, session=_login_session(request))


async def login(request: Request) -> Response:
    """Check the form; sign in and go on to the page asked for, or show the form with why not."""
    async with request.form(max_files=0, max_fields=10) as form:
        username, password = str(form.get("username", "")), str(form.get("password", ""))
        supplied, next_page = str(form.get(CSRF_FIELD, "")), _next_page(str(form.get("next", "")))
    context = {"next": next_page, "username": username}
    try:
        check_csrf(read_session(request), supplied)
        if not username.strip() or not password:
            raise NotAuthenticated("Enter your user name and password.")
        address = request.client.host if request.client else "unknown"
        user = await run_in_threadpool(log_in, context_of(request), username, password, address)
    except (Forbidden, NotAuthenticated, TooManyAttempts) as exc:
        page = render(
            request,
            "login.html",
            {**context, "error": exc.message},
            user=None,
            status_code=status_of(exc),
            session=_login_session(request, renew=isinstance(exc, Forbidden)),
        )
        if isinstance(exc, TooManyAttempts):
            page.headers["Retry-After"] = str(exc.retry_after_seconds)
        return page
    response = RedirectResponse(next_page, status_code=303)
    save_session(response, request, new_session(user.id))  # a fresh CSRF token too
    return response


async def logout(request: Request) -> Response:
    """End the session (a POST with the CSRF token, so another site cannot sign you out)."""
    async with request.form(max_files=0, max_fields=10) as form:
        supplied = str(form.get(CSRF_FIELD, ""))
    check_csrf(read_session(request), supplied)
    response = RedirectResponse("/login?signed_out=1", status_code=303)
    clear_session(response)
    return response


def _login_session(request: Request, *, renew: bool = False) -> Session:
    """The anonymous session whose CSRF token the sign-in form carries."""
    existing = read_session(request)
    return new_session() if renew or existing is None else existing


def _next_page(value: str | None) -> str:
    """Where to go after signing in: a path on this site only, never another site."""
    if value and value.startswith("/") and not value.startswith(("//", "/\\")):
        return value
    return "/"

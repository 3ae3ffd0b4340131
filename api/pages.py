"""Rendering a panel page: the template, the signed-in user, the CSRF token, safe headers."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import Response

from batchscore.api.session import CSRF_FIELD, Session, read_session, save_session
from batchscore.api.state import templates_of
from batchscore.db.users import UserRecord

# Pages load scripts and styles from /static only, so injected markup could not run a script.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; "
        "form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",  # pages show private data (and a new token, once)
}


def render(
    request: Request,
    template: str,
    context: Mapping[str, object] | None = None,
    *,
    user: UserRecord | None,
    status_code: int = 200,
    session: Session | None = None,
) -> Response:
    """The page, with the session's CSRF token for its forms.

    Pass `session` to (re)issue the session cookie, e.g. an anonymous one before sign-in.
    """
    current = session or read_session(request)
    values = {
        "user": user,
        "csrf_field": CSRF_FIELD,
        "csrf_token": current.csrf_token if current else "",
        **(context or {}),
    }
    response = templates_of(request).TemplateResponse(
        request, template, values, status_code=status_code, headers=SECURITY_HEADERS
    )
    if session is not None:
        save_session(response, request, session)
    return response

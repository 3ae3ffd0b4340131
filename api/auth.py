"""Who is calling: an API token (`Authorization: Bearer …`) or the panel's session cookie
→ the user (checked by service.accounts), with the CSRF rule for cookie-authenticated changes."""

from __future__ import annotations

from starlette.requests import Request

from batchscore.api.openapi import scope_of
from batchscore.api.session import CSRF_HEADER, Session, check_csrf, read_session
from batchscore.api.state import context_of
from batchscore.db.users import UserRecord
from batchscore.errors import NotAuthenticated
from batchscore.service import accounts

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def current_user(
    request: Request, csrf_token: str | None = None, *, changes: bool | None = None
) -> UserRecord:
    """The caller, by API token if the request has an Authorization header, else by session
    cookie, whose state-changing requests must carry the CSRF token: `csrf_token` (a form's
    field) or else the X-CSRF-Token header. A request changes state if `changes` says so, by
    default if its method is not GET, HEAD or OPTIONS.

    NotAuthenticated without valid credentials; Forbidden for a revoked token or a bad CSRF token.
    """
    if "authorization" in request.headers:
        return _token_user(request)
    session = read_session(request)
    user = session_user(request, session)
    if user is None:
        raise NotAuthenticated()
    if changes is None:
        changes = request.method not in _SAFE_METHODS
    if changes:
        check_csrf(session, csrf_token or request.headers.get(CSRF_HEADER))
    return user


def session_user(request: Request, session: Session | None = None) -> UserRecord | None:
    """The user signed in to the panel with this request's cookie (or `session`, read from it
    already); None if nobody is."""
    session = session or read_session(request)
    if session is None or session.user_id is None:
        return None
    return accounts.signed_in_user(context_of(request), session.user_id)


def _token_user(request: Request) -> UserRecord:
    """The token's user, if the token may call this route (its scope, and for a prediction
    the model: the path's, or /invocations' default)."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated()
    ctx = context_of(request)
    scope = scope_of(request.scope.get("endpoint"), request.method)
    model = None
    if scope == "predict":
        model = request.path_params.get("name") or ctx.settings.default_model
    return accounts.token_user(ctx, token.strip(), scope=scope, model=model)

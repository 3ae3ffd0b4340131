"""Who is calling: an API token (`Authorization: Bearer …`) or the panel's session cookie
→ the user; and signing in to the panel, with a brake on repeated failures."""

from __future__ import annotations

import math
from functools import cache

from starlette.requests import Request

from batchscore.api.session import CSRF_HEADER, Session, check_csrf, read_session
from batchscore.api.state import context_of
from batchscore.credentials import hash_password, token_digest, verify_password
from batchscore.db.engine import in_transaction
from batchscore.db.logins import clear_login_failures, record_login_failure, seconds_until_allowed
from batchscore.db.users import UserRecord, find_token, find_user, get_user
from batchscore.errors import Forbidden, NotAuthenticated, NotFound, TooManyAttempts
from batchscore.scheduler.context import Context

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
    user_id = session.user_id
    try:
        return in_transaction(context_of(request).engine, lambda c: get_user(c, user_id))
    except NotFound:  # deleted since signing in
        return None


def owner_scope(user: UserRecord) -> int | None:
    """The owner filter for this user's queries: their own id, or None (everyone) for admins."""
    return None if user.is_admin else user.id


def log_in(ctx: Context, username: str, password: str, address: str) -> UserRecord:
    """The user with this name and password.

    TooManyAttempts while the name or the address has too many recent failures (checked before
    the password, so a guesser learns nothing while braked); NotAuthenticated for a wrong name or
    password, which counts as a failure for both.
    """
    settings, engine = ctx.settings, ctx.engine
    window = settings.login_window_seconds
    user_key, address_key = f"user:{username.casefold()[:150]}", f"address:{address}"
    wait = in_transaction(
        engine,
        lambda c: max(
            seconds_until_allowed(
                c, user_key, limit=settings.login_failures_per_user, window_seconds=window
            ),
            seconds_until_allowed(
                c, address_key, limit=settings.login_failures_per_address, window_seconds=window
            ),
        ),
    )
    if wait > 0:
        minutes = math.ceil(wait / 60)
        raise TooManyAttempts(
            f"Too many failed sign-ins for this user or from this address. "
            f"Try again in {minutes} minute{'s' if minutes != 1 else ''}.",
            retry_after_seconds=math.ceil(wait),
        )
    found = in_transaction(engine, lambda c: find_user(c, username))
    # An unknown name costs the same argon2 check as a known one: timing reveals no user names.
    valid = verify_password(found[1] if found else _dummy_hash(), password)
    if found is None or not valid:
        in_transaction(
            engine,
            lambda c: record_login_failure(c, [user_key, address_key], window_seconds=window),
        )
        raise NotAuthenticated("Wrong user name or password.")
    in_transaction(engine, lambda c: clear_login_failures(c, user_key))
    return found[0]


def _token_user(request: Request) -> UserRecord:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated()
    found = in_transaction(
        context_of(request).engine,
        lambda c: find_token(c, token_digest(token.strip())),
        read_only=True,
    )
    if found is None:
        raise NotAuthenticated("Unknown API token. Create one with `batchscore token create`.")
    record, user = found
    if record.revoked_at is not None:
        raise Forbidden("This API token has been revoked.")
    return user


@cache
def _dummy_hash() -> str:
    return hash_password("not a password anybody has")

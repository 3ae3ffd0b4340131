"""The panel's session: a signed cookie holding the user id and a CSRF token.

Signed, not encrypted (it holds nothing secret from its owner), HttpOnly so page scripts can't
read it, SameSite=Lax, and Secure when the request came over HTTPS. Every state-changing request
authenticated by this cookie must also carry the CSRF token (form field or header), which a
page on another site cannot read.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.requests import Request
from starlette.responses import Response

from batchscore.api.state import context_of
from batchscore.config import Settings
from batchscore.errors import Forbidden

COOKIE = "batchscore_session"
CSRF_FIELD = "csrf_token"  #: hidden field of every panel form
CSRF_HEADER = "X-CSRF-Token"  #: the same token, sent by the panel's scripts
SALT = "batchscore.session"


@dataclass(frozen=True)
class Session:
    user_id: int | None  #: None before sign-in: the session only carries the login's CSRF token
    csrf_token: str


def new_session(user_id: int | None = None) -> Session:
    """A session with a fresh CSRF token (a new one at sign-in, against session fixation)."""
    return Session(user_id, secrets.token_urlsafe(32))


def read_session(request: Request) -> Session | None:
    """The session the cookie carries; None if absent, tampered with or expired."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    settings = _settings(request)
    try:
        data = _serializer(settings).loads(raw, max_age=_max_age(settings))
    except BadSignature:  # includes SignatureExpired
        return None
    if not isinstance(data, dict) or not isinstance(data.get("csrf"), str):
        return None
    user_id = data.get("user")
    return Session(user_id if isinstance(user_id, int) else None, data["csrf"])


def save_session(response: Response, request: Request, session: Session) -> None:
    settings = _settings(request)
    value = _serializer(settings).dumps({"user": session.user_id, "csrf": session.csrf_token})
    response.set_cookie(
        COOKIE,
        value,
        max_age=_max_age(settings),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
    )


def clear_session(response: Response) -> None:
    response.delete_cookie(COOKIE, httponly=True, samesite="lax")


def check_csrf(session: Session | None, supplied: str | None) -> None:
    """Forbidden unless `supplied` is this session's CSRF token."""
    if session is None or not supplied or not hmac.compare_digest(supplied, session.csrf_token):
        raise Forbidden(
            "The form's security token is missing or out of date. Reload the page and try again."
        )


def _settings(request: Request) -> Settings:
    return context_of(request).settings


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(str(settings.secret_key), salt=SALT)


def _max_age(settings: Settings) -> int:
    return int(settings.session_hours * 3600)

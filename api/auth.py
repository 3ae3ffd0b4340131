"""Who is calling: an API token (`Authorization: Bearer …`) → the user, or 401/403."""

from __future__ import annotations

from starlette.requests import Request

from batchscore.credentials import token_digest
from batchscore.errors import Forbidden, NotAuthenticated
from db.engine import in_transaction
from db.users import UserRecord, find_token


def current_user(request: Request) -> UserRecord:
    """The caller; NotAuthenticated without a known token, Forbidden for a revoked one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise NotAuthenticated()
    found = in_transaction(
        request.app.state.ctx.engine, lambda c: find_token(c, token_digest(token.strip()))
    )
    if found is None:
        raise NotAuthenticated("Unknown API token. Create one with `batchscore token create`.")
    record, user = found
    if record.revoked_at is not None:
        raise Forbidden("This API token has been revoked.")
    return user


def owner_scope(user: UserRecord) -> int | None:
    """The owner filter for this user's queries: their own id, or None (everyone) for admins."""
    return None if user.is_admin else user.id

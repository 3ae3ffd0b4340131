"""Users and API tokens: signing in (with its brake), who a token or a session belongs to, and
the operator's user and token commands.

`owner_scope` is the one rule for whose jobs a caller sees: their own, or everyone's for an admin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache

from batchscore.credentials import MIN_PASSWORD_LENGTH, hash_password, token_digest, verify_password
from batchscore.db.engine import in_transaction
from batchscore.db.logins import clear_login_failures, record_login_failure, seconds_until_allowed
from batchscore.db.users import (
    TokenRecord,
    UserRecord,
    create_user,
    delete_user,
    find_token,
    find_user,
    get_user,
    issue_token,
    list_tokens,
    list_users,
    revoke_token,
    update_user,
)
from batchscore.errors import Forbidden, InputError, NotAuthenticated, NotFound, TooManyAttempts
from batchscore.model.registry import active_version
from batchscore.scheduler.context import Context
from batchscore.scopes import checked_scopes


def owner_scope(user: UserRecord | None) -> int | None:
    """The owner filter for this caller's queries: their own id, or None (everyone) for an admin
    and for the operator at the command line (no user)."""
    return None if user is None or user.is_admin else user.id


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
    valid = verify_password(found[1] if found else _dummy_hash(settings.password_hashing), password)
    if found is None or not valid:
        in_transaction(
            engine,
            lambda c: record_login_failure(c, [user_key, address_key], window_seconds=window),
        )
        raise NotAuthenticated("Wrong user name or password.")
    in_transaction(engine, lambda c: clear_login_failures(c, user_key))
    return found[0]


def signed_in_user(ctx: Context, user_id: int) -> UserRecord | None:
    """The user a session names; None if they have been deleted since signing in."""
    try:
        return in_transaction(ctx.engine, lambda c: get_user(c, user_id))
    except NotFound:
        return None


def token_user(
    ctx: Context, token: str, *, scope: str | None = None, model: str | None = None
) -> UserRecord:
    """The user an API token belongs to, if the token may act with `scope` (on `model`, for a
    prediction); NotAuthenticated if unknown, Forbidden if revoked or not allowed. `scope`
    None is a route no scope names (the panel's pages): only a token without scopes may."""
    found = in_transaction(ctx.engine, lambda c: find_token(c, token_digest(token)), read_only=True)
    if found is None:
        raise NotAuthenticated("Unknown API token. Create one with `batchscore token create`.")
    record, user = found
    if record.revoked_at is not None:
        raise Forbidden("This API token has been revoked.")
    if record.scopes is not None and scope not in record.scopes:
        needs = f"the scope {scope}" if scope else "a token without scopes (or the panel)"
        raise Forbidden(
            f"This API token may only {', '.join(record.scopes)}; this needs {needs}. "
            "Create a token that may: batchscore token create USER --scope …"
        )
    if record.models is not None and model is not None and model not in record.models:
        raise Forbidden(
            f"This API token may predict only with {', '.join(record.models)}, not {model}."
        )
    return user


def add_user(ctx: Context, username: str, password: str, *, is_admin: bool) -> UserRecord:
    """A new user; InputError for a short password, Conflict for a name that is taken."""
    digest = _password_hash(ctx, password)
    return in_transaction(
        ctx.engine,
        lambda c: create_user(c, username=username, password_hash=digest, is_admin=is_admin),
    )


def users(ctx: Context) -> list[UserRecord]:
    return in_transaction(ctx.engine, list_users, read_only=True)


def change_user(
    ctx: Context, username: str, *, password: str | None = None, is_admin: bool | None = None
) -> UserRecord:
    """A new password and/or admin flag for the user named; NotFound, InputError."""
    user = user_named(ctx, username)
    digest = None if password is None else _password_hash(ctx, password)
    return in_transaction(
        ctx.engine, lambda c: update_user(c, user.id, password_hash=digest, is_admin=is_admin)
    )


def remove_user(ctx: Context, username: str) -> UserRecord:
    """Delete the user named and their API tokens; their jobs stay, for admins to see."""
    user = user_named(ctx, username)
    in_transaction(ctx.engine, lambda c: delete_user(c, user.id))
    return user


def _password_hash(ctx: Context, password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError(f"The password must have at least {MIN_PASSWORD_LENGTH} characters.")
    return hash_password(password, ctx.settings.password_hashing)


def user_named(ctx: Context, username: str) -> UserRecord:
    """The user with this name; NotFound says how to add one."""
    found = in_transaction(ctx.engine, lambda c: find_user(c, username))
    if found is None:
        raise NotFound(f"User '{username}' not found. Add one with `batchscore user add NAME`.")
    return found[0]


def tokens_of(ctx: Context, user_id: int) -> list[TokenRecord]:
    return in_transaction(ctx.engine, lambda c: list_tokens(c, user_id))


def new_token(
    ctx: Context,
    user_id: int,
    name: str,
    *,
    scopes: Sequence[str] = (),
    models: Sequence[str] = (),
) -> tuple[TokenRecord, str]:
    """A new token for the user: its record and the token itself, shown once and stored hashed.
    With `scopes`, it may do only that; with `models`, predict only with those (InputError for
    a scope or model that does not exist)."""
    allowed = checked_scopes(list(scopes))
    names = tuple(dict.fromkeys(m.strip() for m in models if m.strip())) or None
    for model in names or ():
        active_version(ctx.settings.model_dir, model)  # NotFound for a model that is not there
    return in_transaction(
        ctx.engine,
        lambda c: issue_token(c, user_id=user_id, name=name, scopes=allowed, models=names),
    )


def revoke(ctx: Context, token_id: int, *, user: UserRecord | None = None) -> TokenRecord:
    """Revoke a token: the user's own (any token for the operator, `user=None`)."""
    owner = None if user is None else user.id
    return in_transaction(ctx.engine, lambda c: revoke_token(c, token_id, user_id=owner))


@cache
def _dummy_hash(hashing: str) -> str:
    return hash_password("not a password anybody has", hashing)

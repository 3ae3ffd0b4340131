"""Users and API tokens: every SQL statement on `users` and `api_tokens`.

Callers own the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, RowMapping, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from batchscore.credentials import new_token, token_digest
from batchscore.db.engine import utcnow
from batchscore.db.tables import api_tokens, users
from batchscore.errors import Conflict, InputError, NotFound

TOKEN_NAME_MAX = 100  # api_tokens.name


@dataclass(frozen=True)
class UserRecord:
    id: int
    username: str
    is_admin: bool
    created_at: datetime

    @classmethod
    def from_row(cls, row: RowMapping) -> UserRecord:
        return cls(row["id"], row["username"], bool(row["is_admin"]), row["created_at"])


@dataclass(frozen=True)
class TokenRecord:
    id: int
    user_id: int
    name: str
    created_at: datetime
    revoked_at: datetime | None  #: None while the token is valid
    scopes: tuple[str, ...] | None = None  #: what it may do; None: all its user may
    models: tuple[str, ...] | None = None  #: the models it may predict with; None: any

    @classmethod
    def from_row(cls, row: RowMapping) -> TokenRecord:
        scopes, models = row["scopes"], row["models"]
        return cls(
            row["id"],
            row["user_id"],
            row["name"],
            row["created_at"],
            row["revoked_at"],
            None if scopes is None else tuple(scopes),
            None if models is None else tuple(models),
        )


def create_user(
    conn: Connection, *, username: str, password_hash: str, is_admin: bool
) -> UserRecord:
    """Insert a user; Conflict if the name is taken."""
    try:
        with conn.begin_nested():  # keep the outer transaction usable after a duplicate
            result = conn.execute(
                insert(users).values(
                    username=username,
                    password_hash=password_hash,
                    is_admin=is_admin,
                    created_at=utcnow(),
                )
            )
    except IntegrityError as exc:
        raise Conflict(f"User '{username}' already exists.") from exc
    key = result.inserted_primary_key
    assert key is not None
    return get_user(conn, int(key[0]))


def get_user(conn: Connection, user_id: int) -> UserRecord:
    row = conn.execute(select(users).where(users.c.id == user_id)).mappings().first()
    if row is None:
        raise NotFound(f"User {user_id} not found.")
    return UserRecord.from_row(row)


def list_users(conn: Connection) -> list[UserRecord]:
    rows = conn.execute(select(users).order_by(users.c.username)).mappings()
    return [UserRecord.from_row(row) for row in rows]


def update_user(
    conn: Connection,
    user_id: int,
    *,
    password_hash: str | None = None,
    is_admin: bool | None = None,
) -> UserRecord:
    """Change a user's password hash and/or admin flag; NotFound if there is no such user."""
    values: dict[str, object] = {}
    if password_hash is not None:
        values["password_hash"] = password_hash
    if is_admin is not None:
        values["is_admin"] = is_admin
    if conn.execute(update(users).where(users.c.id == user_id).values(**values)).rowcount == 0:
        raise NotFound(f"User {user_id} not found.")
    return get_user(conn, user_id)


def delete_user(conn: Connection, user_id: int) -> None:
    """Delete a user: their tokens go with them (ON DELETE CASCADE); their jobs stay, owned by
    nobody (SET NULL), so only admins see them."""
    conn.execute(delete(users).where(users.c.id == user_id))


def find_user(conn: Connection, username: str) -> tuple[UserRecord, str] | None:
    """The user and their password hash, for a login; None if there is no such user."""
    row = conn.execute(select(users).where(users.c.username == username)).mappings().first()
    return None if row is None else (UserRecord.from_row(row), row["password_hash"])


def create_token(
    conn: Connection,
    *,
    user_id: int,
    name: str,
    token_hash: str,
    scopes: tuple[str, ...] | None = None,
    models: tuple[str, ...] | None = None,
) -> TokenRecord:
    """Store a new token's digest for a user, with what it may do (None: everything)."""
    result = conn.execute(
        insert(api_tokens).values(
            user_id=user_id,
            name=name,
            token_hash=token_hash,
            created_at=utcnow(),
            scopes=None if scopes is None else list(scopes),
            models=None if models is None else list(models),
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    row = conn.execute(select(api_tokens).where(api_tokens.c.id == key[0])).mappings().one()
    return TokenRecord.from_row(row)


def issue_token(
    conn: Connection,
    *,
    user_id: int,
    name: str,
    scopes: tuple[str, ...] | None = None,
    models: tuple[str, ...] | None = None,
) -> tuple[TokenRecord, str]:
    """Create an API token; the record and the token itself, which is stored only as a digest.

    InputError for a name that is empty or longer than 100 characters.
    """
    label = name.strip()
    if not 0 < len(label) <= TOKEN_NAME_MAX:
        raise InputError(
            f"A token name is 1 to {TOKEN_NAME_MAX} characters, e.g. 'nightly export'."
        )
    token = new_token()
    digest = token_digest(token)
    record = create_token(
        conn, user_id=user_id, name=label, token_hash=digest, scopes=scopes, models=models
    )
    return record, token


# Built once: every API call runs it, and a statement object keeps its compiled-cache key.
_TOKEN_AND_USER = (
    select(api_tokens, users.c.username, users.c.is_admin, users.c.created_at.label("u_at"))
    .join(users, users.c.id == api_tokens.c.user_id)
    .where(api_tokens.c.token_hash == bindparam("token_hash"))
)


def find_token(conn: Connection, token_hash: str) -> tuple[TokenRecord, UserRecord] | None:
    """The token with this digest and its user (revoked ones too); None if unknown."""
    row = conn.execute(_TOKEN_AND_USER, {"token_hash": token_hash}).mappings().first()
    if row is None:
        return None
    user = UserRecord(row["user_id"], row["username"], bool(row["is_admin"]), row["u_at"])
    return TokenRecord.from_row(row), user


def list_tokens(conn: Connection, user_id: int) -> list[TokenRecord]:
    query = select(api_tokens).where(api_tokens.c.user_id == user_id).order_by(api_tokens.c.id)
    return [TokenRecord.from_row(row) for row in conn.execute(query).mappings()]


def revoke_token(conn: Connection, token_id: int, *, user_id: int | None = None) -> TokenRecord:
    """Mark a token revoked (idempotent); NotFound if it is not there or not the user's."""
    if not 0 < token_id < 2**63:  # beyond any id column: SQLite would refuse the parameter
        raise NotFound(f"Token {token_id} not found.")
    query = select(api_tokens).where(api_tokens.c.id == token_id)
    if user_id is not None:
        query = query.where(api_tokens.c.user_id == user_id)
    if conn.execute(query).first() is None:
        raise NotFound(f"Token {token_id} not found.")
    conn.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return TokenRecord.from_row(conn.execute(query).mappings().one())

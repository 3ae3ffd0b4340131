"""A real uvicorn server on 127.0.0.1 per test, real users and tokens, httpx clients."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from api.app import create_app
from batchscore.config import Settings
from batchscore.credentials import hash_password, new_token, token_digest
from db.engine import Connection, in_transaction
from db.users import UserRecord, create_token, create_user
from scheduler.context import Context


@dataclass(frozen=True)
class Caller:
    user: UserRecord
    token: str
    client: httpx.Client  #: sends this caller's bearer token


@pytest.fixture
def base_url(settings: Settings, ctx: Context) -> Iterator[str]:
    """Serve create_app(settings) with uvicorn on a free loopback port; the app's base URL."""
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)


def make_caller(ctx: Context, base_url: str, username: str, *, admin: bool = False) -> Caller:
    token = new_token()

    def add(conn: Connection) -> UserRecord:
        digest = hash_password("pw-" + username)
        user = create_user(conn, username=username, password_hash=digest, is_admin=admin)
        create_token(conn, user_id=user.id, name="test", token_hash=token_digest(token))
        return user

    user = in_transaction(ctx.engine, add)
    client = httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    return Caller(user, token, client)


@pytest.fixture
def alice(ctx: Context, base_url: str) -> Iterator[Caller]:
    caller = make_caller(ctx, base_url, "alice")
    yield caller
    caller.client.close()


@pytest.fixture
def bob(ctx: Context, base_url: str) -> Iterator[Caller]:
    caller = make_caller(ctx, base_url, "bob")
    yield caller
    caller.client.close()


@pytest.fixture
def admin(ctx: Context, base_url: str) -> Iterator[Caller]:
    caller = make_caller(ctx, base_url, "root", admin=True)
    yield caller
    caller.client.close()


@pytest.fixture
def anonymous(base_url: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base_url, timeout=60) as client:
        yield client

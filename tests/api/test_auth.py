"""Every route but /health needs a valid, unrevoked API token: 401 without one, 403 if revoked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import httpx2
import pytest
from factories import iris_csv
from routes import ROUTES

from batchscore.db.engine import Connection, in_transaction
from batchscore.db.users import list_tokens, revoke_token
from batchscore.scheduler.context import Context

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs

UNKNOWN_TOKEN_MESSAGE = "Unknown API token. Create one with `batchscore token create`."


def _send(client: httpx2.Client, method: str, path: str, job_id: int) -> httpx2.Response:
    """The request a program would send, with an upload for POST /api/jobs."""
    url = path.format(id=job_id)
    if (method, path) == ("POST", "/api/jobs"):
        return client.post(url, files={"file": ("data.csv", iris_csv(2), "text/csv")})
    return client.request(method, url)


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_route_without_token_is_unauthenticated(
    anonymous: httpx2.Client, alice: Caller, jobs: Jobs, method: str, path: str
) -> None:
    job = jobs.make(alice, "PROCESSED")
    response = _send(anonymous, method, path, job.id)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {
        "error": {
            "code": "not_authenticated",
            "message": "Authentication required: send `Authorization: Bearer <token>`.",
        }
    }


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_route_with_unknown_token_is_unauthenticated(
    anonymous: httpx2.Client, alice: Caller, jobs: Jobs, method: str, path: str
) -> None:
    job = jobs.make(alice, "PROCESSED")
    anonymous.headers["Authorization"] = "Bearer not-a-token-anyone-was-given"
    response = _send(anonymous, method, path, job.id)
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {
        "error": {"code": "not_authenticated", "message": UNKNOWN_TOKEN_MESSAGE}
    }


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer", "Basic YWxpY2U6cHc=", "Token {token}", "{token}"],
)
def test_malformed_authorization_header_is_unauthenticated(
    anonymous: httpx2.Client, alice: Caller, authorization: str
) -> None:
    anonymous.headers["Authorization"] = authorization.format(token=alice.token)
    response = anonymous.get("/api/jobs")
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "not_authenticated"


def test_bearer_scheme_is_case_insensitive(anonymous: httpx2.Client, alice: Caller) -> None:
    anonymous.headers["Authorization"] = f"bearer {alice.token}"
    assert anonymous.get("/api/jobs").status_code == 200


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_route_with_revoked_token_is_forbidden(
    ctx: Context, alice: Caller, jobs: Jobs, method: str, path: str
) -> None:
    job = jobs.make(alice, "PROCESSED")

    def revoke_all(conn: Connection) -> None:
        for token in list_tokens(conn, alice.user.id):
            revoke_token(conn, token.id)

    in_transaction(ctx.engine, revoke_all)
    response = _send(alice.client, method, path, job.id)
    assert response.status_code == 403, response.text
    assert response.json() == {
        "error": {"code": "forbidden", "message": "This API token has been revoked."}
    }


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_refused_caller_changes_nothing(
    anonymous: httpx2.Client, alice: Caller, jobs: Jobs, ctx: Context, method: str, path: str
) -> None:
    job = jobs.make(alice, "PROCESSED")
    _send(anonymous, method, path, job.id)
    assert jobs.get(job.id) == job
    assert all(file.exists() for file in jobs.files(job))
    assert sorted(p.name for p in Path(ctx.settings.input_dir).iterdir()) == [job.input_name]

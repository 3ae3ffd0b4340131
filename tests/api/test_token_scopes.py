"""Scoped tokens: a token made with scopes calls only the routes of those scopes (and with
models, predicts only with those); tokens without scopes keep every right of their user."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx2
import pytest
from factories import iris_csv
from routes import JOB_ROUTES, PANEL_PAGES, ROUTES

from batchscore.api.openapi import SCOPE_OF
from batchscore.errors import InputError, NotFound
from batchscore.scheduler.context import Context
from batchscore.scopes import SCOPES
from batchscore.service import accounts

if TYPE_CHECKING:
    from api.conftest import Caller, Jobs, Server

SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
# The scope each route of tests/routes.py needs, as a program would guess it from its name.
NEEDS = {
    ("GET", "/api/jobs/{id}"): "jobs:read",
    ("GET", "/api/jobs/{id}/result"): "jobs:read",
    ("GET", "/api/jobs/{id}/errors"): "jobs:read",
    ("GET", "/api/jobs/{id}/deliveries"): "jobs:read",
    ("GET", "/api/jobs"): "jobs:read",
    ("POST", "/api/jobs"): "jobs:write",
    ("POST", "/api/jobs/{id}/cancel"): "jobs:write",
    ("POST", "/api/jobs/{id}/retry"): "jobs:write",
    ("POST", "/api/jobs/{id}/archive"): "jobs:write",
    ("POST", "/api/jobs/{id}/unarchive"): "jobs:write",
    ("DELETE", "/api/jobs/{id}"): "jobs:write",
    ("GET", "/process_file?id={id}"): "jobs:write",
    ("POST", "/process_file?id={id}"): "jobs:write",
    ("POST", "/api/jobs/failed/retry"): "jobs:write",
    ("POST", "/api/jobs/failed/archive"): "jobs:write",
    ("GET", "/process_all"): "jobs:write",
    ("POST", "/process_all"): "jobs:write",
    ("GET", "/api/webhook"): "webhooks",
    ("PUT", "/api/webhook"): "webhooks",
    ("POST", "/api/webhook/secret"): "webhooks",
    ("GET", "/api/models"): "models:read",
    ("GET", "/api/models/{id}"): "models:read",
    ("POST", "/api/models/{id}/predict"): "predict",
    ("POST", "/invocations"): "predict",
    ("POST", "/api/models/{id}/train"): "models:admin",
    ("POST", "/api/models/{id}/data"): "models:admin",
    ("POST", "/api/models/{id}/versions"): "models:admin",
    ("POST", "/api/models/{id}/versions/{id}/activate"): "models:admin",
}


def scoped(
    ctx: Context, server: Server, caller: Caller, *scopes: str, models: tuple[str, ...] = ()
) -> httpx2.Client:
    _record, token = accounts.new_token(ctx, caller.user.id, "scoped", scopes=scopes, models=models)
    return server.client(headers={"Authorization": f"Bearer {token}"})


def call(client: httpx2.Client, method: str, path: str, job_id: int) -> httpx2.Response:
    url = path.replace("{id}/versions/{id}", "iris/versions/1").replace(
        "models/{id}", "models/iris"
    )
    url = url.replace("{id}", str(job_id))
    return client.request(method, url)


def test_every_route_behind_a_token_names_its_scope() -> None:
    assert set(NEEDS) == set(ROUTES) and set(NEEDS.values()) <= set(SCOPES)
    assert set(SCOPE_OF.values()) == set(SCOPES)


@pytest.mark.parametrize("scope", list(SCOPES))
def test_a_token_with_one_scope_may_call_exactly_its_routes(
    scope: str, admin: Caller, jobs: Jobs, ctx: Context, server: Server
) -> None:
    job = jobs.make(admin, "PROCESSED")
    client = scoped(ctx, server, admin, scope)
    for method, path in ROUTES:
        response = call(client, method, path, job.id)
        refused = response.status_code == 403
        assert refused is (NEEDS[method, path] != scope), (method, path, response.text)
        if refused:
            assert response.json()["error"]["message"] == (
                f"This API token may only {scope}; this needs the scope {NEEDS[method, path]}. "
                "Create a token that may: batchscore token create USER --scope …"
            )


def test_a_scoped_token_opens_no_panel_page(alice: Caller, ctx: Context, server: Server) -> None:
    client = scoped(ctx, server, alice, *SCOPES)
    for method, path in PANEL_PAGES:
        response = client.request(method, path.replace("{id}", "1"))
        assert response.status_code == 403, (method, path)
        if method == "GET":  # a POST is refused for its missing CSRF token first
            assert "needs a token without scopes (or the panel)" in response.text


def test_a_predict_token_for_one_model_predicts_with_it_only(
    alice: Caller, ctx: Context, server: Server
) -> None:
    public_page = scoped(ctx, server, alice, "predict", models=("iris",))
    answer = public_page.post("/api/models/iris/predict", json=SETOSA)
    assert answer.status_code == 200 and answer.json()["prediction"] == "setosa"
    assert public_page.post("/invocations", json={"inputs": [SETOSA]}).status_code == 200
    other = public_page.post("/api/models/housing/predict", json={"CRIM": 0.1})
    assert other.status_code == 403
    assert other.json()["error"]["message"] == (
        "This API token may predict only with iris, not housing."
    )
    files = {"file": ("flowers.csv", iris_csv(3), "text/csv")}
    assert public_page.post("/api/jobs", files=files).status_code == 403


def test_tokens_without_scopes_keep_every_right(alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice, "PROCESSED")
    for path in JOB_ROUTES[:2]:
        assert alice.client.get(path[1].replace("{id}", str(job.id))).status_code == 200


def test_an_unknown_scope_or_model_is_refused(alice: Caller, ctx: Context) -> None:
    with pytest.raises(
        InputError, match="Unknown token scope jobs:everything; choose from predict"
    ):
        accounts.new_token(ctx, alice.user.id, "bad", scopes=["jobs:everything"])
    with pytest.raises(NotFound, match="Model 'nope' not found"):
        accounts.new_token(ctx, alice.user.id, "bad", scopes=["predict"], models=["nope"])
    assert accounts.tokens_of(ctx, alice.user.id)[-1].name != "bad"

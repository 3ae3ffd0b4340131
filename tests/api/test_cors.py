"""CORS against a live server: allowed origins get the headers (errors too), others don't,
credentials never, and with CORS_ALLOWED_ORIGINS empty there are no CORS headers at all."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2
import pytest

from batchscore.config import Settings

pytestmark = pytest.mark.network  # a browser's cross-origin view of a real server

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Serve

APP = "http://localhost:3000"
OTHER = "https://evil.example.com"
PREDICT = "/api/models/iris/predict"
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
ALLOW_ORIGIN = "access-control-allow-origin"


@dataclass(frozen=True)
class Site:
    alice: httpx2.Client  #: sends alice's bearer token
    anonymous: httpx2.Client  #: sends no credentials, as a browser's preflight does


@pytest.fixture
def start(alice: Caller, serve: Serve) -> Iterator[Callable[[Settings], Site]]:
    """Start a live server with changed settings; alice's and an anonymous client for it."""
    with ExitStack() as stack:

        def site(changed: Settings) -> Site:
            client = serve(changed, alice)
            anonymous = stack.enter_context(httpx2.Client(base_url=client.base_url, timeout=60))
            return Site(client, anonymous)

        yield site


@pytest.fixture
def site(settings: Settings, start: Callable[[Settings], Site]) -> Site:
    """A server with CORS for APP (and another app on a port) only."""
    return start(replace(settings, cors_allowed_origins=(APP, "https://app.example.com:8443")))


def preflight(
    client: httpx2.Client, origin: str, method: str = "POST", headers: str = "authorization"
) -> httpx2.Response:
    """The OPTIONS request a browser sends before a cross-origin call that needs one."""
    request_headers = {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": headers,
    }
    return checked(client.options(PREDICT, headers=request_headers))


def checked(response: httpx2.Response) -> httpx2.Response:
    """The response, after checking what must hold for every one: credentials never allowed."""
    assert "access-control-allow-credentials" not in response.headers, response.headers
    return response


def listed(response: httpx2.Response, header: str) -> set[str]:
    """A comma-separated response header as a set of lower-case items."""
    return {item.strip().lower() for item in response.headers.get(header, "").split(",")}


def cors_headers(response: httpx2.Response) -> dict[str, str]:
    return {k: v for k, v in response.headers.items() if k.startswith("access-control-")}


def test_preflight_from_allowed_origin_allows_the_call(site: Site) -> None:
    answer = preflight(site.anonymous, APP, headers="authorization, content-type, x-csrf-token")
    assert answer.status_code == 200, answer.text
    assert answer.headers[ALLOW_ORIGIN] == APP
    assert listed(answer, "access-control-allow-methods") == {"get", "post", "delete"}
    assert {"authorization", "content-type", "x-csrf-token"} <= listed(
        answer, "access-control-allow-headers"
    )
    assert answer.headers["access-control-max-age"] == "600"
    assert "origin" in listed(answer, "vary")  # caches must not serve it to another origin
    assert answer.headers["x-request-id"]  # preflights pass the request id middleware too


def test_call_from_allowed_origin_gets_the_header(site: Site) -> None:
    answer = checked(site.alice.post(PREDICT, json=SETOSA, headers={"Origin": APP}))
    assert answer.status_code == 200, answer.text
    assert answer.json()["prediction"] == "setosa"
    assert answer.headers[ALLOW_ORIGIN] == APP
    assert {"x-request-id", "retry-after"} <= listed(answer, "access-control-expose-headers")
    assert "origin" in listed(answer, "vary")


def test_second_allowed_origin_with_a_port_is_allowed(site: Site) -> None:
    answer = preflight(site.anonymous, "https://app.example.com:8443")
    assert answer.status_code == 200, answer.text
    assert answer.headers[ALLOW_ORIGIN] == "https://app.example.com:8443"


@pytest.mark.parametrize(
    "origin", [OTHER, "http://localhost:3001", "https://localhost:3000", "http://localhost"]
)
def test_preflight_from_other_origin_is_refused(site: Site, origin: str) -> None:
    answer = preflight(site.anonymous, origin)
    assert answer.status_code == 400
    assert answer.text == "Disallowed CORS origin"
    assert ALLOW_ORIGIN not in answer.headers


def test_call_from_other_origin_gets_no_allow_origin(site: Site) -> None:
    # The server still answers (a bearer token, not CORS, guards the API); the browser hides it.
    answer = checked(site.alice.post(PREDICT, json=SETOSA, headers={"Origin": OTHER}))
    assert answer.status_code == 200, answer.text
    assert ALLOW_ORIGIN not in answer.headers


@pytest.mark.parametrize(
    ("method", "headers"), [("PUT", "authorization"), ("POST", "authorization, x-other")]
)
def test_preflight_for_a_method_or_header_not_allowed_is_refused(
    site: Site, method: str, headers: str
) -> None:
    answer = preflight(site.anonymous, APP, method=method, headers=headers)
    assert answer.status_code == 400
    assert answer.text.startswith("Disallowed CORS ")


def test_cors_is_off_by_default(alice: Caller, anonymous: httpx2.Client) -> None:
    refused = preflight(anonymous, APP)
    assert refused.status_code == 405  # no CORS layer: the route knows only POST
    called = checked(alice.client.post(PREDICT, json=SETOSA, headers={"Origin": APP}))
    assert called.status_code == 200, called.text
    assert cors_headers(refused) == {} and cors_headers(called) == {}
    assert "origin" not in listed(called, "vary")


def _no_token(site: Site) -> httpx2.Response:
    return site.anonymous.post(PREDICT, json=SETOSA, headers={"Origin": APP})


def _unknown_token(site: Site) -> httpx2.Response:
    headers = {"Origin": APP, "Authorization": "Bearer not-a-token"}
    return site.anonymous.post(PREDICT, json=SETOSA, headers=headers)


def _unknown_model(site: Site) -> httpx2.Response:
    return site.alice.post("/api/models/nope/predict", json=SETOSA, headers={"Origin": APP})


def _missing_feature(site: Site) -> httpx2.Response:
    record = {k: v for k, v in SETOSA.items() if k != "petal_width"}
    return site.alice.post(PREDICT, json=record, headers={"Origin": APP})


def _unknown_route(site: Site) -> httpx2.Response:
    return site.alice.get("/api/nothing-here", headers={"Origin": APP})


@pytest.mark.parametrize(
    ("send", "status", "code"),
    [
        (_no_token, 401, "not_authenticated"),
        (_unknown_token, 401, "not_authenticated"),
        (_unknown_model, 404, "not_found"),
        (_unknown_route, 404, "not_found"),
        (_missing_feature, 422, "invalid_input"),
    ],
)
def test_error_response_carries_the_header_for_an_allowed_origin(
    site: Site, send: Callable[[Site], httpx2.Response], status: int, code: str
) -> None:
    answer = checked(send(site))
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["code"] == code
    assert answer.headers[ALLOW_ORIGIN] == APP
    assert "x-request-id" in listed(answer, "access-control-expose-headers")


def test_model_unavailable_503_carries_the_header(
    settings: Settings, start: Callable[[Settings], Site], tmp_path: Path
) -> None:
    models = tmp_path / "models"
    shutil.copytree(settings.model_dir, models)
    (models / "iris" / "1" / "model.skops").unlink()
    site = start(replace(settings, model_dir=models, cors_allowed_origins=(APP,)))
    answer = checked(site.alice.post(PREDICT, json=SETOSA, headers={"Origin": APP}))
    assert answer.status_code == 503, answer.text
    assert answer.json()["error"]["code"] == "model_unavailable"
    assert answer.headers[ALLOW_ORIGIN] == APP


def test_any_origin_never_comes_with_credentials(
    settings: Settings, start: Callable[[Settings], Site]
) -> None:
    site = start(replace(settings, cors_allowed_origins=("*",)))
    cookie = {"Cookie": "session=anything"}  # a browser sending credentials anyway
    answer = preflight(site.anonymous, OTHER)
    called = checked(site.alice.post(PREDICT, json=SETOSA, headers={"Origin": OTHER, **cookie}))
    assert answer.status_code == 200 and answer.headers[ALLOW_ORIGIN] == "*"
    assert called.status_code == 200 and called.headers[ALLOW_ORIGIN] == "*"

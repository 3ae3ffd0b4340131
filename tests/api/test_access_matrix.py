"""Every route of the app has a declared access rule, and the panel's pages hold to theirs.

A route added without an entry here fails the first test, so none can slip out of the access
control tests (test_auth.py, test_ownership.py, test_panel.py).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import httpx2
import pytest
from routes import PANEL_PAGES, PUBLIC, ROUTES
from starlette.routing import Mount, Route

from batchscore.api.app import create_app
from batchscore.config import Settings

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs


def route_table(settings: Settings) -> set[tuple[str, str]]:
    """(method, path) of every route the app serves, with `{id}` for any path parameter."""
    app = create_app(settings)
    table = set()
    for route in app.routes:
        path = re.sub(r"\{\w+(:\w+)?\}", "{id}", route.path)  # type: ignore[attr-defined]
        if isinstance(route, Mount):
            table.add(("GET", path))
        elif isinstance(route, Route):
            table |= {(method, path) for method in route.methods or () if method != "HEAD"}
    return table


def test_every_route_has_an_access_rule(settings: Settings) -> None:
    declared = {(method, path.split("?")[0]) for method, path in [*ROUTES, *PUBLIC, *PANEL_PAGES]}
    assert route_table(settings) == declared


@pytest.mark.parametrize(("method", "path"), sorted(PANEL_PAGES))
def test_panel_page_without_a_session_is_refused(
    anonymous: httpx2.Client, alice: Caller, jobs: Jobs, method: str, path: str
) -> None:
    job = jobs.make(alice, "PROCESSED")
    url = path.replace("{id}", str(job.id))
    response = anonymous.request(method, url, headers={"Accept": "text/html"})
    if (method, path) == ("POST", "/logout"):  # no session, so no CSRF token to match
        assert response.status_code == 403
    else:
        assert (response.status_code, response.headers["location"]) == (303, f"/login?next={url}")
    assert alice.client.get(f"/api/jobs/{job.id}").json()["status"] == "PROCESSED"  # her token

"""A browser-like HTTP client of the panel, for tests that need no real browser."""

from __future__ import annotations

import re

import httpx2

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


class PanelClient:
    """A browser-like httpx client of the panel: follows the forms, keeps the session cookie."""

    def __init__(self, http: httpx2.Client | str) -> None:
        """Over `http` (a client of the app), or a new client of the server at that URL."""
        self.http = httpx2.Client(base_url=http, timeout=60) if isinstance(http, str) else http
        self.http.headers["Accept"] = "text/html"

    def csrf(self, path: str = "/login") -> str:
        """The CSRF token of the form on `path` (fetching it sets the session cookie)."""
        response = self.http.get(path)
        found = CSRF_INPUT.search(response.text)
        assert found, f"no CSRF field on {path}: {response.status_code} {response.text[:300]}"
        return found.group(1)

    def sign_in(self, username: str, password: str | None = None) -> httpx2.Response:
        """Post the sign-in form (password `pw-<username>`, as make_caller sets, by default)."""
        form = {
            "csrf_token": self.csrf(),
            "username": username,
            "password": f"pw-{username}" if password is None else password,
        }
        return self.http.post("/login", data=form)

    def close(self) -> None:
        self.http.close()

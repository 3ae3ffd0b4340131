"""Passwords, API tokens and session cookies never reach the server's log."""

from __future__ import annotations

import re
from pathlib import Path

import httpx2
from factories import iris_csv
from panel_client import PanelClient
from processes import Cli, free_port, serving, write_config

from batchscore.config import Settings
from batchscore.credentials import hash_password
from batchscore.db.engine import in_transaction
from batchscore.db.users import create_user
from batchscore.scheduler.context import Context

PASSWORD = "Correct-Horse-7319"
WRONG_PASSWORD = "Wrong-Battery-4242"
TOKEN = re.compile(r"bs_[A-Za-z0-9_-]{20,}")


def test_secrets_never_reach_the_log(ctx: Context, settings: Settings, tmp_path: Path) -> None:
    in_transaction(
        ctx.engine,
        lambda c: create_user(
            c, username="carol", password_hash=hash_password(PASSWORD), is_admin=False
        ),
    )
    port = free_port()
    config = write_config(tmp_path / "serve.properties", settings, HTTP_PORT=port)
    url = f"http://127.0.0.1:{port}"
    panel = PanelClient(url)
    with serving(Cli(config), port) as served:
        assert panel.sign_in("carol", WRONG_PASSWORD).status_code == 401
        assert panel.sign_in("carol", PASSWORD).status_code == 303
        cookie = panel.http.cookies["batchscore_session"]
        page = panel.http.post("/tokens", data={"name": "ci", "csrf_token": panel.csrf("/tokens")})
        found = TOKEN.search(page.text)
        assert found, page.text[:500]
        token = found.group(0)
        bearer = httpx2.Client(base_url=url, headers={"Authorization": f"Bearer {token}"})
        upload = bearer.post("/api/jobs", files={"file": ("a.csv", iris_csv(2), "text/csv")})
        assert upload.status_code == 201
        assert bearer.get("/api/jobs").status_code == 200
        forged = httpx2.get(f"{url}/api/jobs", headers={"Authorization": "Bearer bs_" + "x" * 43})
        assert forged.status_code == 401
        panel.close()
        bearer.close()
    log = served.output
    assert "POST /login" in log and "GET /api/jobs" in log  # the log did record the requests
    for secret in (PASSWORD, WRONG_PASSWORD, token, cookie, "x" * 43):
        assert secret not in log

"""`batchscore serve` processes what is uploaded by itself: a job processor runs beside the web
server (SERVE_PROCESSORS, 1 by default) and stops with it; with 0, jobs wait for cron."""

from __future__ import annotations

import time
from pathlib import Path

import httpx2
from factories import iris_csv
from processes import Cli, free_port, process_state, serving, write_config

from batchscore.config import Settings
from batchscore.scheduler.context import Context
from batchscore.service import accounts


def token_of(ctx: Context) -> str:
    user = accounts.add_user(ctx, "ana", "a-long-password", is_admin=False)
    return accounts.new_token(ctx, user.id, "test")[1]


def status_after(client: httpx2.Client, job_id: int, seconds: float) -> str:
    """The job's status once it is no longer PENDING, or after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        status: str = client.get(f"/api/jobs/{job_id}").json()["status"]
        if status not in ("PENDING", "IN_PROGRESS") or time.monotonic() > deadline:
            return status
        time.sleep(0.2)


def test_an_upload_is_processed_with_no_other_process_started(
    ctx: Context, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    config = write_config(tmp_path / "serve.properties", settings, HTTP_PORT=port)
    headers = {"Authorization": f"Bearer {token_of(ctx)}"}
    with (
        serving(Cli(config), port, processors=None) as served,
        httpx2.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client,
    ):
        created = client.post("/api/jobs", files={"file": ("flowers.csv", iris_csv(5))})
        assert created.status_code == 201, created.text
        assert status_after(client, created.json()["id"], 60) == "PROCESSED"
    assert "Job processor started" in served.output
    children = [line for line in served.output.splitlines() if "started (process" in line]
    pid = int(children[0].rsplit(" ", 1)[1].rstrip(")"))
    assert process_state(pid) in ("", "Z")  # stopped with the server


def test_with_no_processor_an_upload_waits_for_cron(
    ctx: Context, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    config = write_config(tmp_path / "serve.properties", settings, HTTP_PORT=port)
    headers = {"Authorization": f"Bearer {token_of(ctx)}"}
    with (
        serving(Cli(config), port, processors=0) as served,
        httpx2.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client,
    ):
        created = client.post("/api/jobs", files={"file": ("flowers.csv", iris_csv(5))})
        assert status_after(client, created.json()["id"], 3) == "PENDING"
        Cli(config).run("process-all")
        assert status_after(client, created.json()["id"], 10) == "PROCESSED"
    assert "No job processor started" in served.output

"""`batchscore serve` processes what is uploaded by itself: a job processor runs beside the web
server (SERVE_PROCESSORS, 1 by default) and stops with it; with 0, jobs wait for cron."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
from factories import iris_csv
from processes import Cli, Served, free_port, process_state, serving, write_config

from batchscore.config import Settings
from batchscore.scheduler.context import Context
from batchscore.service import accounts


@contextmanager
def uploaded(
    ctx: Context, settings: Settings, folder: Path, processors: int | None
) -> Iterator[tuple[Cli, Served, httpx2.Client, int]]:
    """A served batchscore (`processors` as asked), a client with a token, and the id of the
    job its upload of five iris rows made."""
    port = free_port()
    cli = Cli(write_config(folder / "serve.properties", settings, HTTP_PORT=port))
    user = accounts.add_user(ctx, "ana", "a-long-password", is_admin=False)
    headers = {"Authorization": f"Bearer {accounts.new_token(ctx, user.id, 'test')[1]}"}
    with (
        serving(cli, port, processors=processors) as served,
        httpx2.Client(base_url=f"http://127.0.0.1:{port}", headers=headers) as client,
    ):
        created = client.post("/api/jobs", files={"file": ("flowers.csv", iris_csv(5))})
        assert created.status_code == 201, created.text
        yield cli, served, client, created.json()["id"]


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
    with uploaded(ctx, settings, tmp_path, processors=None) as (_, served, client, job_id):
        assert status_after(client, job_id, 60) == "PROCESSED"
    assert "Job processor started" in served.output
    children = [line for line in served.output.splitlines() if "started (process" in line]
    pid = int(children[0].rsplit(" ", 1)[1].rstrip(")"))
    assert process_state(pid) in ("", "Z")  # stopped with the server


def test_with_no_processor_an_upload_waits_for_cron(
    ctx: Context, settings: Settings, tmp_path: Path
) -> None:
    with uploaded(ctx, settings, tmp_path, processors=0) as (cli, served, client, job_id):
        assert status_after(client, job_id, 3) == "PENDING"
        cli.run("process-all")
        assert status_after(client, job_id, 10) == "PROCESSED"
    assert "No job processor started" in served.output


def test_submit_wait_and_process_file_answer_with_the_job_the_server_processed(
    ctx: Context, settings: Settings, tmp_path: Path
) -> None:
    """The README's `submit --wait` and `/process_file?id=` while serve processes by itself:
    whoever gets the job first, the caller gets it ended, not a 'nothing pending'."""
    with uploaded(ctx, settings, tmp_path, processors=None) as (cli, _, client, job_id):
        processed = client.post("/process_file", params={"id": job_id})
        assert processed.status_code == 200, processed.text
        assert processed.json()["status"] == "PROCESSED"
        flowers = tmp_path / "more.csv"
        flowers.write_text(iris_csv(5))
        waited = cli.run("submit", str(flowers), "--user", "ana", "--wait")
        ended = waited.stdout.splitlines()[-1]
        assert re.fullmatch(r"Job \d+ PROCESSED: 5 rows, 0 with errors in .* → .*\.xlsx", ended)
        assert cli.run("process", check=False).returncode == 3  # nothing was left for it

"""What an operator runs at 3 a.m.: `batchscore status`, `batchscore prune`, and JSON log lines
a collector can follow a job by; through the real command against real processes."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from factories import iris_csv, submit
from jobstate import job_now, wait_for
from processes import Cli, write_config
from sqlalchemy import update

from batchscore.config import Settings
from batchscore.db.engine import in_transaction
from batchscore.db.jobs import JobFilter, JobStatus, list_jobs
from batchscore.db.tables import jobs
from batchscore.scheduler.context import Context

pytestmark = pytest.mark.slow


def test_status_shows_the_queue_and_a_running_worker_then_its_stop(ctx: Context, cli: Cli) -> None:
    first = submit(ctx, iris_csv(5), "first.csv")
    worker = cli.start("worker", "--poll", "0.1")
    try:
        wait_for(lambda: job_now(ctx, first.id).status is JobStatus.PROCESSED)
        waiting = [submit(ctx, iris_csv(5), f"{n}.csv") for n in range(2)]
        wait_for(lambda: all(job_now(ctx, j.id).status is JobStatus.PROCESSED for j in waiting))

        running = json.loads(cli.run("status", "--json").stdout)
    finally:
        worker.send_signal(signal.SIGTERM)
        _out, log = worker.communicate(timeout=60)
    assert worker.returncode == 0, log

    [seen] = running["workers"]
    assert (seen["role"], seen["stopped"]) == ("worker", False)
    assert running["jobs"]["PROCESSED"] == 3 and running["jobs"]["PENDING"] == 0
    assert running["finished_jobs"] == 3

    submit(ctx, iris_csv(5), "later.csv")
    text = cli.run("status").stdout
    assert "Queue: 1 pending, the oldest waiting" in text
    assert "Jobs: 1 PENDING · 0 IN_PROGRESS · 3 PROCESSED · 0 FAILED" in text
    assert f"{seen['worker_id']}" in text and "stopped" in text and "3 jobs done" in text


def test_status_of_an_empty_system_says_so_plainly(cli: Cli) -> None:
    text = cli.run("status").stdout
    assert text == (
        "Queue: 0 pending; 0 in progress\n"
        "Jobs: 0 PENDING · 0 IN_PROGRESS · 0 PROCESSED · 0 FAILED · 0 CANCELLED\n"
        "Workers seen in the last 2 minutes or holding a job: 0\n"
    )


def _age(ctx: Context, job_id: int, days: float) -> None:
    ended = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days)
    in_transaction(
        ctx.engine,
        lambda c: c.execute(
            update(jobs).where(jobs.c.id == job_id).values(finished_at=ended, created_at=ended)
        ),
    )


def test_prune_deletes_old_archived_jobs_and_their_files_only(ctx: Context, cli: Cli) -> None:
    old, recent, unarchived = (submit(ctx, iris_csv(3), f"{n}.csv") for n in ("o", "r", "u"))
    cli.run("process-all")
    archive = update(jobs).where(jobs.c.id.in_([old.id, recent.id])).values(archived=True)
    in_transaction(ctx.engine, lambda c: c.execute(archive))
    for job, days in ((old, 40), (recent, 10), (unarchived, 40)):
        _age(ctx, job.id, days)
    files = {j.id: job_now(ctx, j.id) for j in (old, recent, unarchived)}

    dry = cli.run("prune", "--older-than", "30d", "--dry-run").stdout
    assert dry.endswith("1 archived jobs ended over 30 d ago would be deleted (dry run).\n")
    assert f"{old.id}  PROCESSED" in dry
    assert job_now(ctx, old.id).status is JobStatus.PROCESSED  # a dry run deletes nothing

    done = cli.run("prune", "--older-than", "30d")

    assert done.stdout == "Deleted 1 archived jobs ended over 30 d ago, with their files.\n"
    listed = in_transaction(ctx.engine, lambda c: list_jobs(c, JobFilter(include_archived=True)))
    assert {j.id for j in listed} == {recent.id, unarchived.id}
    assert not Path(ctx.settings.input_dir, files[old.id].input_name).exists()
    assert not Path(ctx.settings.output_dir, str(files[old.id].output_name)).exists()
    for kept in (recent, unarchived):
        assert Path(ctx.settings.input_dir, files[kept.id].input_name).exists()
        assert Path(ctx.settings.output_dir, str(files[kept.id].output_name)).exists()


@pytest.mark.parametrize("age", ["30", "thirty days", "30y", "-3d", ""])
def test_prune_refuses_an_age_it_cannot_read(cli: Cli, age: str) -> None:
    result = cli.run("prune", f"--older-than={age}", check=False)
    assert result.returncode == 2
    assert f"argument --older-than: {age!r} is not an age such as 30d, 12h, 90m or 2w" in (
        result.stderr
    )


def test_json_logs_carry_the_job_id_on_every_line_of_a_job(
    ctx: Context, settings: Settings, tmp_path: Path
) -> None:
    cli = Cli(write_config(tmp_path / "json.properties", settings, LOG_FORMAT="json"))
    job = submit(ctx, iris_csv(5), "logged.csv")

    result = cli.run("process")

    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert lines, "the processor logged nothing"
    of_job = [line for line in lines if f"Job {job.id} " in line["message"]]
    messages = [line["message"] for line in of_job]
    assert messages[0].startswith(f"Job {job.id} claimed by ")
    assert messages[-1].startswith(f"Job {job.id} processed: 5 rows, 0 failed")
    assert all(line["job_id"] == job.id for line in of_job)
    assert {"time", "level", "logger", "message"} <= set(of_job[0])
    datetime.fromisoformat(of_job[0]["time"])


def test_an_unknown_log_format_is_a_configuration_error(settings: Settings, tmp_path: Path) -> None:
    cli = Cli(write_config(tmp_path / "bad.properties", settings, LOG_FORMAT="xml"))
    result = cli.run("status", check=False)
    assert (result.returncode, result.stderr) == (
        2,
        "configuration error: Config key LOG_FORMAT = 'xml' is invalid: expected text or json.\n",
    )

"""Several real processor processes at once, killed and stopped: nothing lost, nothing run twice."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from factories import IRIS_ROW, csv_text, iris_csv, submit
from jobstate import all_jobs, assert_each_processed_exactly_once, attempts_of, sheet_rows, wait_for
from processes import Cli, wait_all, write_config

from batchscore.config import Settings
from batchscore.db.engine import in_transaction
from batchscore.db.jobs import JobStatus, get_job, list_attempts
from batchscore.scheduler.context import Context

pytestmark = pytest.mark.slow
CRONTAB = Path(__file__).parents[2] / "crontab.txt"


def test_four_processors_process_200_jobs_exactly_once(ctx: Context, cli: Cli) -> None:
    for i in range(200):
        submit(ctx, iris_csv(1 + i % 5), f"file{i}.csv")
    processes = [cli.start("process-all") for _ in range(4)]
    assert wait_all(processes) == [0, 0, 0, 0]
    jobs = all_jobs(ctx)
    assert len(jobs) == 200
    assert_each_processed_exactly_once(ctx, jobs)
    outputs = sorted(p.name for p in Path(ctx.settings.output_dir).iterdir())
    assert outputs == sorted(str(j.output_name) for j in jobs)  # 200 results, no temp files
    for job in jobs:
        assert job.output_name and job.rows_total
        assert sheet_rows(Path(ctx.settings.output_dir, job.output_name)) == 1 + job.rows_total
    workers = {a.worker_id for j in jobs for a in attempts_of(ctx, j.id)}
    assert len(workers) > 1  # the work really was shared


def test_overlapping_cron_runs_process_each_job_once(
    ctx: Context, settings: Settings, tmp_path: Path
) -> None:
    """Three copies of crontab.txt's own command at once, as when one cron run overlaps the next."""
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    os.symlink(Path(sys.prefix), home / ".venv")
    write_config(home / "ConfigFile.properties", settings)
    line = next(x for x in CRONTAB.read_text().splitlines() if re.match(r"^[*\d]", x))
    command = line.split(None, 5)[5]
    for i in range(30):
        submit(ctx, iris_csv(2), f"cron{i}.csv")
    env = {**os.environ, "BATCHSCORE_HOME": str(home)}
    runs = [subprocess.Popen(["/bin/sh", "-c", command], env=env, text=True) for _ in range(3)]
    assert wait_all(runs) == [0, 0, 0]
    assert_each_processed_exactly_once(ctx, all_jobs(ctx))
    assert "processed" in (home / "data" / "cron.log").read_text()


def test_killed_processor_job_is_completed_by_the_next_after_lease_expiry(
    ctx: Context, settings: Settings, tmp_path: Path
) -> None:
    rows = 200_000
    job = submit(ctx, csv_text([IRIS_ROW] * rows), "big.csv")
    cli = Cli(
        write_config(tmp_path / "fast.properties", settings, LEASE_SECONDS=2, CHUNK_ROWS=2000)
    )
    victim = cli.start("process")
    wait_for(lambda: in_transaction(ctx.engine, lambda c: get_job(c, job.id)).rows_done > 0)
    victim.send_signal(signal.SIGKILL)
    wait_all([victim])
    killed = in_transaction(ctx.engine, lambda c: get_job(c, job.id))
    assert killed.status is JobStatus.IN_PROGRESS and 0 < killed.rows_done < rows
    final = Path(ctx.settings.output_dir, ctx.storage.result_name(job.id, "big.csv", "xlsx"))
    assert not final.exists()  # only the temp file of the dead attempt exists
    assert [p.name.startswith(".") for p in Path(ctx.settings.output_dir).iterdir()] == [True]

    # The next processor takes the job once the lease has expired (2 s after the last renewal).
    wait_for(lambda: cli.run("process", check=False).returncode != 3, timeout=30, interval=0.5)
    done = in_transaction(ctx.engine, lambda c: get_job(c, job.id))
    assert (done.status, done.rows_total, done.attempts) == (JobStatus.PROCESSED, rows, 2)
    attempts = in_transaction(ctx.engine, lambda c: list_attempts(c, job.id))
    assert [a.outcome for a in attempts] == ["LEASE_EXPIRED", "PROCESSED"]
    assert sheet_rows(final) == rows + 1
    assert [p.name for p in Path(ctx.settings.output_dir).iterdir()] == [
        final.name
    ]  # temp file cleaned


def test_eight_mixed_processors_run_1000_jobs_exactly_once(ctx: Context, cli: Cli) -> None:
    """Four cron runs (`process-all`) and four `worker`s claim from one queue at once."""
    for i in range(1000):
        submit(ctx, iris_csv(1), f"tiny{i}.csv")
    cron_runs = [cli.start("process-all") for _ in range(4)]
    workers = [cli.start("worker", "--poll", "0.1") for _ in range(4)]
    assert wait_all(cron_runs) == [0, 0, 0, 0]
    wait_for(lambda: all(j.status is JobStatus.PROCESSED for j in all_jobs(ctx)), timeout=300)
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    assert wait_all(workers) == [0, 0, 0, 0]
    jobs = all_jobs(ctx)
    assert len(jobs) == 1000
    assert_each_processed_exactly_once(ctx, jobs)
    outputs = sorted(p.name for p in Path(ctx.settings.output_dir).iterdir())
    assert outputs == sorted(str(j.output_name) for j in jobs)  # no temp file left either
    pids = {int(str(j.worker_id).split(":")[1]) for j in jobs}  # worker ids are host:pid:random
    assert pids & {p.pid for p in cron_runs} and pids & {p.pid for p in workers}

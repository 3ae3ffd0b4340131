"""SIGTERM to a worker or a cron run: finish the job in hand; a second one gives it back now."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from factories import IRIS_ROW, csv_text, iris_csv, submit
from jobstate import attempts_of, job_now, wait_for
from processes import Cli

from batchscore.db.jobs import JobStatus
from batchscore.scheduler.context import Context

pytestmark = pytest.mark.slow
FINISHING = "SIGTERM received: finishing the current job, then stopping"


def start_logged(cli: Cli, log: Path, *args: str) -> subprocess.Popen[str]:
    """Start a command with its log going to a file the test can read while it runs."""
    with log.open("w") as sink:
        return subprocess.Popen(cli.args(*args), stdout=subprocess.DEVNULL, stderr=sink, text=True)


@pytest.mark.parametrize("command", [["worker", "--poll", "0.1"], ["process-all"]])
def test_sigterm_finishes_the_current_job_and_takes_no_more(
    ctx: Context, cli: Cli, tmp_path: Path, command: list[str]
) -> None:
    first = submit(ctx, csv_text([IRIS_ROW] * 150_000), "first.csv")  # seconds of work
    second = submit(ctx, iris_csv(1), "second.csv")
    log = tmp_path / "log"
    process = start_logged(cli, log, *command)
    wait_for(lambda: job_now(ctx, first.id).status is JobStatus.IN_PROGRESS)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=120) == 0
    assert job_now(ctx, first.id).status is JobStatus.PROCESSED
    assert job_now(ctx, second.id).status is JobStatus.PENDING
    assert FINISHING in log.read_text()


def test_second_sigterm_gives_the_job_back_at_once(ctx: Context, cli: Cli, tmp_path: Path) -> None:
    """Back to PENDING at exit, not after the lease (30 s here); a third signal changes nothing."""
    rows = 300_000
    job = submit(ctx, csv_text([IRIS_ROW] * rows), "big.csv")
    log = tmp_path / "log"
    worker = start_logged(cli, log, "worker", "--poll", "0.1")
    # Its temp result exists once scoring starts. Progress would come too late to wait for: the
    # first heartbeat can find the job nearly done, and its last second is the xlsx writer
    # zipping without running Python, so the signal would only be handled after the rename.
    wait_for(lambda: any(Path(ctx.settings.output_dir).iterdir()))
    worker.send_signal(signal.SIGTERM)
    wait_for(lambda: FINISHING in log.read_text())
    worker.send_signal(signal.SIGTERM)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) == 0

    given_back = job_now(ctx, job.id)
    assert (given_back.status, given_back.attempts) == (JobStatus.PENDING, 0)
    assert (given_back.claim_token, given_back.rows_done, given_back.rows_total) == (None, 0, None)
    assert [a.outcome for a in attempts_of(ctx, job.id)] == ["RELEASED"]
    assert list(Path(ctx.settings.output_dir).iterdir()) == []  # no partial file, no temp file
    assert "SIGTERM received again: giving the current job back, then stopping" in log.read_text()
    assert f"Job {job.id} given back: PENDING again" in log.read_text()
    assert "Traceback" not in log.read_text()

    assert cli.run("process").returncode == 0  # and the next processor does it in full
    done = job_now(ctx, job.id)
    assert (done.status, done.rows_total, done.attempts) == (JobStatus.PROCESSED, rows, 1)
    assert [a.outcome for a in attempts_of(ctx, job.id)] == ["RELEASED", "PROCESSED"]

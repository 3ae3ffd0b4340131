"""`kill -9` of a processor at each point of a job's life: re-run, never lost, never doubled.

tests/killpoint.py kills the real `batchscore process` exactly at a point; the next processor
run after the lease has expired must finish the job with a whole file and no leftovers.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest
from factories import iris_csv, submit
from jobstate import attempts_of, job_now, sheet_rows, wait_for
from processes import KILLPOINT, Cli, killed_at, process_state, process_until, write_config

from batchscore.config import Settings
from batchscore.db.jobs import JobStatus
from batchscore.scheduler.context import Context

pytestmark = pytest.mark.slow
ROWS = 500


def folder_names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.fixture
def fast(tmp_path: Path, settings: Settings) -> Cli:
    """Processors with a 2-second lease and two attempts per job."""
    config = tmp_path / "fast.properties"
    return Cli(write_config(config, settings, LEASE_SECONDS=2, MAX_ATTEMPTS=2))


@pytest.mark.parametrize(
    ("point", "left_under_final_name"),
    [("reading", False), ("before-rename", False), ("after-rename", True)],
)
def test_job_killed_at_a_point_is_processed_once_by_the_next_run(
    ctx: Context, fast: Cli, point: str, left_under_final_name: bool
) -> None:
    job = submit(ctx, iris_csv(ROWS), "crash.csv")
    out = Path(ctx.settings.output_dir)
    final = Path(ctx.settings.output_dir, ctx.storage.result_name(job.id, "crash.csv", "xlsx"))
    folder = Path(ctx.settings.input_dir) if point == "reading" else out

    killed_at(fast, point, folder)
    dead = job_now(ctx, job.id)
    assert (dead.status, dead.output_name) == (JobStatus.IN_PROGRESS, None)  # nobody may read it
    if left_under_final_name:  # renamed only when whole: a crash here leaves a whole file
        assert sheet_rows(final) == ROWS + 1
    assert final.exists() is left_under_final_name
    assert all(name.endswith(".part") for name in folder_names(out) if name != final.name)

    process_until(fast, lambda: job_now(ctx, job.id).status is not JobStatus.IN_PROGRESS)
    done = job_now(ctx, job.id)
    assert (done.status, done.attempts, done.rows_total) == (JobStatus.PROCESSED, 2, ROWS)
    assert [a.outcome for a in attempts_of(ctx, job.id)] == ["LEASE_EXPIRED", "PROCESSED"]
    assert sheet_rows(final) == ROWS + 1
    assert folder_names(out) == [final.name]  # the dead attempt's temp file is gone


def test_job_that_kills_every_processor_fails_after_max_attempts(ctx: Context, fast: Cli) -> None:
    """A poison job: FAILED with the reason after MAX_ATTEMPTS (2) deaths, its temp files
    removed, and the job behind it processed."""
    poison = submit(ctx, iris_csv(ROWS), "poison.csv")
    out = Path(ctx.settings.output_dir)
    killed_at(fast, "before-rename", out)
    killed_at(fast, "before-rename", out)
    assert len(folder_names(out)) == 1  # the second attempt removed the first one's temp file
    good = submit(ctx, iris_csv(ROWS), "good.csv")

    process_until(fast, lambda: job_now(ctx, poison.id).status is JobStatus.FAILED)
    failed = job_now(ctx, poison.id)
    assert failed.attempts == 2
    assert failed.error_message == (
        "The processor working on this file stopped 2 times without finishing (killed, crashed "
        "or out of memory), so it was not tried again. Check the file's size and content, then "
        "retry."
    )
    assert [a.outcome for a in attempts_of(ctx, poison.id)] == ["LEASE_EXPIRED"] * 2
    processed = job_now(ctx, good.id)
    assert processed.status is JobStatus.PROCESSED
    assert folder_names(out) == [processed.output_name]  # the poison job's temp file is gone


def test_frozen_processor_resumed_after_its_job_was_redone_changes_nothing(
    ctx: Context, fast: Cli
) -> None:
    """Fencing: SIGSTOP just before the rename, the job redone by another, then SIGCONT.

    The stale attempt's temp file was deleted when its claim was found dead, so its rename
    fails and it can neither publish over the new result nor record an outcome.
    """
    job = submit(ctx, iris_csv(ROWS), "frozen.csv")
    out = Path(ctx.settings.output_dir)
    args = [sys.executable, str(KILLPOINT), "--freeze", "before-rename", str(out)]
    frozen = subprocess.Popen([*args, *fast.args("process")[3:]], stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: process_state(frozen.pid) == "T")  # stopped
        process_until(fast, lambda: job_now(ctx, job.id).status is JobStatus.PROCESSED)
        done = job_now(ctx, job.id)
        frozen.send_signal(signal.SIGCONT)
        _out, log = frozen.communicate(timeout=60)
    finally:
        frozen.kill()
    assert "lease lost before its failure could be recorded" in log
    assert job_now(ctx, job.id) == done
    assert [a.outcome for a in attempts_of(ctx, job.id)] == ["LEASE_EXPIRED", "PROCESSED"]
    assert done.output_name and folder_names(out) == [done.output_name]
    assert sheet_rows(Path(ctx.settings.output_dir, done.output_name)) == ROWS + 1

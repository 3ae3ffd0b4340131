"""Long commands show how far they got: a bar on a terminal, one line per job in a log."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import shutil
import struct
import subprocess
import termios
from dataclasses import replace
from pathlib import Path

import pytest
from factories import iris_csv, submit, write_csv
from processes import Cli

from batchscore.config import Settings
from batchscore.db.engine import in_transaction
from batchscore.db.jobs import claim_next_job, renew_lease
from batchscore.scheduler.context import Context

EXAMPLE = Path(__file__).parents[2] / "examples" / "iris.csv"


@pytest.fixture
def settings(settings: Settings, demo_model_dir: Path, tmp_path: Path) -> Settings:
    """A copy of the demo model folder: `model train` here adds a model to it."""
    model_dir = tmp_path / "models"
    shutil.copytree(demo_model_dir, model_dir)
    return replace(settings, model_dir=model_dir)


def on_terminal(cli: Cli, *args: str) -> tuple[str, str]:
    """Run a command with stderr on a 100-column pseudo-terminal: (stdout, what the terminal
    showed)."""
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 100, 0, 0))
    with subprocess.Popen(cli.args(*args), stdout=subprocess.PIPE, stderr=terminal) as process:
        os.close(terminal)
        shown = b""
        while True:
            try:
                block = os.read(controller, 65536)
            except OSError:  # EIO: the command ended and closed its end
                break
            if not block:
                break
            shown += block
        os.close(controller)
        assert process.stdout is not None
        stdout = process.stdout.read().decode()
        assert process.wait(timeout=120) == 0, shown.decode()
    return stdout, shown.decode()


def submitted(cli: Cli, csv: Path) -> int:
    """Submit through the CLI and return the job number it printed (MariaDB keeps counting
    across tests, so the number is not always 1)."""
    queued = re.match(r"Job (\d+) queued: ", cli.run("submit", str(csv)).stdout)
    assert queued is not None
    return int(queued[1])


def test_process_draws_rows_done_of_total_on_a_terminal(cli: Cli, tmp_path: Path) -> None:
    job = submitted(cli, write_csv(tmp_path / "flowers.csv", iris_csv(150)))
    stdout, shown = on_terminal(cli, "process")
    frames = shown.split("\r")
    assert any(f"Job {job} flowers.csv:" in frame and "0.00/150" in frame for frame in frames)
    assert any("100%" in frame and "150/150" in frame and "rows/s" in frame for frame in frames)
    assert stdout.startswith(f"Job {job} PROCESSED: 150 rows, 0 with errors in ")  # no bar here


def test_submit_and_train_draw_bars_on_a_terminal(cli: Cli, tmp_path: Path) -> None:
    labelled = write_csv(tmp_path / "labelled.csv", EXAMPLE.read_text())
    _, saving = on_terminal(cli, "submit", str(labelled))
    assert "Saving labelled.csv" in saving and "Checking labelled.csv" in saving
    _, training = on_terminal(
        cli, "model", "train", str(labelled), "--name", "flowers", "--target", "species"
    )
    assert "Reading labelled.csv" in training and "/150 [" in training
    assert "Training flowers on 150 rows… 00:0" in training


def test_without_a_terminal_each_job_is_one_line(cli: Cli, tmp_path: Path) -> None:
    jobs = [submitted(cli, write_csv(tmp_path / f"{name}.csv", iris_csv(10))) for name in "ab"]
    result = cli.run("process-all")
    lines = result.stdout.splitlines()
    assert [line.split(" in ")[0] for line in lines[:2]] == [
        f"Job {job} PROCESSED: 10 rows, 0 with errors" for job in jobs
    ]
    assert all("rows/s) → " in line and line.endswith(".xlsx") for line in lines[:2])
    assert lines[2:] == ["2 processed, 0 failed, 0 handed over."]
    assert "\r" not in result.stdout + result.stderr


def test_jobs_shows_rows_done_of_total_while_a_job_runs(cli: Cli, ctx: Context) -> None:
    job = submit(ctx, iris_csv(10))
    claimed = in_transaction(
        ctx.engine, lambda c: claim_next_job(c, worker_id="test", lease_seconds=60)
    )
    assert claimed is not None and claimed.claim_token is not None
    token = claimed.claim_token
    in_transaction(
        ctx.engine,
        lambda c: renew_lease(
            c, job.id, token, lease_seconds=60, rows_done=4_000, rows_failed=0, rows_total=12_500
        ),
    )
    row = cli.run("jobs").stdout.splitlines()[1]
    assert row.split()[:3] == [str(job.id), "IN_PROGRESS", "4,000/12,500"]

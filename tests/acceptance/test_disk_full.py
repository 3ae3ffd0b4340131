"""A result that cannot be written (disk full) fails its job with a reason; the next job runs."""

from __future__ import annotations

import hashlib
import resource
import subprocess
from pathlib import Path

import pytest
from factories import csv_text, iris_csv, submit
from processes import Cli

from batchscore.db.engine import in_transaction
from batchscore.db.jobs import JobStatus, get_job
from batchscore.scheduler.context import Context

pytestmark = pytest.mark.slow
LIMIT_BYTES = 512 * 1024  # largest file the processor may write: the "disk" is full after it


def note(i: int) -> str:
    return hashlib.blake2b(str(i).encode(), digest_size=8).hexdigest()  # incompressible


def limit_file_size() -> None:
    """In the child: writing past the limit fails with EFBIG, as a full disk fails with ENOSPC."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (LIMIT_BYTES, LIMIT_BYTES))


@pytest.mark.parametrize("output_format", ["xlsx", "csv", "parquet"])
def test_full_disk_fails_the_job_keeps_the_input_and_the_next_job_runs(
    ctx: Context, cli: Cli, output_format: str
) -> None:
    # The note column differs on every row, so no format compresses the result under the limit.
    rows = [(f"{4 + i % 40 / 10:.1f}", "3.0", "1.4", "0.2", note(i)) for i in range(60_000)]
    header = ("sepal_length", "sepal_width", "petal_length", "petal_width", "note")
    big = submit(ctx, csv_text(rows, header), "big.csv", output_format=output_format)
    small = submit(ctx, iris_csv(2), "small.csv", output_format=output_format)
    run = subprocess.run(
        cli.args("process-all"),
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=limit_file_size,
    )
    assert run.returncode == 0, run.stderr  # a failed job is not a failed cron run
    failed = in_transaction(ctx.engine, lambda c: get_job(c, big.id))
    assert failed.status is JobStatus.FAILED
    message = str(failed.error_message)
    assert "A file could not be written or read (" in message and "File too large" in message
    assert "Ask the operator to check the disk space" in str(failed.error_message)
    assert Path(ctx.settings.input_dir, big.input_name).stat().st_size == big.input_bytes
    done = in_transaction(ctx.engine, lambda c: get_job(c, small.id))
    assert done.status is JobStatus.PROCESSED, done.error_message
    outputs = sorted(p.name for p in Path(ctx.settings.output_dir).iterdir())
    assert outputs == [done.output_name]  # no unfinished file of the failed job

"""The real `batchscore` command with INPUT_DIR/OUTPUT_DIR in a bucket on a real
S3-compatible server (moto): submit, process, a killed processor, a missing bucket."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import iris_csv, submit
from jobstate import job_now
from processes import Cli, killed_at, process_until, write_config
from results import xlsx_rows
from s3_server import BUCKET, Bucket, in_bucket

from batchscore.config import Settings
from batchscore.db.jobs import JobStatus
from batchscore.scheduler.context import Context

EXAMPLE = Path(__file__).parents[2] / "examples" / "iris.csv"
ROWS = 5000


@pytest.fixture
def settings(settings: Settings, bucket: Bucket) -> Settings:
    """Every fixture built on `settings` (ctx, cli) uses the bucket."""
    return in_bucket(settings, bucket.endpoint)


rows = xlsx_rows


def test_submit_then_process_publishes_the_result_in_the_bucket(
    cli: Cli, bucket: Bucket, settings: Settings, tmp_path: Path
) -> None:
    job_id = cli.run("submit", str(EXAMPLE)).stdout.split()[1]  # "Job 7 queued: …"
    processed = cli.run("process")
    assert "PROCESSED: 150 rows, 0 with errors" in processed.stdout
    url = processed.stdout.strip().split("→ ")[1]
    assert url == f"s3://{BUCKET}/output/job-{job_id}-iris.xlsx"
    result = rows(bucket.read(f"output/job-{job_id}-iris.xlsx"))

    local = Cli(
        write_config(
            tmp_path / "local.properties",
            settings,
            INPUT_DIR=tmp_path / "in",
            OUTPUT_DIR=tmp_path / "out",
        )
    )
    local.run("submit", str(EXAMPLE))
    done = local.run("process")
    assert rows(Path(done.stdout.strip().split("→ ")[1]).read_bytes()) == result
    assert list(settings.cache_dir.iterdir()) == []


def test_missing_bucket_is_a_config_error_not_a_traceback(
    settings: Settings, tmp_path: Path
) -> None:
    cli = Cli(write_config(tmp_path / "c.properties", settings, INPUT_DIR="s3://nowhere/in"))
    result = cli.run("init", check=False)
    assert result.returncode == 2
    assert "Bucket nowhere of s3://nowhere/in does not exist" in result.stderr
    assert "Traceback" not in result.stderr


def test_killed_processor_leaks_nothing_into_the_bucket(
    ctx: Context, settings: Settings, bucket: Bucket, tmp_path: Path
) -> None:
    """SIGKILL with the result whole in the cache, not yet uploaded: the bucket holds no trace,
    and the next processor (after the lease) drops the dead claim's local files."""
    job = submit(ctx, iris_csv(ROWS), "big.csv")
    fast = Cli(write_config(tmp_path / "fast.properties", settings, LEASE_SECONDS=2))
    killed_at(fast, "finished", settings.cache_dir)
    assert job_now(ctx, job.id).status is JobStatus.IN_PROGRESS
    assert bucket.keys() == [f"input/{job.input_name}"]  # no result, no temp object
    assert bucket.open_uploads() == []
    left = {p.name.split(".", 2)[-1] for p in settings.cache_dir.iterdir()}
    assert left == {"input.part", "xlsx.part"}  # the dead claim's local copy and result

    process_until(fast, lambda: job_now(ctx, job.id).status is not JobStatus.IN_PROGRESS)
    done = job_now(ctx, job.id)
    assert (done.status, done.rows_total, done.attempts) == (JobStatus.PROCESSED, ROWS, 2)
    assert bucket.keys() == [f"input/{job.input_name}", f"output/{done.output_name}"]
    assert len(rows(bucket.read(f"output/{done.output_name}"))) == ROWS + 1
    assert list(settings.cache_dir.iterdir()) == []

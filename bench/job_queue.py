"""The job queue: how soon a worker picks a job up, and how many tiny jobs it runs per second.

Pick-up latency: a `batchscore worker` runs idle; 20 small jobs are submitted one at a time,
each after the previous finished; latency = started_at - created_at (database clock). Measured
with the default POLL_SECONDS and, as the baseline, with POLL_SECONDS=2 (the old default).

Throughput: N tiny jobs (one iris row each) are queued, then P `batchscore process-all`
processes (cron's command) start at once; jobs/s is N over the wall time until all exit. The
baseline is one processor in the same run. Every job must be PROCESSED by exactly one attempt.

    .venv/bin/python bench/job_queue.py [--jobs 1000] [--processors 4]
        [--database-url mysql+pymysql://user:pw@127.0.0.1:3307/db]   (default: SQLite)
"""

from __future__ import annotations

import argparse
import io
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

from sqlalchemy import delete, func, select

from batchscore.config import load_settings
from batchscore.db import migrate
from batchscore.db.engine import in_transaction
from batchscore.db.jobs import JobStatus, get_job
from batchscore.db.tables import job_attempts, jobs
from batchscore.model.train import train_demo_model
from batchscore.scheduler.context import Context
from batchscore.service.intake import submit_file

TINY = b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n"


def environ_for(work: Path, database_url: str | None, **extra: str) -> dict[str, str]:
    values = {
        "DB_URL": database_url or f"sqlite:///{work / 'queue.db'}",
        "INPUT_DIR": str(work / "input"),
        "OUTPUT_DIR": str(work / "output"),
        "MODEL_DIR": str(work / "models"),
        **extra,
    }
    return {**os.environ, **{f"BATCHSCORE_{key}": value for key, value in values.items()}}


def fresh_context(environ: dict[str, str]) -> Context:
    """The schema at head with no jobs left from an earlier run, and the demo model."""
    ctx = Context.from_settings(load_settings(environ=environ))
    migrate.upgrade(ctx.engine)
    in_transaction(ctx.engine, lambda c: c.execute(delete(jobs)))
    train_demo_model(ctx.settings.model_dir)
    return ctx


def batchscore(*args: str, environ: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "batchscore", *args], env=environ, stderr=subprocess.DEVNULL
    )


def pickup_latencies(environ: dict[str, str], count: int) -> list[float]:
    ctx = fresh_context(environ)
    worker = batchscore("worker", environ=environ)
    pause = random.Random(7)
    try:
        time.sleep(3)  # let it start and go idle
        latencies = []
        for i in range(count):
            job = submit_file(ctx, io.BytesIO(TINY), f"pickup-{i}.csv")
            while job.status in (JobStatus.PENDING, JobStatus.IN_PROGRESS):
                time.sleep(0.01)
                job = in_transaction(ctx.engine, partial(get_job, job_id=job.id))
            assert job.started_at is not None
            latencies.append((job.started_at - job.created_at).total_seconds())
            time.sleep(pause.uniform(0, 2))  # land at random points of the worker's poll cycle
        return latencies
    finally:
        worker.terminate()
        worker.wait(60)
        ctx.engine.dispose()


def throughput(environ: dict[str, str], count: int, processors: int) -> float:
    ctx = fresh_context(environ)
    for i in range(count):
        submit_file(ctx, io.BytesIO(TINY), f"tiny-{i}.csv")
    started = time.perf_counter()
    running = [batchscore("process-all", environ=environ) for _ in range(processors)]
    codes = [process.wait(600) for process in running]
    seconds = time.perf_counter() - started
    if any(codes):
        raise SystemExit(f"process-all exit codes: {codes}")
    check_exactly_once(ctx, count)
    ctx.engine.dispose()
    return count / seconds


def check_exactly_once(ctx: Context, count: int) -> None:
    """Every job PROCESSED, by one attempt, with one result file: else stop with the numbers."""
    processed = in_transaction(
        ctx.engine,
        lambda c: c.execute(
            select(func.count()).where(jobs.c.status == JobStatus.PROCESSED.value)
        ).scalar_one(),
    )
    attempts = in_transaction(
        ctx.engine, lambda c: c.execute(select(func.count()).select_from(job_attempts)).scalar()
    )
    files = len(list(Path(ctx.settings.output_dir).glob("job-*")))
    print(f"    {processed:,} processed, {attempts} attempts, {files} result files", flush=True)
    if not processed == attempts == files == count:
        raise SystemExit("Some job was lost or run twice.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--processors", type=int, default=4)
    parser.add_argument("--pickups", type=int, default=20)
    parser.add_argument("--database-url", help="default: SQLite in a temporary folder")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-queue-") as folder:
        work = Path(folder)
        default_poll = load_settings(environ={}).poll_seconds
        print(f"Pick-up latency, {args.pickups} jobs, `batchscore worker`:", flush=True)
        for label, poll in (("old default", "2"), ("default", str(default_poll))):
            seconds = pickup_latencies(
                environ_for(work / f"poll-{poll}", args.database_url, POLL_SECONDS=poll),
                args.pickups,
            )
            print(
                f"  POLL_SECONDS={poll:<4} ({label}): median {statistics.median(seconds):.2f} s, "
                f"p90 {statistics.quantiles(seconds, n=10)[-1]:.2f} s, max {max(seconds):.2f} s",
                flush=True,
            )
        print(f"Throughput, {args.jobs:,} tiny jobs, `batchscore process-all`:", flush=True)
        rates = {}
        for processors in (1, args.processors):
            environ = environ_for(work / f"processors-{processors}", args.database_url)
            rates[processors] = throughput(environ, args.jobs, processors)
            print(f"  {processors} processor(s): {rates[processors]:.1f} jobs/s", flush=True)
        print(f"  ratio {args.processors}/1: {rates[args.processors] / rates[1]:.2f}x")


if __name__ == "__main__":
    main()

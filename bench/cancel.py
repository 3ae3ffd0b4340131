"""Cancel a big running job: how soon its processor stops and its files are gone.

A 1M-row iris CSV is queued and a real `batchscore worker` takes it. Once it has scored some
rows, the job is cancelled (what POST /api/jobs/{id}/cancel and `batchscore cancel` call), and
the clock runs until the worker says it has stopped the job ("Job N CANCELLED"); then nothing
of the job may be left in the output folder. A processor notices a cancel at its next lease
renewal (at most a second away) and stops before its next chunk: the baseline, from the same
run, is how long the worker takes to score one chunk (CHUNK_ROWS rows) of that file.

    .venv/bin/python bench/cancel.py [--rows 1000000] [--runs 5]
        [--database-url mysql+pymysql://user:pw@127.0.0.1:3307/db]   (default: SQLite)
"""

from __future__ import annotations

import argparse
import io
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from job_queue import environ_for, fresh_context  # bench/, beside this script

from batchscore.db.engine import in_transaction
from batchscore.db.jobs import JobRecord, JobStatus, get_job
from batchscore.scheduler.context import Context
from batchscore.service import jobs
from batchscore.service.intake import submit_file

ROW = "5.1,3.5,1.4,0.2\n"
HEADER = "sepal_length,sepal_width,petal_length,petal_width\n"


def leftovers(ctx: Context, job_id: int) -> list[str]:
    return [p.name for p in Path(ctx.settings.output_dir).iterdir() if f"job-{job_id}-" in p.name]


def wait_for_rows(ctx: Context, job_id: int, rows: int) -> JobRecord:
    while (now := in_transaction(ctx.engine, lambda c: get_job(c, job_id))).rows_done < rows:
        time.sleep(0.01)
    return now


def one_run(ctx: Context, environ: dict[str, str], data: bytes) -> tuple[float, float]:
    """(seconds from the cancel to a stopped worker with no file left, seconds per chunk)."""
    job = submit_file(ctx, io.BytesIO(data), "million.csv")
    worker = subprocess.Popen(
        [sys.executable, "-m", "batchscore", "worker"],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert worker.stdout is not None
    try:
        now = wait_for_rows(ctx, job.id, 40_000)
        seen_at, seen_rows = time.perf_counter(), now.rows_done
        now = wait_for_rows(ctx, job.id, seen_rows + 40_000)
        per_row = (time.perf_counter() - seen_at) / (now.rows_done - seen_rows)
        cancelled_at = time.perf_counter()
        assert jobs.cancel_job(ctx, None, job.id).status is JobStatus.CANCELLED
        while worker.stdout.readline().strip() != f"Job {job.id} CANCELLED":  # it has stopped
            pass
        stopped = time.perf_counter() - cancelled_at
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    assert in_transaction(ctx.engine, lambda c: get_job(c, job.id)).status is JobStatus.CANCELLED
    assert not leftovers(ctx, job.id)
    return stopped, per_row * ctx.settings.chunk_rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--database-url", help="e.g. mysql+pymysql://… (default: SQLite)")
    args = parser.parse_args()
    data = (HEADER + ROW * args.rows).encode()
    with tempfile.TemporaryDirectory() as folder:
        environ = environ_for(Path(folder), args.database_url, OUTPUT_FORMAT="csv")
        ctx = fresh_context(environ)
        runs = [one_run(ctx, environ, data) for _ in range(args.runs)]
    stops, chunks = [r[0] for r in runs], [r[1] for r in runs]
    database = ctx.engine.dialect.name
    cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        f"{args.rows:,}-row job, cancelled mid-run, {args.runs} runs ({database}, CHUNK_ROWS "
        f"{ctx.settings.chunk_rows:,}, lease renewed every {ctx.settings.heartbeat_seconds:g} s)"
    )
    print(f"cancel → stopped: median {statistics.median(stops):.2f} s, max {max(stops):.2f} s")
    print(f"one chunk (baseline): median {statistics.median(chunks):.2f} s")
    print(f"ratio stop/chunk: {statistics.median(stops) / statistics.median(chunks):.2f}x")
    renewal = statistics.median(stops) / ctx.settings.heartbeat_seconds
    print(f"ratio stop/lease renewal interval: {renewal:.2f}x")
    print(f"workers' CPU: {cpu.ru_utime + cpu.ru_stime:.1f} s for {args.runs} runs")


if __name__ == "__main__":
    main()

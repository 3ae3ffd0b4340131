"""The monotonic totals behind /metrics, on the real database (SQLite in one pass, MariaDB in the
other): a job's end is counted once, in its own transaction, and nothing lowers a total."""

from __future__ import annotations

import functools
import threading
from datetime import datetime, timedelta

import pytest
from factories import add_job
from sqlalchemy import Connection, update

from batchscore.db.counters import (
    DURATION_BOUNDS,
    ROWS_PER_SECOND_BOUNDS,
    add,
    count_job_end,
    histogram,
    read_counters,
)
from batchscore.db.engine import in_transaction
from batchscore.db.jobs import delete_job
from batchscore.db.tables import jobs
from batchscore.scheduler.context import Context

T0 = datetime(2026, 1, 5, 12, 0, 0)


def end(ctx: Context, status: str, seconds: float | None, rows: int, kind: str = "score") -> int:
    """A job ended in `status` after `seconds` (None: never started), counted."""
    job = add_job(ctx)
    started = None if seconds is None else T0
    finished = T0 + timedelta(seconds=seconds or 0)
    values = {"status": status, "kind": kind, "rows_total": rows, "rows_failed": rows // 10}

    def ended(conn: Connection) -> None:
        conn.execute(
            update(jobs)
            .where(jobs.c.id == job.id)
            .values(started_at=started, finished_at=finished, **values)
        )
        count_job_end(conn, job.id, status)

    in_transaction(ctx.engine, ended)
    return job.id


def test_job_ends_are_counted_with_their_rows_duration_and_speed(ctx: Context) -> None:
    end(ctx, "PROCESSED", 0.25, rows=1_000)  # 4,000 rows/s
    end(ctx, "PROCESSED", 3.0, rows=600_000)  # 200,000 rows/s
    end(ctx, "FAILED", 3.5, rows=5)  # no rows or speed counted
    end(ctx, "PROCESSED", 120.0, rows=50, kind="train")  # trains: no rows scored
    end(ctx, "CANCELLED", None, rows=0)  # never ran: no duration
    totals = in_transaction(ctx.engine, read_counters)

    assert [totals[("jobs_finished", s)] for s in ("PROCESSED", "FAILED", "CANCELLED")] == [3, 1, 1]
    assert totals[("rows_scored", "")] == 900 + 540_000
    assert totals[("rows_failed", "")] == 100 + 60_000
    durations = histogram(totals, "job_duration_seconds", DURATION_BOUNDS)  # 0.5 1 5 15 60 300…
    assert durations.bounds == (*DURATION_BOUNDS, float("inf"))
    assert durations.counts == (1, 1, 3, 3, 3, 4, 4, 4, 4, 4) and durations.count == 4
    assert durations.total == pytest.approx(126.75)
    speeds = histogram(totals, "job_rows_per_second", ROWS_PER_SECOND_BOUNDS)  # 100 1k 10k 50k…
    assert speeds.counts == (0, 0, 1, 1, 1, 2, 2, 2) and speeds.total == pytest.approx(204_000)


def test_deleting_jobs_lowers_no_total(ctx: Context) -> None:
    ids = [end(ctx, "PROCESSED", 1.0, rows=10) for _ in range(3)]
    before = in_transaction(ctx.engine, read_counters)
    for job_id in ids:
        in_transaction(ctx.engine, functools.partial(delete_job, job_id=job_id))
    assert in_transaction(ctx.engine, read_counters) == before


def test_concurrent_additions_are_all_counted(ctx: Context) -> None:
    """Eight threads adding to the same new counter at once: the upsert loses none."""
    start = threading.Barrier(8)

    def count() -> None:
        start.wait()
        for _ in range(25):
            in_transaction(ctx.engine, lambda c: add(c, "test_counter", "x"), patience=30)

    threads = [threading.Thread(target=count) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert in_transaction(ctx.engine, read_counters)[("test_counter", "x")] == 200

"""Aggregates for /metrics and `batchscore status`, counted by the real database (SQLite in one
pass, MariaDB in the other): each database's date arithmetic must give the same figures."""

from __future__ import annotations

import functools
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from factories import add_job
from sqlalchemy import Column, Table, select, update

from batchscore.db.engine import Engine, in_transaction
from batchscore.db.jobs import JobStatus, archived_before, claim_next_job
from batchscore.db.stats import last_hour, pending_wait_seconds, system_stats
from batchscore.db.tables import jobs, workers
from batchscore.db.workers import recent_workers, worker_seen, worker_stopped
from batchscore.scheduler.context import Context

T0 = datetime(2026, 1, 5, 12, 0, 0)


def set_row(
    engine: Engine, table: Table, key: Column[Any], value: object, **values: object
) -> None:
    in_transaction(engine, lambda c: c.execute(update(table).where(key == value).values(values)))


def finish(
    engine: Engine, job_id: int, status: str, seconds: float, rows: int, **more: object
) -> None:
    """Give a job a known end: `seconds` from claim to end, `rows` rows."""
    end = T0 + timedelta(seconds=seconds)
    set_row(
        engine,
        jobs,
        jobs.c.id,
        job_id,
        status=status,
        started_at=T0,
        finished_at=end,
        rows_total=rows,
        **more,
    )


def test_an_empty_table_gives_empty_histograms_and_no_wait(ctx: Context) -> None:
    stats = in_transaction(ctx.engine, system_stats)

    assert stats.durations.counts == (0,) * len(stats.durations.bounds)
    assert stats.durations.total == 0.0
    assert stats.pending_wait_seconds is None
    assert stats.jobs_by_status == dict.fromkeys(JobStatus, 0)
    assert stats.workers == []


def test_pending_wait_is_the_oldest_pending_jobs_age(ctx: Context) -> None:
    old, _new = add_job(ctx), add_job(ctx)
    queued = datetime.now(UTC).replace(tzinfo=None) - timedelta(minutes=10)
    set_row(ctx.engine, jobs, jobs.c.id, old.id, created_at=queued)

    wait = in_transaction(ctx.engine, pending_wait_seconds)

    assert wait == pytest.approx(600, abs=5)


def test_recent_workers_shows_the_seen_the_stopped_and_the_busy(ctx: Context) -> None:
    engine = ctx.engine
    in_transaction(engine, lambda c: worker_seen(c, "host-a:1:x", "worker", 3))
    in_transaction(engine, lambda c: worker_seen(c, "host-b:2:y", "process-all", 0))
    in_transaction(engine, lambda c: worker_stopped(c, "host-b:2:y", 5))
    in_transaction(engine, lambda c: worker_seen(c, "host-c:3:z", "worker", 0))
    job = add_job(ctx)
    in_transaction(engine, lambda c: claim_next_job(c, worker_id="host-c:3:z", lease_seconds=60))
    in_transaction(engine, lambda c: worker_seen(c, "host-d:4:w", "worker", 9))
    long_ago = datetime(2020, 1, 1)  # gone for years, but holding the job makes host-c count
    for worker_id in ("host-c:3:z", "host-d:4:w"):
        set_row(engine, workers, workers.c.worker_id, worker_id, last_seen_at=long_ago)

    seen = {w.worker_id: w for w in in_transaction(engine, lambda c: recent_workers(c, 120))}

    assert set(seen) == {"host-a:1:x", "host-b:2:y", "host-c:3:z"}
    assert (seen["host-a:1:x"].role, seen["host-a:1:x"].jobs_done) == ("worker", 3)
    assert seen["host-a:1:x"].stopped_at is None and seen["host-a:1:x"].seen_seconds_ago < 60
    assert seen["host-b:2:y"].stopped_at is not None and seen["host-b:2:y"].jobs_done == 5
    assert seen["host-c:3:z"].job_id == job.id


def test_a_worker_seen_again_after_stopping_is_running_again(ctx: Context) -> None:
    in_transaction(ctx.engine, lambda c: worker_seen(c, "w", "worker", 0))
    in_transaction(ctx.engine, lambda c: worker_stopped(c, "w", 1))
    in_transaction(ctx.engine, lambda c: worker_seen(c, "w", "worker", 2))

    [worker] = in_transaction(ctx.engine, lambda c: recent_workers(c, 120))

    assert (worker.stopped_at, worker.jobs_done) == (None, 2)


def test_archived_before_takes_only_old_archived_jobs_not_running(ctx: Context) -> None:
    engine = ctx.engine
    old_done, old_pending, old_running, recent, kept = (add_job(ctx) for _ in range(5))
    finish(engine, old_done.id, "PROCESSED", 1.0, rows=1, archived=True)
    in_transaction(
        engine,
        lambda c: claim_next_job(c, worker_id="w", lease_seconds=60, job_id=old_running.id),
    )
    year_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=365)
    set_row(engine, jobs, jobs.c.id, old_pending.id, archived=True, created_at=year_ago)
    set_row(engine, jobs, jobs.c.id, old_running.id, archived=True, created_at=year_ago)
    set_row(engine, jobs, jobs.c.id, recent.id, archived=True)
    set_row(engine, jobs, jobs.c.id, kept.id, created_at=year_ago)  # old but not archived

    found = in_transaction(engine, lambda c: archived_before(c, 30 * 86400))

    assert [job.id for job in found] == [old_done.id, old_pending.id]


def test_stopping_forgets_processors_gone_for_a_week(ctx: Context) -> None:
    for worker_id in ("cron-old", "cron-recent", "worker-now"):
        in_transaction(
            ctx.engine,
            functools.partial(worker_seen, worker_id=worker_id, role="process-all", jobs_done=0),
        )
    eight_days_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=8)
    six_days_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=6)
    set_row(ctx.engine, workers, workers.c.worker_id, "cron-old", last_seen_at=eight_days_ago)
    set_row(ctx.engine, workers, workers.c.worker_id, "cron-recent", last_seen_at=six_days_ago)

    in_transaction(ctx.engine, lambda c: worker_stopped(c, "worker-now", 1))

    left = in_transaction(
        ctx.engine, lambda c: list(c.execute(select(workers.c.worker_id)).scalars())
    )
    assert sorted(left) == ["cron-recent", "worker-now"]


def test_the_last_hour_counts_processed_jobs_and_rows_per_minute(ctx: Context) -> None:
    now = datetime.now(UTC).replace(tzinfo=None)
    ends = [  # (minutes ago, status, rows)
        (0.2, "PROCESSED", 100),
        (0.5, "PROCESSED", 50),
        (5.5, "PROCESSED", 1000),
        (5.9, "FAILED", 7),  # not processed: not counted
        (59.5, "PROCESSED", 3),
        (61.0, "PROCESSED", 999),  # over an hour ago
    ]
    for minutes, status, rows in ends:
        job = add_job(ctx)
        end = now - timedelta(minutes=minutes)
        set_row(
            ctx.engine, jobs, jobs.c.id, job.id, status=status, finished_at=end, rows_total=rows
        )
    add_job(ctx)  # pending: never finished

    hour = in_transaction(ctx.engine, last_hour)

    assert len(hour) == 60
    counted = {60 - 1 - i: (m.jobs, m.rows) for i, m in enumerate(hour) if m.jobs}
    assert counted == {0: (2, 150), 5: (1, 1000), 59: (1, 3)}  # minutes ago → (jobs, rows)

"""What /metrics and `batchscore status` report, read from the database: the job table's state
(counted in SQL) and the monotonic totals of db/counters.py.

Every web server and worker shares the one database, so any web server can report the whole
system, in a few small queries whatever the number of jobs.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from batchscore.db.counters import (
    DURATION_BOUNDS,
    ROWS_PER_SECOND_BOUNDS,
    Histogram,
    histogram,
    read_counters,
)
from batchscore.db.engine import seconds_between, utcnow
from batchscore.db.jobs import JobStatus, count_jobs_by_status
from batchscore.db.tables import jobs
from batchscore.db.workers import ALIVE_WITHIN_SECONDS, WorkerRecord, recent_workers


@dataclass(frozen=True)
class SystemStats:
    """The whole system as the job table shows it: what `batchscore status` and /metrics say."""

    jobs_by_status: dict[JobStatus, int]
    pending_wait_seconds: float | None  #: how long the oldest pending job has waited
    workers: list[WorkerRecord]  #: seen within ALIVE_WITHIN_SECONDS or holding a job
    counters: dict[tuple[str, str], float]  #: every monotonic total (db/counters.py)
    durations: Histogram  #: of every job that ran, since counting began
    rows_per_second: Histogram  #: of every processed scoring job, since counting began


def system_stats(conn: Connection) -> SystemStats:
    totals = read_counters(conn)
    return SystemStats(
        jobs_by_status=count_jobs_by_status(conn),
        pending_wait_seconds=pending_wait_seconds(conn),
        workers=recent_workers(conn, ALIVE_WITHIN_SECONDS),
        counters=totals,
        durations=histogram(totals, "job_duration_seconds", DURATION_BOUNDS),
        rows_per_second=histogram(totals, "job_rows_per_second", ROWS_PER_SECOND_BOUNDS),
    )


@dataclass(frozen=True)
class Minute:
    """What processors finished in one minute of the last hour."""

    jobs: int
    rows: int  #: rows of the scoring jobs among them


def last_hour(conn: Connection, minutes: int = 60) -> list[Minute]:
    """Jobs processed and rows scored per minute, the oldest minute first. Grouped by the
    database over the jobs finished since (an index on finished_at), so it costs what the last
    hour holds, not the whole history."""
    # round(x - 0.5): the whole minutes ago on both databases (SQLite may lack floor()).
    ago = func.round(seconds_between(jobs.c.finished_at, utcnow()) / 60 - 0.5)
    query = (
        select(ago.label("ago"), func.count(), func.coalesce(func.sum(jobs.c.rows_total), 0))
        .where(jobs.c.finished_at >= utcnow(-60.0 * minutes), jobs.c.status == "PROCESSED")
        .group_by(ago)
    )
    per_minute = [Minute(0, 0) for _ in range(minutes)]
    for minutes_ago, count, rows in conn.execute(query):
        slot = minutes - 1 - min(max(int(minutes_ago), 0), minutes - 1)
        per_minute[slot] = Minute(int(count), int(rows))
    return per_minute


def pending_wait_seconds(conn: Connection) -> float | None:
    """How long the longest-waiting pending job has waited: how far behind the workers are."""
    oldest = select(func.min(jobs.c.created_at)).where(jobs.c.status == "PENDING").scalar_subquery()
    value = conn.execute(select(seconds_between(oldest, utcnow()))).scalar_one()
    return None if value is None else max(0.0, float(value))

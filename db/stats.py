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


def pending_wait_seconds(conn: Connection) -> float | None:
    """How long the longest-waiting pending job has waited: how far behind the workers are."""
    oldest = select(func.min(jobs.c.created_at)).where(jobs.c.status == "PENDING").scalar_subquery()
    value = conn.execute(select(seconds_between(oldest, utcnow()))).scalar_one()
    return None if value is None else max(0.0, float(value))

"""Aggregates over the job table for /metrics and `batchscore status`, computed by the database.

Every web server and worker shares the one job table, so any web server can report the whole
system; the histograms are counted in SQL, so a scrape reads one row, not every job.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, case, func, select
from sqlalchemy.sql.elements import ColumnElement

from batchscore.db.counters import DURATION_BOUNDS, ROWS_PER_SECOND_BOUNDS, read_counters
from batchscore.db.engine import seconds_between, utcnow
from batchscore.db.jobs import JobStatus, count_jobs_by_status
from batchscore.db.tables import jobs
from batchscore.db.workers import ALIVE_WITHIN_SECONDS, WorkerRecord, recent_workers


@dataclass(frozen=True)
class Histogram:
    """Cumulative counts per upper bound (Prometheus' `le`), the last bound being +Inf."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    total: float  #: the sum of the observed values

    @property
    def count(self) -> int:
        return self.counts[-1]


@dataclass(frozen=True)
class SystemStats:
    """The whole system as the job table shows it: what `batchscore status` and /metrics say."""

    jobs_by_status: dict[JobStatus, int]
    pending_wait_seconds: float | None  #: how long the oldest pending job has waited
    workers: list[WorkerRecord]  #: seen within ALIVE_WITHIN_SECONDS or holding a job
    durations: Histogram
    rows_per_second: Histogram
    counters: dict[tuple[str, str], float]  #: the monotonic totals (db/counters.py)


def system_stats(conn: Connection) -> SystemStats:
    return SystemStats(
        counters=read_counters(conn),
        jobs_by_status=count_jobs_by_status(conn),
        pending_wait_seconds=pending_wait_seconds(conn),
        workers=recent_workers(conn, ALIVE_WITHIN_SECONDS),
        durations=duration_histogram(conn, DURATION_BOUNDS),
        rows_per_second=rows_per_second_histogram(conn, ROWS_PER_SECOND_BOUNDS),
    )


def pending_wait_seconds(conn: Connection) -> float | None:
    """How long the longest-waiting pending job has waited: how far behind the workers are."""
    oldest = select(func.min(jobs.c.created_at)).where(jobs.c.status == "PENDING").scalar_subquery()
    value = conn.execute(select(seconds_between(oldest, utcnow()))).scalar_one()
    return None if value is None else max(0.0, float(value))


def duration_histogram(conn: Connection, bounds: Sequence[float]) -> Histogram:
    """Seconds from claim to end of every finished job (PROCESSED or FAILED)."""
    finished = and_(
        jobs.c.status.in_(("PROCESSED", "FAILED")),
        jobs.c.started_at.isnot(None),
        jobs.c.finished_at.isnot(None),
    )
    seconds = seconds_between(jobs.c.started_at, jobs.c.finished_at)
    return _histogram(conn, seconds, finished, bounds)


def rows_per_second_histogram(conn: Connection, bounds: Sequence[float]) -> Histogram:
    """Rows per second of every processed scoring job that took a measurable time."""
    seconds = seconds_between(jobs.c.started_at, jobs.c.finished_at)
    scored = and_(
        jobs.c.status == "PROCESSED",
        jobs.c.kind == "score",
        jobs.c.rows_total > 0,
        seconds > 0,
    )
    return _histogram(conn, jobs.c.rows_total / seconds, scored, bounds)


def _histogram(
    conn: Connection,
    value: ColumnElement[Any],
    where: ColumnElement[bool],
    bounds: Sequence[float],
) -> Histogram:
    bounds = (*sorted(bounds), float("inf"))
    columns = [func.sum(case((value <= bound, 1), else_=0)) for bound in bounds[:-1]]
    row = conn.execute(
        select(*columns, func.count(), func.coalesce(func.sum(value), 0.0)).where(where)
    ).one()
    counts = tuple(int(c or 0) for c in row[:-1])
    return Histogram(bounds=bounds, counts=counts, total=float(row[-1]))

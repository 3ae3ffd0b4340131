"""How the system is doing, for /health, /metrics and `batchscore status`: jobs by status, the
queue's wait, the processors seen lately. Read-only; counted by the database, so every web
server and host reports the whole system."""

from __future__ import annotations

from dataclasses import dataclass

from batchscore.db.engine import Connection, in_transaction
from batchscore.db.jobs import JobFilter, JobStatus, count_jobs, count_jobs_by_status
from batchscore.db.stats import Minute, SystemStats, last_hour, system_stats
from batchscore.db.workers import WorkerRecord, processors_running, recent_workers
from batchscore.scheduler.context import Context

PROCESSORS_WITHIN_SECONDS = 3600.0  # the processors page lists those seen in the last hour


def job_counts(ctx: Context) -> dict[JobStatus, int]:
    """How many jobs are in each status (the database answers, or DatabaseUnavailable)."""
    return in_transaction(ctx.engine, count_jobs_by_status)


def stats(ctx: Context) -> SystemStats:
    return in_transaction(ctx.engine, system_stats, read_only=True)


def processors(ctx: Context) -> int:
    """How many processors will take pending jobs (0: they wait; the panel says so)."""
    return in_transaction(ctx.engine, processors_running, read_only=True)


@dataclass(frozen=True)
class Queue:
    """The queue at a glance: who takes jobs, how many wait, how fast they went lately."""

    processors: int
    pending: int
    minutes: list[Minute]  #: the last hour, the oldest minute first

    @property
    def jobs_per_minute(self) -> float:
        return sum(m.jobs for m in self.minutes) / len(self.minutes)

    @property
    def rows_per_second(self) -> float:
        return sum(m.rows for m in self.minutes) / (60 * len(self.minutes))


def queue(ctx: Context) -> Queue:
    def read(conn: Connection) -> Queue:
        waiting = JobFilter(status=JobStatus.PENDING, include_archived=True)
        pending = count_jobs(conn, waiting)  # by the status index: what waits, not the history
        return Queue(processors_running(conn), pending, last_hour(conn))

    return in_transaction(ctx.engine, read, read_only=True)


def recent_processors(ctx: Context) -> list[WorkerRecord]:
    """Processors seen in the last hour or holding a job, the most recently seen first."""
    return in_transaction(
        ctx.engine, lambda c: recent_workers(c, PROCESSORS_WITHIN_SECONDS), read_only=True
    )

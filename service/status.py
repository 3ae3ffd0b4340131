"""How the system is doing, for /health, /metrics and `batchscore status`: jobs by status, the
queue's wait, the processors seen lately. Read-only; counted by the database, so every web
server and host reports the whole system."""

from __future__ import annotations

from batchscore.db.engine import in_transaction
from batchscore.db.jobs import JobStatus, count_jobs_by_status
from batchscore.db.stats import SystemStats, system_stats
from batchscore.db.workers import processors_running
from batchscore.scheduler.context import Context


def job_counts(ctx: Context) -> dict[JobStatus, int]:
    """How many jobs are in each status (the database answers, or DatabaseUnavailable)."""
    return in_transaction(ctx.engine, count_jobs_by_status)


def stats(ctx: Context) -> SystemStats:
    return in_transaction(ctx.engine, system_stats, read_only=True)


def processors(ctx: Context) -> int:
    """How many processors will take pending jobs (0: they wait; the panel says so)."""
    return in_transaction(ctx.engine, processors_running, read_only=True)

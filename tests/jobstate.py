"""Read jobs, attempts and results back while real processes work on them."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from results import xlsx_rows

from batchscore.db.engine import in_transaction
from batchscore.db.jobs import (
    AttemptRecord,
    JobRecord,
    JobStatus,
    get_job,
    list_attempts,
    list_jobs,
)
from batchscore.scheduler.context import Context


def job_now(ctx: Context, job_id: int) -> JobRecord:
    return in_transaction(ctx.engine, lambda c: get_job(c, job_id))


def all_jobs(ctx: Context) -> list[JobRecord]:
    return in_transaction(ctx.engine, lambda c: list_jobs(c, limit=10_000))


def wait_for(predicate: Callable[[], object], timeout: float = 60, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(interval)


def sheet_rows(path: Path) -> int:
    return len(xlsx_rows(path))


def attempts_of(ctx: Context, job_id: int) -> list[AttemptRecord]:
    return in_transaction(ctx.engine, lambda c: list_attempts(c, job_id))


def assert_each_processed_exactly_once(ctx: Context, jobs: list[JobRecord]) -> None:
    for job in jobs:
        assert job.status is JobStatus.PROCESSED, (job.id, job.status, job.error_message)
        attempts = attempts_of(ctx, job.id)
        assert [a.outcome for a in attempts] == ["PROCESSED"], (job.id, attempts)

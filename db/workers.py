"""Processors' signs of life: what `batchscore status` and /metrics report as workers.

A processor writes its row when it starts, between jobs (at most every SEEN_EVERY_SECONDS) and
when it stops; a long job keeps its lease fresh instead, so a worker busy with one still shows.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime

from sqlalchemy import Connection, RowMapping, delete, func, insert, or_, select, update

from batchscore.db.engine import seconds_between, utcnow
from batchscore.db.tables import jobs, workers

SEEN_EVERY_SECONDS = 15.0
#: Seen within this long, or holding a live lease: counted as running.
ALIVE_WITHIN_SECONDS = 120.0
FORGET_AFTER_SECONDS = 7 * 86400


@dataclass(frozen=True)
class WorkerRecord:
    worker_id: str
    role: str
    started_at: datetime
    last_seen_at: datetime
    stopped_at: datetime | None
    jobs_done: int
    seen_seconds_ago: float  #: by the database's clock, so hosts' clocks don't matter
    job_id: int | None  #: the job it holds now, if any

    @classmethod
    def from_row(cls, row: RowMapping) -> WorkerRecord:
        return cls(**{f.name: row[f.name] for f in fields(cls)})


def worker_seen(conn: Connection, worker_id: str, role: str, jobs_done: int) -> None:
    """Record that the processor is alive (creating its row the first time)."""
    now = utcnow()
    changed = conn.execute(
        update(workers)
        .where(workers.c.worker_id == worker_id)
        .values(last_seen_at=now, jobs_done=jobs_done, stopped_at=None)
    ).rowcount
    if changed == 0:
        conn.execute(
            insert(workers).values(
                worker_id=worker_id,
                role=role,
                started_at=now,
                last_seen_at=now,
                jobs_done=jobs_done,
            )
        )


def worker_stopped(conn: Connection, worker_id: str, jobs_done: int) -> None:
    """Record the stop, and forget processors gone for FORGET_AFTER_SECONDS: cron starts a new
    one every minute, so the table would otherwise grow by 1,440 rows a day."""
    conn.execute(
        update(workers)
        .where(workers.c.worker_id == worker_id)
        .values(last_seen_at=utcnow(), stopped_at=utcnow(), jobs_done=jobs_done)
    )
    conn.execute(delete(workers).where(workers.c.last_seen_at < utcnow(-FORGET_AFTER_SECONDS)))


def recent_workers(conn: Connection, within_seconds: float) -> list[WorkerRecord]:
    """Processors seen within `within_seconds` or holding a job now, most recently seen first."""
    holding = (
        select(jobs.c.worker_id, jobs.c.id.label("job_id"))
        .where(jobs.c.status == "IN_PROGRESS", jobs.c.lease_expires_at > utcnow())
        .subquery()
    )
    query = (
        select(
            workers,
            seconds_between(workers.c.last_seen_at, utcnow()).label("seen_seconds_ago"),
            holding.c.job_id,
        )
        .outerjoin(holding, holding.c.worker_id == workers.c.worker_id)
        .where(or_(workers.c.last_seen_at >= utcnow(-within_seconds), holding.c.job_id.isnot(None)))
        .order_by(workers.c.last_seen_at.desc(), workers.c.worker_id)
    )
    return [WorkerRecord.from_row(row) for row in conn.execute(query).mappings()]


def processors_running(conn: Connection) -> int:
    """Processors that will take a pending job: a worker (or serve's) seen in the last
    ALIVE_WITHIN_SECONDS and not stopped, or cron's process-all seen that recently (it stops
    after each run and comes back next minute)."""
    running = or_(workers.c.stopped_at.is_(None), workers.c.role == "process-all")
    query = select(func.count()).where(
        workers.c.last_seen_at >= utcnow(-ALIVE_WITHIN_SECONDS), running
    )
    return int(conn.execute(query).scalar_one())

"""Monotonic totals for /metrics, kept in the database: every SQL statement on `counters`.

A job's end is counted in the transaction that ends it (db/jobs.py calls `count_job_end`), a
webhook attempt in the one that records it, so the totals are the same whichever process did
the work, survive restarts, and are never lowered by deleting or pruning jobs. A histogram is
kept as one count per bucket (not cumulative) and a sum; `histogram` makes Prometheus' shape.
Callers own the transaction.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, select
from sqlalchemy.dialects import mysql, sqlite

from batchscore.db.tables import counters, jobs

DURATION_BOUNDS = (0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600)  #: seconds per job
ROWS_PER_SECOND_BOUNDS = (100, 1_000, 10_000, 50_000, 100_000, 250_000, 1_000_000)
INF = "+Inf"


@dataclass(frozen=True)
class Histogram:
    """Cumulative counts per upper bound (Prometheus' `le`), the last bound being +Inf."""

    bounds: tuple[float, ...]
    counts: tuple[int, ...]
    total: float  #: the sum of the observed values

    @property
    def count(self) -> int:
        return self.counts[-1]


def add(conn: Connection, name: str, label: str, amount: float = 1.0) -> None:
    """counters[name, label] += amount, the row made at its first use (an upsert, so two
    transactions counting at once never collide)."""
    values = {"name": name, "label": label, "value": amount}
    if conn.dialect.name == "sqlite":
        lite = sqlite.insert(counters).values(values)
        conn.execute(
            lite.on_conflict_do_update(
                index_elements=["name", "label"], set_={"value": counters.c.value + amount}
            )
        )
    else:
        my = mysql.insert(counters).values(values)
        conn.execute(my.on_duplicate_key_update(value=counters.c.value + amount))


def observe(conn: Connection, name: str, bounds: Sequence[float], value: float) -> None:
    """One observation of `value` in histogram `name`: its bucket's count and the sum."""
    index = bisect.bisect_left(bounds, value)
    add(conn, name, repr(float(bounds[index])) if index < len(bounds) else INF)
    add(conn, name, "sum", value)


def count_job_end(conn: Connection, job_id: int, status: str) -> None:
    """A job has just ended in `status`: count it, its rows and its speed."""
    job = conn.execute(
        select(jobs.c.kind, jobs.c.rows_total, jobs.c.rows_failed, jobs.c.started_at)
        .add_columns(jobs.c.finished_at)
        .where(jobs.c.id == job_id)
    ).one()
    add(conn, "jobs_finished", status)
    if job.started_at is None or job.finished_at is None:
        return  # cancelled before it ran
    seconds = max(0.0, (job.finished_at - job.started_at).total_seconds())
    observe(conn, "job_duration_seconds", DURATION_BOUNDS, seconds)
    if status == "PROCESSED" and job.kind == "score" and job.rows_total:
        add(conn, "rows_scored", "", job.rows_total - job.rows_failed)
        add(conn, "rows_failed", "", job.rows_failed)
        if seconds > 0:
            observe(conn, "job_rows_per_second", ROWS_PER_SECOND_BOUNDS, job.rows_total / seconds)


def read_counters(conn: Connection) -> dict[tuple[str, str], float]:
    rows = conn.execute(select(counters.c.name, counters.c.label, counters.c.value))
    return {(name, label): float(value) for name, label, value in rows}


def histogram(
    values: dict[tuple[str, str], float], name: str, bounds: Sequence[float]
) -> Histogram:
    """Histogram `name` as Prometheus shows it, from `read_counters`."""
    labels = [repr(float(bound)) for bound in bounds] + [INF]
    running, cumulative = 0, []
    for label in labels:
        running += int(values.get((name, label), 0))
        cumulative.append(running)
    edges = (*(float(b) for b in bounds), float("inf"))
    return Histogram(edges, tuple(cumulative), values.get((name, "sum"), 0.0))

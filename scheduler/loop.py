"""Run jobs until the queue is empty (cron) or forever (a worker), stopping cleanly on SIGTERM.

A stop request is honoured between jobs: the job in hand is finished first, unless a second
request says not to wait.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from batchscore.db.engine import Connection, in_transaction
from batchscore.db.jobs import JobRecord, JobStatus, work_waiting
from batchscore.db.webhooks import delivery_due
from batchscore.db.workers import SEEN_EVERY_SECONDS, worker_seen, worker_stopped
from batchscore.errors import DatabaseUnavailable, GiveBack
from batchscore.scheduler.context import Context

logger = logging.getLogger(__name__)
_MAX_OUTAGE_WAIT_SECONDS = 60.0


@dataclass
class RunSummary:
    processed: int = 0
    failed: int = 0
    other: int = 0  #: lease lost to another processor, or given back

    def add(self, job: JobRecord) -> None:
        if job.status is JobStatus.PROCESSED:
            self.processed += 1
        elif job.status is JobStatus.FAILED:
            self.failed += 1
        else:
            self.other += 1

    @property
    def total(self) -> int:
        return self.processed + self.failed + self.other


def run_until_empty(
    ctx: Context,
    *,
    max_jobs: int | None = None,
    stop: threading.Event | None = None,
    on_job: Callable[[JobRecord], None] = lambda job: None,
) -> RunSummary:
    """Process pending jobs until none is left, `max_jobs` were run or `stop` is set.

    With nothing to do it ends before importing the processor (scikit-learn, pandas, pyarrow):
    cron runs it every minute, mostly to find the queue empty.
    """
    summary = RunSummary()
    stop = stop or threading.Event()
    life = _SignsOfLife(ctx, "process-all")
    try:
        life.seen(summary.total)
        if not in_transaction(ctx.engine, _anything_to_do, read_only=True):
            return summary
        from batchscore.scheduler.processor import process_one
        from batchscore.scheduler.webhooks import deliver_due

        with contextlib.suppress(GiveBack):
            while not stop.is_set() and (max_jobs is None or summary.total < max_jobs):
                life.seen(summary.total)
                job = process_one(ctx)
                if job is None:
                    break
                summary.add(job)
                on_job(job)
        deliver_due(ctx, stop=stop)  # those of the jobs just ended, and retries now due
    finally:
        life.stopped(summary.total)
    return summary


def _anything_to_do(conn: Connection) -> bool:
    return work_waiting(conn) or delivery_due(conn)


def run_forever(
    ctx: Context,
    *,
    poll_seconds: float,
    stop: threading.Event,
    on_job: Callable[[JobRecord], None] = lambda job: None,
) -> RunSummary:
    """Process jobs as they come, looking for new ones every `poll_seconds`, until `stop`.

    A worker outlives database restarts: while the server can't be reached it waits, longer
    each time up to a minute, and carries on when the server is back.
    """
    from batchscore.scheduler.processor import process_one
    from batchscore.scheduler.webhooks import delivering

    summary = RunSummary()
    logger.info("Worker %s started; polling every %ss", ctx.worker_id, poll_seconds)
    outage = 0
    life = _SignsOfLife(ctx, "worker")
    with contextlib.suppress(GiveBack), delivering(ctx, poll_seconds=poll_seconds):
        while not stop.is_set():
            try:
                life.seen(summary.total)
                job = process_one(ctx)
            except DatabaseUnavailable as exc:
                wait = min(poll_seconds * 2**outage, _MAX_OUTAGE_WAIT_SECONDS)
                outage = min(outage + 1, 16)
                logger.warning(
                    "Database unreachable (%s); trying again in %.1f s", exc.reason, wait
                )
                stop.wait(wait)
                continue
            if outage:
                logger.info("Database reachable again")
                outage = 0
            if job is None:
                stop.wait(poll_seconds)
            else:
                summary.add(job)
                on_job(job)
    life.stopped(summary.total)
    logger.info("Worker %s stopped after %s jobs", ctx.worker_id, summary.total)
    return summary


class _SignsOfLife:
    """The processor's row in `workers`: written at start, after each job, while idle every
    SEEN_EVERY_SECONDS (not every poll: an idle worker polling fast costs one write per interval),
    and at stop.
    """

    def __init__(self, ctx: Context, role: str) -> None:
        self.ctx, self.role = ctx, role
        self._due, self._jobs_done = 0.0, -1

    def seen(self, jobs_done: int) -> None:
        if jobs_done == self._jobs_done and time.monotonic() < self._due:
            return
        self._jobs_done = jobs_done
        worker_id, role = self.ctx.worker_id, self.role
        in_transaction(self.ctx.engine, lambda c: worker_seen(c, worker_id, role, jobs_done))
        self._due = time.monotonic() + SEEN_EVERY_SECONDS

    def stopped(self, jobs_done: int) -> None:
        """Best effort: a processor stopping during a database outage just stops being seen."""
        worker_id = self.ctx.worker_id
        try:
            in_transaction(self.ctx.engine, lambda c: worker_stopped(c, worker_id, jobs_done))
        except DatabaseUnavailable as exc:
            logger.warning("Could not record that %s stopped: %s", worker_id, exc.reason)


def stop_on_signals(stop: threading.Event) -> None:
    """SIGTERM and SIGINT ask the loop to stop after the current job instead of killing it.

    A second signal gives the current job back at once (PENDING again, its temp file gone)
    rather than leaving it to wait out its lease; any further ones are only logged, so a
    hurried operator can't interrupt the giving back.
    """
    received = 0

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal received
        received += 1
        name = signal.Signals(signum).name
        if received == 1:
            logger.info("%s received: finishing the current job, then stopping", name)
            stop.set()
        elif received == 2:
            logger.warning("%s received again: giving the current job back, then stopping", name)
            raise GiveBack
        else:
            logger.warning("%s received again: already giving the job back", name)

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

"""`batchscore prune`: remove archived jobs past their retention, with their files.

A job's row goes first, then its files: a crash in between leaves stray files (harmless, and
visible in the folders) but never a job whose download is gone.
"""

from __future__ import annotations

import functools
import logging

from batchscore.db.engine import in_transaction
from batchscore.db.jobs import JobRecord, archived_before, delete_job
from batchscore.errors import InvalidTransition, NotFound
from batchscore.scheduler.context import Context

logger = logging.getLogger(__name__)


def prunable(ctx: Context, older_than_seconds: float) -> list[JobRecord]:
    return in_transaction(ctx.engine, lambda c: archived_before(c, older_than_seconds))


def prune(ctx: Context, older_than_seconds: float) -> list[JobRecord]:
    """Delete archived jobs that ended over `older_than_seconds` ago; return those deleted."""
    deleted = []
    for job in prunable(ctx, older_than_seconds):
        try:
            in_transaction(ctx.engine, functools.partial(delete_job, job_id=job.id))
        except (InvalidTransition, NotFound):  # claimed or deleted since the listing: skip it
            continue
        ctx.storage.delete_input(job.input_name)
        if job.output_name:
            ctx.storage.delete_output(job.output_name)
        logger.info("Job %s pruned: %s", job.id, job.original_filename)
        deleted.append(job)
    return deleted

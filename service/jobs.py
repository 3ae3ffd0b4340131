"""Jobs as their owners see them: list, show, cancel, retry, archive, delete with their files,
prune; retry or archive every failed one at once.

Each call is one short transaction scoped to the caller (`owner_scope`): someone else's job is
NotFound, never a hint that it exists. Queuing new work is `service.intake`; running it is the
processor's (`scheduler.processor`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace

from batchscore.db import jobs as repo
from batchscore.db.engine import Connection, in_transaction
from batchscore.db.jobs import AttemptRecord, JobKind, JobRecord, JobStatus
from batchscore.db.users import UserRecord
from batchscore.db.webhooks import DeliveryRecord, deliveries_of
from batchscore.errors import DatabaseUnavailable, InputError, InvalidTransition, NotFound
from batchscore.scheduler.context import Context
from batchscore.scheduler.processor import process_one
from batchscore.service.accounts import owner_scope
from batchscore.service.preview import Preview, error_rows_csv, preview_result
from batchscore.storage import safe_stem

logger = logging.getLogger(__name__)

MAX_PROCESS_ALL = 10_000  # jobs one "process all" request takes on


@dataclass(frozen=True)
class JobPage:
    jobs: list[JobRecord]
    total: int  #: how many match, without the limit


@dataclass(frozen=True)
class JobView:
    """What the job page shows: the job, how it ran, and a look into its result."""

    job: JobRecord
    attempts: list[AttemptRecord]
    deliveries: list[DeliveryRecord]  #: its webhooks, one per time it ended
    preview: Preview | None  #: None until PROCESSED, or when the result cannot be read
    problem: str | None  #: why a PROCESSED job's result cannot be shown


@dataclass(frozen=True)
class ResultFile:
    name: str  #: the stored result's name in the output folder
    output_format: str
    download_name: str  #: what the user's browser saves it as


ENDED = (JobStatus.PROCESSED, JobStatus.FAILED, JobStatus.CANCELLED)


class StoppedJob(InvalidTransition):
    """The job FAILED or was CANCELLED, so it is not processed again until retried."""

    def __init__(self, job: JobRecord) -> None:
        super().__init__(
            f"Job {job.id} is {job.status.value}; retry it first with POST "
            f"/api/jobs/{job.id}/retry."
        )
        self.job = job


def list_jobs(
    ctx: Context,
    user: UserRecord | None,
    shown: repo.JobFilter = repo.ANY_JOB,
    *,
    sort: str = "-created",
    limit: int = 50,
    offset: int = 0,
    summaries: bool = False,
) -> JobPage:
    """One page of the caller's jobs (an admin's: everyone's) among those `shown`, with their
    summaries if asked."""
    if sort.removeprefix("-") not in repo.SORTS:
        raise InputError(
            f"Unknown sort {sort!r}: sort by {', '.join(repo.SORTS)}, with '-' before it for "
            "the other way round (newest, largest, last first)."
        )
    shown = replace(shown, owner_id=owner_scope(user))
    return in_transaction(
        ctx.engine,
        lambda c: JobPage(
            repo.list_jobs(c, shown, sort=sort, limit=limit, offset=offset, summaries=summaries),
            repo.count_jobs(c, shown),
        ),
        read_only=True,
    )


def get_job(ctx: Context, user: UserRecord | None, job_id: int) -> JobRecord:
    return in_transaction(
        ctx.engine, lambda c: repo.get_job(c, job_id, owner_id=owner_scope(user)), read_only=True
    )


def job_view(ctx: Context, user: UserRecord | None, job_id: int) -> JobView:
    """The job, every claim of it (how it really ran), its webhooks, its result's first rows
    and error rows."""
    job, attempts, deliveries = in_transaction(
        ctx.engine,
        lambda c: (
            repo.get_job(c, job_id, owner_id=owner_scope(user)),
            repo.list_attempts(c, job_id),
            deliveries_of(c, job_id),
        ),
        read_only=True,
    )
    preview: Preview | None = None
    problem = None
    if job.status in (JobStatus.PROCESSED, JobStatus.FAILED) and job.output_name:
        try:
            with ctx.storage.open_output(job.output_name) as file:
                preview = preview_result(file, job.output_format)
        except (OSError, InputError) as exc:
            logger.warning("job %s: cannot preview its result: %s", job.id, exc)
            problem = "The result file cannot be read; it may have been moved or deleted."
    return JobView(job, attempts, deliveries, preview, problem)


def result_file(ctx: Context, user: UserRecord | None, job_id: int) -> ResultFile:
    """Where a PROCESSED scoring job's result is; InvalidTransition says why there is none."""
    job = get_job(ctx, user, job_id)
    if job.kind is JobKind.TRAIN:
        raise InvalidTransition(
            f"Job {job.id} trains model {job.model_name}; its result is a model version, "
            f"not a file: see GET /api/models/{job.model_name}."
        )
    if job.status is not JobStatus.PROCESSED or job.output_name is None:
        raise InvalidTransition(f"Job {job.id} is {job.status.value}; it has no result yet.")
    download = f"{safe_stem(job.original_filename)}-predictions.{job.output_format}"
    return ResultFile(job.output_name, job.output_format, download)


def error_rows(ctx: Context, user: UserRecord | None, job_id: int) -> tuple[Iterator[bytes], str]:
    """The rows with errors of a PROCESSED job, or of one FAILED for them, as CSV blocks, and
    the file name to download them as; InvalidTransition while there is no result."""
    job = get_job(ctx, user, job_id)
    if job.status is JobStatus.FAILED and job.output_name:
        name, output_format = job.output_name, job.output_format
    else:
        result = result_file(ctx, user, job_id)
        name, output_format = result.name, result.output_format

    def blocks() -> Iterator[bytes]:
        with ctx.storage.open_output(name) as file:
            yield from error_rows_csv(file, output_format)

    return blocks(), f"{safe_stem(job.original_filename)}-errors.csv"


def retry_job(ctx: Context, user: UserRecord | None, job_id: int) -> JobRecord:
    """FAILED or CANCELLED → PENDING with its attempts reset; the result a job failed for its
    rows kept goes (after the row changed: a crash in between leaves a stray file, never a job
    naming a missing one)."""
    owner = owner_scope(user)

    def retry(conn: Connection) -> tuple[str | None, JobRecord]:
        kept = repo.get_job(conn, job_id, owner_id=owner).output_name
        return kept, repo.retry_job(conn, job_id, owner_id=owner)

    kept, job = in_transaction(ctx.engine, retry)
    _remove(ctx, [kept] if kept else [])
    return job


def retry_failed(ctx: Context, user: UserRecord | None) -> list[int]:
    """Every FAILED job of the caller's (an admin's: everyone's) back to PENDING; their ids."""
    owner = owner_scope(user)

    def retry(conn: Connection) -> tuple[list[str], list[int]]:
        return repo.kept_results(conn, owner_id=owner), repo.retry_failed(conn, owner_id=owner)

    kept, ids = in_transaction(ctx.engine, retry)
    _remove(ctx, kept)
    return ids


def _remove(ctx: Context, outputs: list[str]) -> None:
    for name in outputs:
        try:
            ctx.storage.delete_output(name)
        except OSError as exc:  # a stray file is harmless; the retry itself has happened
            logger.warning("Could not remove %s after a retry: %s", name, exc)


def archive_failed(ctx: Context, user: UserRecord | None) -> list[int]:
    """Archive every FAILED job of the caller's (an admin's: everyone's); their ids."""
    return in_transaction(ctx.engine, lambda c: repo.archive_failed(c, owner_id=owner_scope(user)))


def cancel_job(ctx: Context, user: UserRecord | None, job_id: int) -> JobRecord:
    """Stop a PENDING or IN_PROGRESS job: CANCELLED at once. A processor running it stops at
    its next lease renewal (within HEARTBEAT, about a second) and discards its temp file; one
    that died is cleaned up for here. The input is kept, so the job can be retried."""
    job, voided = in_transaction(
        ctx.engine, lambda c: repo.cancel_job(c, job_id, owner_id=owner_scope(user))
    )
    if voided is not None:
        ctx.storage.remove_temp_outputs(job.id, voided)
    logger.info("Job %s cancelled", job.id)
    return job


def set_archived(ctx: Context, user: UserRecord | None, job_id: int, archived: bool) -> JobRecord:
    return in_transaction(
        ctx.engine,
        lambda c: repo.set_archived(c, job_id, archived, owner_id=owner_scope(user)),
    )


def delete_job(ctx: Context, user: UserRecord | None, job_id: int) -> JobRecord:
    """Delete the job's row, then its files; InvalidTransition while it is being processed.

    The row goes first: a crash in between leaves stray files (harmless, and visible in the
    folders) but never a job whose download is gone.
    """
    job = in_transaction(
        ctx.engine, lambda c: repo.delete_job(c, job_id, owner_id=owner_scope(user))
    )
    ctx.storage.delete_input(job.input_name)
    if job.output_name:
        ctx.storage.delete_output(job.output_name)
    return job


def prunable(ctx: Context, older_than_seconds: float) -> list[JobRecord]:
    """Archived jobs that ended over `older_than_seconds` ago: what `prune` would delete."""
    return in_transaction(
        ctx.engine, lambda c: repo.archived_before(c, older_than_seconds), read_only=True
    )


def prune(ctx: Context, older_than_seconds: float) -> list[JobRecord]:
    """Delete archived jobs that ended over `older_than_seconds` ago; return those deleted."""
    deleted = []
    for job in prunable(ctx, older_than_seconds):
        try:
            delete_job(ctx, None, job.id)
        except (InvalidTransition, NotFound):  # claimed or deleted since the listing: skip it
            continue
        logger.info("Job %s pruned: %s", job.id, job.original_filename)
        deleted.append(job)
    return deleted


def startable_job(ctx: Context, user: UserRecord | None, job_id: int) -> JobRecord:
    """The caller's job, if processing it makes sense; StoppedJob if it FAILED or was
    CANCELLED (it runs again only when retried)."""
    job = get_job(ctx, user, job_id)
    if job.status in (JobStatus.FAILED, JobStatus.CANCELLED):
        raise StoppedJob(job)
    return job


def finish(ctx: Context, job_id: int, patience: float | None = None) -> JobRecord:
    """The job once it has ended, whoever runs it: processed here if PENDING, waited for while
    another processor holds it (and taken over if that one dies and its lease runs out), as it
    is once ended. `batchscore serve` processes uploads by itself, so a caller asking for a job
    to be processed often finds it taken or done; either way the answer is the ended job.

    With `patience`, a job another processor still holds after that many seconds is returned
    IN_PROGRESS: an HTTP request is not held for the length of someone else's big file."""
    deadline = None if patience is None else time.monotonic() + patience
    while True:
        ended = process_one(ctx, job_id=job_id)
        if ended is not None:
            return ended
        job = in_transaction(ctx.engine, lambda c: repo.get_job(c, job_id), read_only=True)
        if job.status in ENDED:
            return job
        if deadline is not None and time.monotonic() >= deadline:
            return job
        time.sleep(ctx.settings.poll_seconds)


def pending_ids(ctx: Context, user: UserRecord | None) -> list[int]:
    """The caller's pending jobs, oldest first (at most MAX_PROCESS_ALL)."""
    pending = in_transaction(
        ctx.engine,
        lambda c: repo.list_jobs(
            c,
            repo.JobFilter(owner_id=owner_scope(user), status=JobStatus.PENDING),
            sort="created",  # the oldest first
            limit=MAX_PROCESS_ALL,
        ),
        read_only=True,
    )
    return sorted(job.id for job in pending)


def process_each(ctx: Context, job_ids: list[int]) -> None:
    """Process jobs nobody waits for (after an HTTP answer has gone); any left over is taken by
    cron or a worker. Each claim is atomic: a job another processor takes first is skipped."""
    try:
        for job_id in job_ids:
            process_one(ctx, job_id=job_id)
    except DatabaseUnavailable as exc:  # nobody waits for this answer: log and leave the rest
        logger.warning("Background processing stopped, database unreachable (%s)", exc.reason)

"""The job repository: every SQL statement on `jobs` and `job_attempts`.

Callers own the transaction.

Every change after a claim names the claim in its WHERE clause (id, claim_token, IN_PROGRESS)
and checks that exactly one row changed; zero means another processor owns the job now.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, RowMapping, Select, and_, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement

from batchscore.db.counters import count_job_end
from batchscore.db.engine import utcnow
from batchscore.db.tables import job_attempts, jobs, users
from batchscore.db.webhooks import enqueue_delivery
from batchscore.errors import InvalidTransition, KeyInUse, LeaseLost, NotFound


class JobStatus(StrEnum):
    PENDING = "PENDING"  #: waiting for a processor
    IN_PROGRESS = "IN_PROGRESS"  #: claimed; the holder renews its lease while it works
    PROCESSED = "PROCESSED"  #: result file published
    FAILED = "FAILED"  #: error_message says why; can be retried
    CANCELLED = "CANCELLED"  #: stopped by its owner (or an admin) before it ended; can be retried


class JobKind(StrEnum):
    SCORE = "score"  #: predict for every row of the file → a result file
    TRAIN = "train"  #: fit a new model version on the file's labelled rows


class Outcome(StrEnum):
    """How one attempt (one claim) ended, in job_attempts.outcome."""

    PROCESSED = "PROCESSED"
    FAILED = "FAILED"
    LEASE_EXPIRED = "LEASE_EXPIRED"  #: the processor stopped renewing (killed, frozen, cut off)
    RELEASED = "RELEASED"  #: the processor gave the job back (shutdown)
    CANCELLED = "CANCELLED"  #: the job was cancelled while this claim ran it


@dataclass(frozen=True)
class DeadClaim:
    """A claim whose lease ran out: its processor was killed, frozen or cut off."""

    job_id: int
    claim_token: str


@dataclass(frozen=True)
class JobRecord:
    id: int
    kind: JobKind
    owner_id: int | None
    original_filename: str
    input_name: str  #: file name inside INPUT_DIR
    input_sha256: str
    input_bytes: int
    model_name: str
    model_version: int | None  #: asked for (None = active); once finished, the one used or made
    output_format: str
    output_name: str | None  #: file name inside OUTPUT_DIR once PROCESSED
    result_sheets: int | None  #: sheets of the result once PROCESSED (1 for csv, parquet)
    options: dict[str, Any] | None  #: a train job's plan; a score job's non-default choices
    metrics: dict[str, float] | None  #: a processed train job's held-out scores
    summary: dict[str, Any] | None  #: a processed score job's model.summary.Summary, as JSON
    read_as: dict[str, str] | None  #: how a score job's file is read (scheduler.reading)
    status: JobStatus
    rows_total: int | None
    rows_done: int
    rows_failed: int
    error_message: str | None
    attempts: int
    worker_id: str | None
    claim_token: str | None
    lease_expires_at: datetime | None
    archived: bool
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    callback_url: str | None  #: where its webhook goes when it ends
    owner: str | None = None  #: the owner's user name (None: no owner, or a locked read)

    @classmethod
    def from_row(cls, row: RowMapping) -> JobRecord:
        values = {name: row[name] for name in _ALWAYS_SELECTED}
        for name in _MAYBE_SELECTED:  # a listing leaves summary out; a locked read, owner
            values[name] = row.get(name)
        values["status"] = JobStatus(values["status"])
        values["kind"] = JobKind(values["kind"])
        values["archived"] = bool(values["archived"])
        return cls(**values)


@dataclass(frozen=True)
class IdempotencyKey:
    """A client's Idempotency-Key for one request: a retry with the same key and request finds
    the job the first one made."""

    owner_id: int
    key: str
    request_sha256: str  #: digest of the request (file, form fields, route)


#: How long a key names its first job; after that it may name a new request.
IDEMPOTENCY_SECONDS = 24 * 3600


@dataclass(frozen=True)
class AttemptRecord:
    job_id: int
    claim_token: str
    worker_id: str
    started_at: datetime
    ended_at: datetime | None
    outcome: str | None


def _fit(filename: str, length: int) -> str:
    """Cut a file name to the column's length, keeping its extension."""
    if len(filename) <= length:
        return filename
    stem, dot, extension = filename.rpartition(".")
    if not dot or len(extension) > 10:
        return filename[:length]
    return stem[: length - len(extension) - 1] + "." + extension


def create_job(
    conn: Connection,
    *,
    owner_id: int | None,
    original_filename: str,
    input_name: str,
    input_sha256: str,
    input_bytes: int,
    model_name: str,
    model_version: int | None,
    output_format: str,
    kind: JobKind = JobKind.SCORE,
    options: dict[str, Any] | None = None,
    read_as: dict[str, str] | None = None,
    idempotency: IdempotencyKey | None = None,
    callback_url: str | None = None,
) -> JobRecord:
    """Insert a PENDING job for a file already saved in the input folder.

    KeyInUse if the owner's `idempotency` key already names a job (a concurrent retry won).
    """
    keyed = {}
    if idempotency is not None:
        keyed = {"idempotency_key": idempotency.key, "request_sha256": idempotency.request_sha256}
    statement = insert(jobs).values(
        kind=kind.value,
        options=options,
        read_as=read_as,
        owner_id=owner_id,
        original_filename=_fit(original_filename, 255),
        input_name=input_name,
        input_sha256=input_sha256,
        input_bytes=input_bytes,
        model_name=model_name,
        model_version=model_version,
        output_format=output_format,
        status=JobStatus.PENDING.value,
        created_at=utcnow(),
        callback_url=callback_url,
        **keyed,
    )
    try:
        result = conn.execute(statement)
    except IntegrityError as exc:
        if keyed and "idempotency_key" in str(exc.orig):
            raise KeyInUse() from exc
        raise
    key = result.inserted_primary_key
    assert key is not None
    return get_job(conn, int(key[0]))


def keyed_job(conn: Connection, idempotency: IdempotencyKey) -> tuple[JobRecord, str] | None:
    """The job the owner's key names, and the digest of the request that made it; None if
    there is none. A key older than IDEMPOTENCY_SECONDS is let go first, to name anew."""
    keyed = (jobs.c.owner_id == idempotency.owner_id) & (jobs.c.idempotency_key == idempotency.key)
    old = jobs.c.created_at < utcnow(-IDEMPOTENCY_SECONDS)
    conn.execute(update(jobs).where(keyed, old).values(idempotency_key=None))
    row = conn.execute(_jobs().where(keyed)).mappings().first()
    return None if row is None else (JobRecord.from_row(row), row["request_sha256"])


def get_job(
    conn: Connection, job_id: int, *, owner_id: int | None = None, for_update: bool = False
) -> JobRecord:
    """The job, if it exists and (when owner_id is given) belongs to that user; else NotFound.
    `for_update` locks its row until the transaction ends (SQLite's BEGIN IMMEDIATE already
    serialises writers)."""
    if not 0 < job_id < 2**63:  # beyond any id column: SQLite would refuse the parameter
        raise NotFound(f"Job {job_id} not found.")
    query = (select(jobs) if for_update else _jobs()).where(jobs.c.id == job_id)
    if owner_id is not None:
        query = query.where(jobs.c.owner_id == owner_id)
    if for_update:
        query = query.with_for_update()
    row = conn.execute(query).mappings().first()
    if row is None:
        raise NotFound(f"Job {job_id} not found.")
    return JobRecord.from_row(row)


_MAYBE_SELECTED = ("summary", "owner")
_ALWAYS_SELECTED = tuple(f.name for f in fields(JobRecord) if f.name not in _MAYBE_SELECTED)


@dataclass(frozen=True)
class JobFilter:
    """Which jobs a listing shows; the defaults show every job not archived."""

    owner_id: int | None = None  #: None: everyone's (an admin's view)
    status: JobStatus | None = None
    include_archived: bool = False
    name: str | None = None  #: the file name contains this, in any case
    since: datetime | None = None  #: queued at or after (UTC)
    until: datetime | None = None  #: queued before (UTC)

    def where(self, query: Select[Any]) -> Select[Any]:
        if self.owner_id is not None:
            query = query.where(jobs.c.owner_id == self.owner_id)
        if self.status is not None:
            query = query.where(jobs.c.status == self.status.value)
        if not self.include_archived:
            query = query.where(jobs.c.archived.is_(False))
        if self.name:
            query = query.where(jobs.c.original_filename.icontains(self.name, autoescape=True))
        if self.since is not None:
            query = query.where(jobs.c.created_at >= self.since)
        if self.until is not None:
            query = query.where(jobs.c.created_at < self.until)
        return query


ANY_JOB = JobFilter()  # every job not archived


# What a listing can be sorted by ("-key" for the other way); the newest job breaks ties. Names
# in any case, alike on SQLite (binary) and MariaDB (case-insensitive collation).
SORTS: dict[str, ColumnElement[Any]] = {
    "created": jobs.c.id,
    "filename": func.lower(jobs.c.original_filename),
    "model": func.lower(jobs.c.model_name),
    "status": jobs.c.status,
    "rows": jobs.c.rows_total,
    "failed": jobs.c.rows_failed,
    "finished": jobs.c.finished_at,
}


def list_jobs(
    conn: Connection,
    shown: JobFilter = ANY_JOB,
    *,
    sort: str = "-created",
    limit: int = 100,
    offset: int = 0,
    summaries: bool = True,
) -> list[JobRecord]:
    """One page of the jobs `shown`, newest first unless `sort` names one of SORTS; without
    their summaries if `summaries` is false (decoding them would cost a panel's poll double)."""
    key = SORTS[sort.removeprefix("-")]
    order = key.desc() if sort.startswith("-") else key.asc()
    query = shown.where(_jobs(summaries)).order_by(order, jobs.c.id.desc())
    query = query.limit(limit).offset(offset)
    return [JobRecord.from_row(row) for row in conn.execute(query).mappings()]


def count_jobs(conn: Connection, shown: JobFilter = ANY_JOB) -> int:
    """How many jobs list_jobs would return without a limit (for pagination)."""
    query = shown.where(select(func.count()).select_from(jobs))
    return int(conn.execute(query).scalar_one())


def _jobs(summaries: bool = True) -> Select[Any]:
    """Jobs with their owner's name. A scalar subquery, not a join: a locking read (FOR
    UPDATE) of jobs must not lock the users table too, so get_job(for_update) goes without."""
    return _WITH_SUMMARIES if summaries else _WITHOUT_SUMMARIES


_OWNER = select(users.c.username).where(users.c.id == jobs.c.owner_id).scalar_subquery()
_WITH_SUMMARIES = select(jobs, _OWNER.label("owner"))
_WITHOUT_SUMMARIES = select(*(c for c in jobs.c if c.name != "summary"), _OWNER.label("owner"))


def count_jobs_by_status(conn: Connection) -> dict[JobStatus, int]:
    """Queue depth and totals, for `batchscore jobs` and monitoring."""
    rows = conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status))
    counts = dict.fromkeys(JobStatus, 0)
    counts.update({JobStatus(status): count for status, count in rows})
    return counts


def requeue_expired(conn: Connection, max_attempts: int) -> list[DeadClaim]:
    """IN_PROGRESS with an expired lease → PENDING, or FAILED once max_attempts claims died.

    Idempotent and safe to run from any number of processors: the expiry test is in every
    WHERE clause and uses the database clock. Returns the claims it ended, so their temp files
    can go.
    """
    expired = (jobs.c.status == JobStatus.IN_PROGRESS.value) & (jobs.c.lease_expires_at < utcnow())
    dead = [
        DeadClaim(*row)
        for row in conn.execute(select(jobs.c.id, jobs.c.claim_token).where(expired))
    ]
    if not dead:
        return []
    mine = expired & jobs.c.id.in_([claim.job_id for claim in dead])
    conn.execute(
        update(job_attempts)
        .where(job_attempts.c.claim_token.in_(select(jobs.c.claim_token).where(mine)))
        .where(job_attempts.c.outcome.is_(None))
        .values(outcome=Outcome.LEASE_EXPIRED.value, ended_at=utcnow())
    )
    given_up = mine & (jobs.c.attempts >= max_attempts)
    failing = list(conn.execute(select(jobs.c.id).where(given_up)).scalars())
    conn.execute(
        _release(given_up).values(
            status=JobStatus.FAILED.value,
            finished_at=utcnow(),
            error_message=(
                f"The processor working on this file stopped {max_attempts} times without "
                "finishing (killed, crashed or out of memory), so it was not tried again. "
                "Check the file's size and content, then retry."
            ),
        )
    )
    for job_id in failing:
        _announce(conn, job_id, JobStatus.FAILED)
    conn.execute(_release(mine).values(status=JobStatus.PENDING.value, **_NO_PROGRESS))
    return dead


def work_waiting(conn: Connection) -> bool:
    """Whether a processor would find anything to do: a PENDING job, or an IN_PROGRESS one
    whose lease has expired (to requeue). Lets an idle cron run end before loading a model."""
    expired = (jobs.c.status == JobStatus.IN_PROGRESS.value) & (jobs.c.lease_expires_at < utcnow())
    waiting = (jobs.c.status == JobStatus.PENDING.value) | expired
    return conn.execute(select(jobs.c.id).where(waiting).limit(1)).first() is not None


def claim_next_job(
    conn: Connection, *, worker_id: str, lease_seconds: float, job_id: int | None = None
) -> JobRecord | None:
    """PENDING → IN_PROGRESS for the oldest pending job (or job `job_id`); None when none is free.

    SELECT … FOR UPDATE SKIP LOCKED then a guarded UPDATE: on MariaDB/MySQL concurrent claimers
    skip each other's rows; on SQLite BEGIN IMMEDIATE (db.engine) serialises writers. The
    attempt is counted here, so a file that kills its processor cannot loop forever.
    """
    query = select(jobs.c.id).where(jobs.c.status == JobStatus.PENDING.value)
    if job_id is not None:
        query = query.where(jobs.c.id == job_id)
    found = conn.execute(query.order_by(jobs.c.id).limit(1).with_for_update(skip_locked=True))
    claimed_id = found.scalar()
    if claimed_id is None:
        return None
    token = str(uuid.uuid4())
    changed = conn.execute(
        update(jobs)
        .where(jobs.c.id == claimed_id, jobs.c.status == JobStatus.PENDING.value)
        .values(
            status=JobStatus.IN_PROGRESS.value,
            claim_token=token,
            worker_id=worker_id,
            attempts=jobs.c.attempts + 1,
            lease_expires_at=utcnow(lease_seconds),
            started_at=utcnow(),
            rows_done=0,
            rows_failed=0,
            error_message=None,
        )
    ).rowcount
    if changed != 1:  # cannot happen while the row lock / write lock holds; never claim blind
        return None
    conn.execute(
        insert(job_attempts).values(
            job_id=claimed_id, claim_token=token, worker_id=worker_id, started_at=utcnow()
        )
    )
    return get_job(conn, claimed_id)


def renew_lease(
    conn: Connection,
    job_id: int,
    claim_token: str,
    *,
    lease_seconds: float,
    rows_done: int,
    rows_failed: int,
    rows_total: int | None = None,
) -> None:
    """Extend our lease and record progress; LeaseLost if the claim is no longer ours."""
    _update_claimed(
        conn,
        job_id,
        claim_token,
        lease_expires_at=utcnow(lease_seconds),
        rows_done=rows_done,
        rows_failed=rows_failed,
        rows_total=rows_total,
    )


def mark_processed(
    conn: Connection,
    job_id: int,
    claim_token: str,
    *,
    output_name: str | None,
    model_version: int,
    rows_total: int,
    rows_failed: int,
    result_sheets: int | None = 1,
    metrics: dict[str, float] | None = None,
    summary: dict[str, Any] | None = None,
) -> None:
    """IN_PROGRESS → PROCESSED for our claim; LeaseLost if it is no longer ours.

    A score job names its result file and sums up its predictions; a train job, the version
    it made and its metrics.
    """
    _finish(
        conn,
        job_id,
        claim_token,
        Outcome.PROCESSED,
        status=JobStatus.PROCESSED.value,
        output_name=output_name,
        result_sheets=result_sheets,
        metrics=metrics,
        summary=summary,
        model_version=model_version,
        rows_total=rows_total,
        rows_done=rows_total,
        rows_failed=rows_failed,
    )
    _announce(conn, job_id, JobStatus.PROCESSED)


def mark_failed(
    conn: Connection,
    job_id: int,
    claim_token: str,
    message: str,
    *,
    model_version: int | None = None,
    rows: tuple[int, int] | None = None,
    kept: str | None = None,
) -> None:
    """IN_PROGRESS → FAILED with a message a person can act on; LeaseLost if not ours.

    `rows`: (read, failed), for a job that read all its rows before failing; `kept`: the
    result file it keeps for its bad rows (retry_job and delete_job's callers remove it).
    """
    values: dict[str, Any] = {"status": JobStatus.FAILED.value, "error_message": message}
    if model_version is not None:
        values["model_version"] = model_version
    if rows is not None:
        values |= {"rows_total": rows[0], "rows_done": rows[0], "rows_failed": rows[1]}
    if kept is not None:
        values["output_name"] = kept
    _finish(conn, job_id, claim_token, Outcome.FAILED, **values)
    _announce(conn, job_id, JobStatus.FAILED)


def release_job(conn: Connection, job_id: int, claim_token: str) -> None:
    """IN_PROGRESS → PENDING, handing our claim back at shutdown; the attempt is not counted."""
    _update_claimed(
        conn,
        job_id,
        claim_token,
        status=JobStatus.PENDING.value,
        attempts=jobs.c.attempts - 1,
        claim_token=None,
        worker_id=None,
        lease_expires_at=None,
        **_NO_PROGRESS,
    )
    _end_attempt(conn, claim_token, Outcome.RELEASED)


RETRIABLE = (JobStatus.FAILED.value, JobStatus.CANCELLED.value)
CANCELLABLE = (JobStatus.PENDING.value, JobStatus.IN_PROGRESS.value)


def retry_job(conn: Connection, job_id: int, *, owner_id: int | None = None) -> JobRecord:
    """FAILED or CANCELLED → PENDING with a fresh set of attempts; InvalidTransition from any
    other status."""
    job = get_job(conn, job_id, owner_id=owner_id)
    changed = conn.execute(_retry(jobs.c.id == job.id)).rowcount
    if changed != 1:
        raise InvalidTransition(
            f"Job {job_id} is {job.status.value}; only FAILED or CANCELLED jobs can be retried."
        )
    return get_job(conn, job_id)


def retry_failed(conn: Connection, *, owner_id: int | None = None) -> list[int]:
    """Every FAILED job (the owner's, or everyone's) → PENDING; their ids, ascending."""
    failed = _owned(jobs.c.status == JobStatus.FAILED.value, owner_id)
    ids = list(conn.execute(select(jobs.c.id).where(failed).order_by(jobs.c.id)).scalars())
    conn.execute(_retry(failed))
    return ids


def archive_failed(conn: Connection, *, owner_id: int | None = None) -> list[int]:
    """Archive every FAILED job not yet archived (the owner's, or everyone's); their ids."""
    where = _owned(
        and_(jobs.c.status == JobStatus.FAILED.value, jobs.c.archived.is_(False)), owner_id
    )
    ids = list(conn.execute(select(jobs.c.id).where(where).order_by(jobs.c.id)).scalars())
    conn.execute(update(jobs).where(where).values(archived=True))
    return ids


def cancel_job(
    conn: Connection, job_id: int, *, owner_id: int | None = None
) -> tuple[JobRecord, str | None]:
    """PENDING or IN_PROGRESS → CANCELLED, its claim voided: the processor running it finds
    its lease lost at its next renewal and stops. The job as it is now, and the claim voided
    (whose temp file the caller may remove), if it was running."""
    job = get_job(conn, job_id, owner_id=owner_id, for_update=True)
    if job.status.value not in CANCELLABLE:
        raise InvalidTransition(
            f"Job {job_id} is {job.status.value}; only PENDING or IN_PROGRESS jobs can be "
            "cancelled."
        )
    conn.execute(
        _release(jobs.c.id == job.id).values(status=JobStatus.CANCELLED.value, finished_at=utcnow())
    )
    if job.claim_token is not None:
        _end_attempt(conn, job.claim_token, Outcome.CANCELLED)
    _announce(conn, job_id, JobStatus.CANCELLED)
    return get_job(conn, job_id), job.claim_token


def set_archived(
    conn: Connection, job_id: int, archived: bool, *, owner_id: int | None = None
) -> JobRecord:
    """Archive or unarchive: a flag that hides the job from default listings, not a status."""
    job = get_job(conn, job_id, owner_id=owner_id)
    conn.execute(update(jobs).where(jobs.c.id == job.id).values(archived=archived))
    return get_job(conn, job_id)


def delete_job(conn: Connection, job_id: int, *, owner_id: int | None = None) -> JobRecord:
    """Remove the row (the caller removes the files); InvalidTransition while IN_PROGRESS."""
    job = get_job(conn, job_id, owner_id=owner_id)
    changed = conn.execute(
        delete(jobs).where(jobs.c.id == job.id, jobs.c.status != JobStatus.IN_PROGRESS.value)
    ).rowcount
    if changed != 1:
        raise InvalidTransition(
            f"Job {job_id} is being processed; cancel it first (POST /api/jobs/{job_id}/cancel), "
            "or delete it once it has finished."
        )
    return job


def archived_before(conn: Connection, older_than_seconds: float) -> list[JobRecord]:
    """Archived jobs that ended (or, never run, were queued) over `older_than_seconds` ago: what
    `batchscore prune` removes. A job being processed is never among them."""
    ended = func.coalesce(jobs.c.finished_at, jobs.c.created_at)
    query = (
        select(jobs)
        .where(
            jobs.c.archived.is_(True),
            jobs.c.status != JobStatus.IN_PROGRESS.value,
            ended < utcnow(-older_than_seconds),
        )
        .order_by(jobs.c.id)
    )
    return [JobRecord.from_row(row) for row in conn.execute(query).mappings()]


def list_attempts(conn: Connection, job_id: int) -> list[AttemptRecord]:
    """Every claim of the job, oldest first: the evidence of how often it really ran."""
    rows = conn.execute(
        select(job_attempts).where(job_attempts.c.job_id == job_id).order_by(job_attempts.c.id)
    ).mappings()
    return [AttemptRecord(**{f.name: row[f.name] for f in fields(AttemptRecord)}) for row in rows]


_NO_PROGRESS: dict[str, Any] = {"rows_done": 0, "rows_failed": 0, "rows_total": None}


def _retry(where: ColumnElement[bool]) -> Any:
    return (
        update(jobs)
        .where(where, jobs.c.status.in_(RETRIABLE))
        .values(
            status=JobStatus.PENDING.value,
            attempts=0,
            error_message=None,
            rows_done=0,
            rows_failed=0,
            rows_total=None,
            started_at=None,
            finished_at=None,
            output_name=None,  # a failed job's kept result: the caller removes the file
        )
    )


def kept_results(conn: Connection, *, owner_id: int | None = None) -> list[str]:
    """The result files FAILED jobs keep for their bad rows (the owner's, or everyone's)."""
    kept = _owned(
        and_(jobs.c.status == JobStatus.FAILED.value, jobs.c.output_name.is_not(None)), owner_id
    )
    return [str(name) for name in conn.execute(select(jobs.c.output_name).where(kept)).scalars()]


def _owned(where: ColumnElement[bool], owner_id: int | None) -> ColumnElement[bool]:
    return where if owner_id is None else and_(where, jobs.c.owner_id == owner_id)


def _release(where: ColumnElement[bool]) -> Any:
    return update(jobs).where(where).values(claim_token=None, worker_id=None, lease_expires_at=None)


def _update_claimed(conn: Connection, job_id: int, claim_token: str, /, **values: Any) -> None:
    changed = conn.execute(
        update(jobs)
        .where(
            jobs.c.id == job_id,
            jobs.c.claim_token == claim_token,
            jobs.c.status == JobStatus.IN_PROGRESS.value,
        )
        .values(**values)
    ).rowcount
    if changed != 1:
        raise LeaseLost(f"Job {job_id}: our claim {claim_token[:8]} is no longer valid.")


def _finish(
    conn: Connection, job_id: int, claim_token: str, outcome: Outcome, **values: Any
) -> None:
    _update_claimed(
        conn, job_id, claim_token, finished_at=utcnow(), lease_expires_at=None, **values
    )
    _end_attempt(conn, claim_token, outcome)


def _announce(conn: Connection, job_id: int, ended: JobStatus) -> None:
    """In the transaction that ends a job: count its end (/metrics), and queue its webhook if
    it has a callback URL (job.processed, job.failed or job.cancelled)."""
    count_job_end(conn, job_id, ended.value)
    enqueue_delivery(conn, job_id, f"job.{ended.value.lower()}")


def _end_attempt(conn: Connection, claim_token: str, outcome: Outcome) -> None:
    conn.execute(
        update(job_attempts)
        .where(job_attempts.c.claim_token == claim_token)
        .values(outcome=outcome.value, ended_at=utcnow())
    )

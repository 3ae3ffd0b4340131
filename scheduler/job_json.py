"""The job as JSON: one shape (a msgspec Struct) for the API's answers and the webhook bodies
a processor sends when a job ends, so a program reads both the same way."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

import msgspec
from msgspec import Meta, Struct

from batchscore.config import OUTPUT_FORMATS
from batchscore.db.jobs import JobKind, JobRecord, JobStatus
from batchscore.model.summary import Summary
from batchscore.scheduler.reading import describe_read_as

Id = Annotated[int, Meta(ge=1)]
Count = Annotated[int, Meta(ge=0)]
Time = Annotated[str, Meta(description="ISO 8601, UTC.", examples=["2026-12-02T07:01:02.123Z"])]
OutputFormat = Literal[OUTPUT_FORMATS]  # type: ignore[valid-type]


class ReadAs(Struct, kw_only=True, omit_defaults=True):
    """How a score job's file is read, as detected or as its upload asked."""

    kind: Annotated[
        Literal["csv", "parquet", "sheet"],
        Meta(description="CSV text, a parquet file, or a sheet of a workbook."),
    ]
    compression: Literal["gzip", "zip"] | None = None
    encoding: Annotated[str | None, Meta(description="A CSV file's text encoding.")] = None
    delimiter: Annotated[str | None, Meta(description="A CSV file's field separator.")] = None
    decimal: Annotated[
        Literal[".", ","] | None, Meta(description="The decimal mark of numbers written as text.")
    ] = None
    sheet: Annotated[str | None, Meta(description="The workbook sheet read.")] = None
    text: Annotated[str, Meta(description="All of it in words.")] = ""


class Job(Struct, kw_only=True):
    """A file to score (or to train a model from), and how its processing goes."""

    id: Id
    kind: Annotated[
        JobKind, Meta(description="score: predict for a file; train: a new model version from it.")
    ]
    status: JobStatus
    filename: Annotated[str, Meta(description="The uploaded file's name.")]
    owner: Annotated[
        str | None,
        Meta(description="Whose job it is: a user name; null if nobody's (CLI without --user)."),
    ]
    model: str
    model_version: Annotated[
        int | None,
        Meta(
            description="Null until processed (the active version is used); a train job's is "
            "the version it made."
        ),
    ]
    output_format: Annotated[
        OutputFormat | None,
        Meta(description="Null for a train job: its result is a model version."),
    ]
    result_sheets: Annotated[
        Annotated[int, Meta(ge=1)] | None,
        Meta(
            description="Sheets of the result once PROCESSED: an xlsx sheet holds 1,048,575 "
            "rows, so a longer result continues on sheets 'predictions 2', … (header repeated)."
        ),
    ]
    metrics: Annotated[
        dict[str, float] | None,
        Meta(description="A processed train job's scores of the new version on unseen rows."),
    ]
    summary: Annotated[
        Summary | None,
        Meta(
            description="A processed score job's predictions at a glance and, when its file "
            "held the model's target column, how right they were. Null in GET /api/jobs "
            "unless summaries=true (histograms and bins make it large)."
        ),
    ]
    read_as: Annotated[ReadAs | None, Meta(description="Null for a train job.")]
    rows_total: Count | None
    rows_done: Count
    rows_failed: Count
    progress: Annotated[float, Meta(ge=0, le=1)]
    error: Annotated[str | None, Meta(description="Why the job FAILED.")]
    attempts: Count
    archived: bool
    created_at: Time
    started_at: Time | None
    finished_at: Time | None
    duration_seconds: Annotated[float, Meta(ge=0)] | None
    url: Annotated[str, Meta(description="The job's own URL.")]
    result_url: Annotated[
        str | None, Meta(description="Where to download the result once the job is PROCESSED.")
    ]
    callback_url: Annotated[
        str | None,
        Meta(description="Where a webhook is POSTed when the job ends (see deliveries_url)."),
    ]
    deliveries_url: Annotated[str, Meta(description="Its webhook deliveries and their outcome.")]


def time_text(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds") + "Z"


def job_json(job: JobRecord, base_url: str) -> Job:
    """The job, its URLs under `base_url` (the server's address, ending in /)."""
    done = job.status is JobStatus.PROCESSED
    scores = job.kind is JobKind.SCORE
    duration = (
        (job.finished_at - job.started_at).total_seconds()
        if job.started_at and job.finished_at
        else None
    )
    return Job(
        id=job.id,
        kind=job.kind,
        status=job.status,
        filename=job.original_filename,
        owner=job.owner,
        model=job.model_name,
        model_version=job.model_version,
        output_format=job.output_format if scores else None,
        result_sheets=job.result_sheets,
        metrics=job.metrics,
        summary=msgspec.convert(job.summary, Summary) if job.summary else None,
        read_as=_read_as(job.read_as),
        rows_total=job.rows_total,
        rows_done=job.rows_done,
        rows_failed=job.rows_failed,
        progress=(job.rows_done / job.rows_total) if job.rows_total else (1.0 if done else 0.0),
        error=job.error_message,
        attempts=job.attempts,
        archived=job.archived,
        created_at=time_text(job.created_at) or "",
        started_at=time_text(job.started_at),
        finished_at=time_text(job.finished_at),
        duration_seconds=duration,
        url=f"{base_url}api/jobs/{job.id}",
        result_url=f"{base_url}api/jobs/{job.id}/result" if done and scores else None,
        callback_url=job.callback_url,
        deliveries_url=f"{base_url}api/jobs/{job.id}/deliveries",
    )


def _read_as(read_as: dict[str, str] | None) -> ReadAs | None:
    if not read_as:
        return None
    return msgspec.convert({**read_as, "text": describe_read_as(read_as)}, ReadAs)


class JobEvent(Struct, kw_only=True):
    """A webhook's body: a job has ended (PROCESSED, FAILED or CANCELLED)."""

    id: Annotated[int, Meta(ge=1, description="The delivery's id; a retry sends the same one.")]
    event: Literal["job.processed", "job.failed", "job.cancelled"]
    created_at: Time
    job: Job


def job_event(delivery_id: int, event: str, created_at: datetime, job: Job) -> bytes:
    """The body of a webhook, as sent (and signed)."""
    payload = msgspec.convert(
        {"id": delivery_id, "event": event, "created_at": time_text(created_at), "job": job},
        JobEvent,
        from_attributes=True,
    )
    return msgspec.json.encode(payload)

"""The jobs API: upload, list, show, download, cancel, retry, archive, delete; retry or archive
every failed job at once."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from batchscore.api.auth import current_user
from batchscore.api.download import result_response
from batchscore.api.idempotency import idempotency, key_of, queued_response
from batchscore.api.openapi import (
    IDEMPOTENCY_KEY,
    JOB_ID,
    TOKEN_REPLIES,
    Reply,
    operation,
    query,
    refusal,
)
from batchscore.api.params import bool_param, bool_value, int_param, status_param, time_param
from batchscore.api.payloads import JobIds, JobList, job_payload, json_response
from batchscore.api.state import context_of
from batchscore.api.upload import receive_upload
from batchscore.config import MEDIA_TYPES
from batchscore.db.jobs import SORTS, JobFilter, JobStatus
from batchscore.scheduler.job_json import Job
from batchscore.scheduler.score_options import ScoreOptions
from batchscore.service import jobs
from batchscore.service.intake import queue_once, queue_stored
from batchscore.service.status import processors

_BINARY = {"schema": {"type": "string", "format": "binary"}}
_THE_JOB = Reply("The job.", Job)


@operation(
    "createJob",
    "jobs",
    {
        200: "JobReplayed",
        201: "JobQueued",
        400: "MalformedForm",
        **TOKEN_REPLIES,
        404: "UnknownModel",
        409: "KeyInUse",
        413: "UploadTooLarge",
        422: "InvalidInput",
        503: "ModelUnavailable",
    },
    parameters=[IDEMPOTENCY_KEY],
    body="JobFile",
)
async def create_job(request: Request) -> Response:
    """Upload a data file (multipart field `file`; optional `model`, `format`, `probabilities`,
    `keep_formulas`, `warnings`, `encoding`, `decimal`, `sheet`) as a new job.

    The file is checked against the model's features before it is queued; a file that cannot
    be scored is refused with 422 and the reason. Process it later (cron), or now with
    POST /process_file.
    """
    user = await run_in_threadpool(current_user, request)
    key = key_of(request)
    ctx = context_of(request)
    upload, options = await receive_upload(
        request,
        ctx.storage,
        ctx.settings.max_upload_bytes,
        (
            "model",
            "format",
            "probabilities",
            "keep_formulas",
            "warnings",
            "callback_url",
            *READ_FIELDS,
        ),
        score_options,
    )
    once = idempotency(request, key, user.id, upload)
    job, replayed = await run_in_threadpool(
        queue_once,
        ctx,
        upload.stored,
        once,
        lambda: queue_stored(
            ctx,
            upload.stored,
            upload.filename,
            model_name=upload.fields.get("model"),
            output_format=upload.fields.get("format"),
            options=options,
            owner_id=user.id,
            idempotency=once,
            callback_url=upload.fields.get("callback_url"),
        ),
    )
    return queued_response(request, job, replayed)


@operation(
    "listJobs",
    "jobs",
    {
        200: Reply("One page of jobs, and how many match in all.", JobList),
        **TOKEN_REPLIES,
        422: "InvalidInput",
    },
    parameters=[
        query(
            "status",
            {"type": "string", "enum": [s.value for s in JobStatus]},
            "Only jobs in this status (case-insensitive).",
        ),
        query("archived", {"type": "boolean", "default": False}, "Include archived jobs."),
        query("q", {"type": "string", "maxLength": 255}, "Only files whose name contains this."),
        query(
            "since",
            {"type": "string", "format": "date-time"},
            "Only jobs queued at or after this date or time (ISO 8601; UTC unless it says).",
        ),
        query(
            "until",
            {"type": "string", "format": "date-time"},
            "Only jobs queued before this date or time.",
        ),
        query(
            "sort",
            {"type": "string", "enum": [f"{d}{k}" for k in SORTS for d in ("", "-")]},
            "The order: created (default -created, the newest first), filename, model, "
            "status, rows, failed or finished; '-' for the other way round.",
        ),
        query(
            "summaries",
            {"type": "boolean", "default": False},
            "Include each job's summary (null otherwise; GET /api/jobs/{id} always has it).",
        ),
        query("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}),
        query("offset", {"type": "integer", "minimum": 0, "maximum": 2**62, "default": 0}),
    ],
)
def list_jobs_route(request: Request) -> Response:
    """The caller's jobs (an admin's: everyone's), newest first unless sorted otherwise."""
    user = current_user(request)
    shown = JobFilter(
        status=status_param(request),
        include_archived=bool_param(request, "archived", default=False),
        name=request.query_params.get("q", "").strip()[:255] or None,
        since=time_param(request, "since"),
        until=time_param(request, "until"),
    )
    limit = int_param(request, "limit", default=50, low=1, high=500)
    offset = int_param(request, "offset", default=0)
    sort = request.query_params.get("sort") or "-created"
    summaries = bool_param(request, "summaries", default=False)
    page = jobs.list_jobs(
        context_of(request),
        user,
        shown,
        sort=sort,
        limit=limit,
        offset=offset,
        summaries=summaries,
    )
    payloads = [job_payload(j, request) for j in page.jobs]
    running = processors(context_of(request))
    return json_response(JobList(payloads, page.total, limit, offset, running))


@operation("getJob", "jobs", {200: _THE_JOB, **TOKEN_REPLIES, 404: "NotFound"}, parameters=[JOB_ID])
def get_job_route(request: Request) -> Response:
    """One job with its status and progress."""
    user, job_id = current_user(request), request.path_params["job_id"]
    return json_response(job_payload(jobs.get_job(context_of(request), user, job_id), request))


@operation(
    "getJobResult",
    "jobs",
    {
        200: Reply(
            "The input table with the prediction columns, as an attachment.",
            content={MEDIA_TYPES[f].split(";")[0]: _BINARY for f in MEDIA_TYPES},
            headers={
                "Content-Disposition": {
                    "description": 'attachment; filename="<upload name>-predictions.<format>"',
                    "schema": {"type": "string"},
                }
            },
        ),
        **TOKEN_REPLIES,
        404: "NotFound",
        409: refusal("The job is not PROCESSED (yet), or trains a model: it has no result file."),
    },
    parameters=[JOB_ID],
)
def get_result(request: Request) -> Response:
    """Download the result file of a PROCESSED job."""
    user, job_id = current_user(request), request.path_params["job_id"]
    ctx = context_of(request)
    result = jobs.result_file(ctx, user, job_id)
    media_type = MEDIA_TYPES[result.output_format]
    return result_response(ctx.storage, result.name, media_type, result.download_name)


@operation(
    "getJobErrors",
    "jobs",
    {
        200: Reply(
            "The result's rows with an error, as a CSV attachment: a `row` column first (the "
            "row as a spreadsheet numbers the file, the header being row 1), then the result's "
            "columns.",
            content={"text/csv": _BINARY},
        ),
        **TOKEN_REPLIES,
        404: "NotFound",
        409: refusal("The job is not PROCESSED (yet), or trains a model: it has no result file."),
    },
    parameters=[JOB_ID],
)
def get_errors(request: Request) -> Response:
    """Download the rows a PROCESSED job could not score, to fix them and upload them again."""
    user, job_id = current_user(request), request.path_params["job_id"]
    blocks, filename = jobs.error_rows(context_of(request), user, job_id)
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return StreamingResponse(blocks, media_type="text/csv; charset=utf-8", headers=headers)


@operation(
    "cancelJob",
    "jobs",
    {
        200: Reply("The job, CANCELLED.", Job),
        **TOKEN_REPLIES,
        404: "NotFound",
        409: refusal("The job has already ended (PROCESSED, FAILED or CANCELLED)."),
    },
    parameters=[JOB_ID],
)
def cancel(request: Request) -> Response:
    """Stop a PENDING or IN_PROGRESS job. It is CANCELLED at once; a processor running it stops
    within about a second and leaves no file behind. The upload is kept: retry to run it again.
    """
    user, job_id = current_user(request), request.path_params["job_id"]
    return json_response(job_payload(jobs.cancel_job(context_of(request), user, job_id), request))


@operation(
    "retryJob",
    "jobs",
    {
        200: Reply("The job, PENDING again with its attempts reset.", Job),
        **TOKEN_REPLIES,
        404: "NotFound",
        409: refusal("The job is not FAILED or CANCELLED."),
    },
    parameters=[JOB_ID],
)
def retry(request: Request) -> Response:
    """Put a FAILED or CANCELLED job back in the queue."""
    user, job_id = current_user(request), request.path_params["job_id"]
    return json_response(job_payload(jobs.retry_job(context_of(request), user, job_id), request))


_BULK = {200: Reply("The jobs changed, ascending (none: an empty list).", JobIds), **TOKEN_REPLIES}


@operation("retryFailedJobs", "jobs", _BULK)
def retry_failed(request: Request) -> Response:
    """Put every FAILED job back in the queue: your own, or everyone's for an admin."""
    return json_response(JobIds(jobs.retry_failed(context_of(request), current_user(request))))


@operation("archiveFailedJobs", "jobs", _BULK)
def archive_failed(request: Request) -> Response:
    """Archive every FAILED job not yet archived: your own, or everyone's for an admin."""
    return json_response(JobIds(jobs.archive_failed(context_of(request), current_user(request))))


_ARCHIVED = {
    200: Reply("The job with its new `archived` flag.", Job),
    **TOKEN_REPLIES,
    404: "NotFound",
}


@operation("archiveJob", "jobs", _ARCHIVED, parameters=[JOB_ID])
def archive(request: Request) -> Response:
    """Hide a job from default listings."""
    return _set_archived(request, True)


@operation("unarchiveJob", "jobs", _ARCHIVED, parameters=[JOB_ID])
def unarchive(request: Request) -> Response:
    """Show an archived job in default listings again."""
    return _set_archived(request, False)


def _set_archived(request: Request, archived: bool) -> Response:
    user, job_id = current_user(request), request.path_params["job_id"]
    job = jobs.set_archived(context_of(request), user, job_id, archived)
    return json_response(job_payload(job, request))


@operation(
    "deleteJob",
    "jobs",
    {
        204: Reply("Deleted."),
        **TOKEN_REPLIES,
        404: "NotFound",
        409: refusal("The job is being processed; cancel it first, or wait until it ends."),
    },
    parameters=[JOB_ID],
)
def delete(request: Request) -> Response:
    """Delete a job, its uploaded file and its result."""
    user, job_id = current_user(request), request.path_params["job_id"]
    jobs.delete_job(context_of(request), user, job_id)
    return Response(status_code=204)


READ_FIELDS = ("encoding", "decimal", "sheet")


def score_options(fields: dict[str, str]) -> ScoreOptions:
    """The job's choices from its upload form's fields (an empty field: the default)."""
    return ScoreOptions(
        probabilities=fields.get("probabilities") or ScoreOptions.probabilities,
        keep_formulas=bool_value(
            fields.get("keep_formulas"), "The form field 'keep_formulas'", default=False
        ),
        warnings=bool_value(fields.get("warnings"), "The form field 'warnings'", default=True),
        encoding=fields.get("encoding") or None,
        decimal=fields.get("decimal") or None,
        sheet=fields.get("sheet") or None,
    )

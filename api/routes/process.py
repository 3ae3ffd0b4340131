"""/process_file and /process_all: run jobs now, through the same processor cron uses."""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from batchscore.api.auth import current_user
from batchscore.api.openapi import TOKEN_REPLIES, Reply, operation, query
from batchscore.api.params import bool_param, int_param
from batchscore.api.payloads import (
    JobConflict,
    ProcessAll,
    error_payload,
    job_payload,
    json_response,
)
from batchscore.api.state import context_of
from batchscore.db.jobs import JobStatus
from batchscore.scheduler.job_json import Job
from batchscore.service import jobs
from batchscore.service.jobs import ENDED, StoppedJob


@operation(
    {"GET": "processFileByGet", "POST": "processFile"},
    "processing",
    {
        200: Reply("The job, ended (PROCESSED, FAILED with `error`, or CANCELLED).", Job),
        202: Reply(
            "Accepted: with `wait=false`, or when another processor still holds the job after "
            "LEASE_SECONDS; the job, PENDING or IN_PROGRESS, runs in the background.",
            Job,
        ),
        **TOKEN_REPLIES,
        404: "NotFound",
        409: Reply(
            "The job had FAILED or was CANCELLED before this call: retry it first.", JobConflict
        ),
        422: "InvalidInput",
    },
    parameters=[
        query(
            "id",
            {"type": "integer", "minimum": 1, "maximum": 2**62},
            "The job's id.",
            required=True,
        ),
        query(
            "wait",
            {"type": "boolean", "default": True},
            "Wait for the job to end (true), or answer 202 at once (false).",
        ),
    ],
)
def process_file(request: Request) -> Response:
    """Process job `id` now: 200 with the ended job, or 202 at once with `wait=false`.

    Runs the same processor cron runs. A job another processor has (the one `batchscore serve`
    runs, say) is waited for, up to LEASE_SECONDS (then 202); one already PROCESSED is answered
    as it is; a FAILED or CANCELLED job is a conflict (retry it first). GET does the same as POST.
    """
    user = current_user(request, changes=True)  # GET too: it processes jobs
    job_id = int_param(request, "id", low=1)
    wait = bool_param(request, "wait", default=True)
    ctx = context_of(request)
    try:
        job = jobs.startable_job(ctx, user, job_id)
        if wait:
            # One lease: by then the other processor has ended the job, or died and we took
            # it over, or is alive and busy with it (202: follow it at GET /api/jobs/{id}).
            job = jobs.finish(ctx, job.id, patience=ctx.settings.lease_seconds)
            ended = job.status in ENDED
            return json_response(job_payload(job, request), 200 if ended else 202)
        if job.status is JobStatus.PROCESSED:
            return json_response(job_payload(job, request))
        task = BackgroundTask(jobs.process_each, ctx, [job.id])
        return json_response(job_payload(job, request), 202, background=task)
    except StoppedJob as exc:
        refusal = error_payload("conflict", exc.message)
        return json_response(JobConflict(refusal.error, job_payload(exc.job, request)), 409)


@operation(
    {"GET": "processAllByGet", "POST": "processAll"},
    "processing",
    {
        202: Reply(
            "Accepted; these jobs are processed in the background, in id order.", ProcessAll
        ),
        **TOKEN_REPLIES,
    },
)
def process_all(request: Request) -> Response:
    """Process every pending job of the caller (an admin's: all) in the background; 202.

    GET does the same as POST.
    """
    user = current_user(request, changes=True)  # GET too: it processes jobs
    ctx = context_of(request)
    ids = jobs.pending_ids(ctx, user)
    task = BackgroundTask(jobs.process_each, ctx, ids)
    return json_response(ProcessAll(ids, len(ids)), 202, background=task)

"""/process_file and /process_all: run jobs now, through the same processor cron uses."""

from __future__ import annotations

import logging

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from batchscore.api.auth import current_user, owner_scope
from batchscore.api.errors import error_body
from batchscore.api.params import bool_param, int_param
from batchscore.api.payloads import job_json
from batchscore.api.state import context_of
from batchscore.db.engine import in_transaction
from batchscore.db.jobs import JobRecord, JobStatus, get_job, list_jobs
from batchscore.errors import DatabaseUnavailable
from batchscore.scheduler.context import Context
from batchscore.scheduler.processor import process_one

logger = logging.getLogger(__name__)

_MAX_BATCH = 10_000  # jobs one /process_all call takes on
_REFUSALS = {
    JobStatus.PROCESSED: "Job {id} is already PROCESSED; download it from result_url.",
    JobStatus.IN_PROGRESS: "Job {id} is being processed elsewhere.",
    JobStatus.FAILED: "Job {id} FAILED; retry it first with POST /api/jobs/{id}/retry.",
}


def process_file(request: Request) -> Response:
    """Process job `id` now: 200 with the finished job, or 202 at once with `wait=false`.
    ---
    description: >
      Runs the same processor cron runs. The job must be PENDING. GET does the same as POST.
    parameters:
      - name: id
        in: query
        required: true
        schema: {type: integer, minimum: 1, maximum: 4611686018427387904}
        description: The job's id.
      - name: wait
        in: query
        schema: {type: boolean, default: true}
        description: Wait for the job to finish (true), or answer 202 at once (false).
    responses:
      "200":
        description: The job, finished (PROCESSED, or FAILED with `error`).
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Job"}
      "202":
        description: Accepted (`wait=false`); the job, still PENDING, runs in the background.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Job"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409":
        description: The job is not PENDING (processed, failed or being processed elsewhere).
        content:
          application/json:
            schema: {$ref: "#/components/schemas/JobConflict"}
      "422": {$ref: "#/components/responses/InvalidInput"}
    """
    user = current_user(request, changes=True)  # GET too: it processes jobs
    job_id = int_param(request, "id", low=1)
    wait = bool_param(request, "wait", default=True)
    ctx = context_of(request)
    job = in_transaction(ctx.engine, lambda c: get_job(c, job_id, owner_id=owner_scope(user)))
    if job.status is not JobStatus.PENDING:
        return _conflict(job, request)
    if not wait:
        task = BackgroundTask(_process_each, ctx, [job.id])
        return JSONResponse(job_json(job, request), status_code=202, background=task)
    finished = process_one(ctx, job_id=job.id)
    if finished is None:  # another processor claimed it between our read and our claim
        return _conflict(in_transaction(ctx.engine, lambda c: get_job(c, job_id)), request)
    return JSONResponse(job_json(finished, request))


def process_all(request: Request) -> Response:
    """Process every pending job of the caller (an admin's: all) in the background; 202.
    ---
    description: GET does the same as POST.
    responses:
      "202":
        description: Accepted; these jobs are processed in the background, in id order.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/ProcessAll"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
    """
    user = current_user(request, changes=True)  # GET too: it processes jobs
    ctx = context_of(request)
    pending = in_transaction(
        ctx.engine,
        lambda c: list_jobs(
            c, owner_id=owner_scope(user), status=JobStatus.PENDING, limit=_MAX_BATCH
        ),
    )
    ids = sorted(job.id for job in pending)
    task = BackgroundTask(_process_each, ctx, ids)
    return JSONResponse({"job_ids": ids, "count": len(ids)}, status_code=202, background=task)


def _process_each(ctx: Context, job_ids: list[int]) -> None:
    """Process jobs after the response has gone; one left over is taken by cron or a worker.

    Each claim is atomic: a job that cron or a worker takes first is simply skipped here.
    """
    try:
        for job_id in job_ids:
            process_one(ctx, job_id=job_id)
    except DatabaseUnavailable as exc:  # nobody waits for this answer: log and leave the rest
        logger.warning("Background processing stopped, database unreachable (%s)", exc.reason)


def _conflict(job: JobRecord, request: Request) -> Response:
    message = _REFUSALS.get(job.status, "Job {id} is not pending.").format(id=job.id)
    body = {**error_body("conflict", message), "job": job_json(job, request)}
    return JSONResponse(body, status_code=409)

"""/process_file and /process_all: run jobs now, through the same processor cron uses."""

from __future__ import annotations

from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from batchscore.api.auth import current_user
from batchscore.api.errors import error_body
from batchscore.api.params import bool_param, int_param
from batchscore.api.payloads import job_json
from batchscore.api.state import context_of
from batchscore.service import jobs
from batchscore.service.jobs import NotPending


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
    try:
        job = jobs.pending_job(ctx, user, job_id)
        if not wait:
            task = BackgroundTask(jobs.process_each, ctx, [job.id])
            return JSONResponse(job_json(job, request), status_code=202, background=task)
        return JSONResponse(job_json(jobs.process_now(ctx, job.id), request))
    except NotPending as exc:
        body = {**error_body("conflict", exc.message), "job": job_json(exc.job, request)}
        return JSONResponse(body, status_code=409)


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
    ids = jobs.pending_ids(ctx, user)
    task = BackgroundTask(jobs.process_each, ctx, ids)
    return JSONResponse({"job_ids": ids, "count": len(ids)}, status_code=202, background=task)

"""The jobs API: upload, list, show, download, retry, archive, delete."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from batchscore.api.auth import current_user
from batchscore.api.download import result_response
from batchscore.api.params import bool_param, int_param, status_param
from batchscore.api.payloads import job_json
from batchscore.api.state import context_of
from batchscore.api.upload import receive_upload
from batchscore.service import jobs
from batchscore.service.intake import queue_stored

MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


async def create_job(request: Request) -> Response:
    """Upload a CSV file (multipart field `file`; optional `model`, `format`) as a new job.
    ---
    description: >
      The file is checked against the model's features before it is queued; a file that
      cannot be scored is refused with 422 and the reason. Process it later (cron), or now
      with POST /process_file.
    requestBody:
      required: true
      content:
        multipart/form-data:
          schema:
            type: object
            required: [file]
            properties:
              file:
                type: string
                format: binary
                description: The CSV file, with a header row naming the model's features.
              model:
                type: string
                pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
                description: Model name (default the configured one); see GET /api/models.
              format:
                type: string
                enum: [xlsx, csv, parquet]
                description: Result format (default the configured one).
    responses:
      "201":
        description: Queued as a PENDING job.
        headers:
          Location:
            description: The job's URL.
            schema: {type: string, format: uri}
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Job"}
      "400":
        description: The body is not a well-formed multipart form.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Error"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/UnknownModel"}
      "413":
        description: The file is larger than the upload limit.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Error"}
      "422": {$ref: "#/components/responses/InvalidInput"}
      "503": {$ref: "#/components/responses/ModelUnavailable"}
    """
    user = await run_in_threadpool(current_user, request)
    ctx = context_of(request)
    upload = await receive_upload(
        request, ctx.storage, ctx.settings.max_upload_bytes, fields=("model", "format")
    )
    job = await run_in_threadpool(
        queue_stored,
        ctx,
        upload.stored,
        upload.filename,
        model_name=upload.fields.get("model"),
        output_format=upload.fields.get("format"),
        owner_id=user.id,
    )
    body = job_json(job, request)
    return JSONResponse(body, status_code=201, headers={"Location": str(body["url"])})


def list_jobs_route(request: Request) -> Response:
    """The caller's jobs (an admin's: everyone's), newest first.
    ---
    parameters:
      - name: status
        in: query
        schema: {type: string, enum: [PENDING, IN_PROGRESS, PROCESSED, FAILED]}
        description: Only jobs in this status (case-insensitive).
      - name: archived
        in: query
        schema: {type: boolean, default: false}
        description: Include archived jobs.
      - name: limit
        in: query
        schema: {type: integer, minimum: 1, maximum: 500, default: 50}
      - name: offset
        in: query
        schema: {type: integer, minimum: 0, maximum: 4611686018427387904, default: 0}
    responses:
      "200":
        description: One page of jobs, and how many match in all.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/JobList"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "422": {$ref: "#/components/responses/InvalidInput"}
    """
    user = current_user(request)
    status, archived = status_param(request), bool_param(request, "archived", default=False)
    limit = int_param(request, "limit", default=50, low=1, high=500)
    offset = int_param(request, "offset", default=0)
    page = jobs.list_jobs(
        context_of(request), user, status=status, archived=archived, limit=limit, offset=offset
    )
    return JSONResponse(
        {
            "jobs": [job_json(j, request) for j in page.jobs],
            "total": page.total,
            "limit": limit,
            "offset": offset,
        }
    )


def get_job_route(request: Request) -> Response:
    """One job with its status and progress.
    ---
    parameters:
      - {$ref: "#/components/parameters/JobId"}
    responses:
      "200":
        description: The job.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Job"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    user, job_id = current_user(request), request.path_params["job_id"]
    return JSONResponse(job_json(jobs.get_job(context_of(request), user, job_id), request))


def get_result(request: Request) -> Response:
    """Download the result file of a PROCESSED job.
    ---
    parameters:
      - {$ref: "#/components/parameters/JobId"}
    responses:
      "200":
        description: The input table with the prediction columns, as an attachment.
        headers:
          Content-Disposition:
            description: attachment; filename="<upload name>-predictions.<format>"
            schema: {type: string}
        content:
          application/vnd.openxmlformats-officedocument.spreadsheetml.sheet:
            schema: {type: string, format: binary}
          text/csv:
            schema: {type: string, format: binary}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409":
        description: The job is not PROCESSED (yet), so it has no result.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Error"}
    """
    user, job_id = current_user(request), request.path_params["job_id"]
    ctx = context_of(request)
    result = jobs.result_file(ctx, user, job_id)
    media_type = MEDIA_TYPES[result.output_format]
    return result_response(ctx.storage, result.name, media_type, result.download_name)


def retry(request: Request) -> Response:
    """Put a FAILED job back in the queue.
    ---
    parameters:
      - {$ref: "#/components/parameters/JobId"}
    responses:
      "200":
        description: The job, PENDING again with its attempts reset.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Job"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409":
        description: The job is not FAILED.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Error"}
    """
    user, job_id = current_user(request), request.path_params["job_id"]
    return JSONResponse(job_json(jobs.retry_job(context_of(request), user, job_id), request))


def archive(request: Request) -> Response:
    """Hide a job from default listings (POST …/archive) or show it again (…/unarchive).
    ---
    parameters:
      - {$ref: "#/components/parameters/JobId"}
    responses:
      "200":
        description: The job with its new `archived` flag.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Job"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
    """
    user, job_id = current_user(request), request.path_params["job_id"]
    flag = request.url.path.endswith("/archive")
    job = jobs.set_archived(context_of(request), user, job_id, flag)
    return JSONResponse(job_json(job, request))


def delete(request: Request) -> Response:
    """Delete a job, its uploaded file and its result.
    ---
    parameters:
      - {$ref: "#/components/parameters/JobId"}
    responses:
      "204":
        description: Deleted.
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/NotFound"}
      "409":
        description: The job is being processed; delete it once it has finished.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Error"}
    """
    user, job_id = current_user(request), request.path_params["job_id"]
    jobs.delete_job(context_of(request), user, job_id)
    return Response(status_code=204)

"""The jobs API: upload, list, show, download, retry, archive, delete."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from api.auth import current_user, owner_scope
from api.params import bool_param, int_param, status_param
from api.payloads import job_json
from batchscore.errors import InputError, InvalidTransition, TooLarge
from batchscore.storage import safe_stem
from db.engine import in_transaction
from db.jobs import JobStatus, count_jobs, delete_job, get_job, list_jobs, retry_job, set_archived
from scheduler.context import Context
from scheduler.intake import submit_file

MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}
_MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file itself


def context_of(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


async def create_job(request: Request) -> Response:
    """Upload a CSV file (multipart field `file`; optional `model`, `format`) as a new job."""
    user = await run_in_threadpool(current_user, request)
    ctx = context_of(request)
    limit = ctx.settings.max_upload_bytes
    if int(request.headers.get("content-length") or 0) > limit + _MULTIPART_OVERHEAD:
        raise TooLarge(f"The upload is larger than the limit of {limit:,} bytes.")
    async with request.form(max_files=1, max_fields=10) as form:
        upload, model, fmt = form.get("file"), form.get("model"), form.get("format")
        if not isinstance(upload, UploadFile):
            raise InputError("Send the CSV file as the multipart form field 'file'.")
        job = await run_in_threadpool(
            submit_file,
            ctx,
            upload.file,
            upload.filename or "upload.csv",
            model_name=str(model) if model else None,
            output_format=str(fmt) if fmt else None,
            owner_id=user.id,
        )
    body = job_json(job, request)
    return JSONResponse(body, status_code=201, headers={"Location": str(body["url"])})


def list_jobs_route(request: Request) -> Response:
    """The caller's jobs (an admin's: everyone's), newest first."""
    user = current_user(request)
    status, archived = status_param(request), bool_param(request, "archived", default=False)
    limit = int_param(request, "limit", default=50, low=1, high=500)
    offset = int_param(request, "offset", default=0)
    owner = owner_scope(user)
    jobs, total = in_transaction(
        context_of(request).engine,
        lambda c: (
            list_jobs(
                c,
                owner_id=owner,
                status=status,
                include_archived=archived,
                limit=limit,
                offset=offset,
            ),
            count_jobs(c, owner_id=owner, status=status, include_archived=archived),
        ),
    )
    return JSONResponse(
        {
            "jobs": [job_json(j, request) for j in jobs],
            "total": total,
            "limit": limit,
            "offset": offset,
        }
    )


def get_job_route(request: Request) -> Response:
    """One job with its status and progress."""
    user, job_id = current_user(request), request.path_params["job_id"]
    job = in_transaction(
        context_of(request).engine, lambda c: get_job(c, job_id, owner_id=owner_scope(user))
    )
    return JSONResponse(job_json(job, request))


def get_result(request: Request) -> Response:
    """Download the result file of a PROCESSED job."""
    user, job_id = current_user(request), request.path_params["job_id"]
    ctx = context_of(request)
    job = in_transaction(ctx.engine, lambda c: get_job(c, job_id, owner_id=owner_scope(user)))
    if job.status is not JobStatus.PROCESSED or job.output_name is None:
        raise InvalidTransition(f"Job {job.id} is {job.status.value}; it has no result yet.")
    filename = f"{safe_stem(job.original_filename)}-predictions.{job.output_format}"
    return FileResponse(
        ctx.storage.output_path(job.output_name),
        media_type=MEDIA_TYPES[job.output_format],
        filename=filename,
    )


def retry(request: Request) -> Response:
    """Put a FAILED job back in the queue."""
    user, job_id = current_user(request), request.path_params["job_id"]
    job = in_transaction(
        context_of(request).engine, lambda c: retry_job(c, job_id, owner_id=owner_scope(user))
    )
    return JSONResponse(job_json(job, request))


def archive(request: Request) -> Response:
    """Hide a job from default listings (POST …/archive) or show it again (…/unarchive)."""
    user, job_id = current_user(request), request.path_params["job_id"]
    flag = request.url.path.endswith("/archive")
    job = in_transaction(
        context_of(request).engine,
        lambda c: set_archived(c, job_id, flag, owner_id=owner_scope(user)),
    )
    return JSONResponse(job_json(job, request))


def delete(request: Request) -> Response:
    """Delete a job, its uploaded file and its result."""
    user, job_id = current_user(request), request.path_params["job_id"]
    ctx = context_of(request)
    job = in_transaction(ctx.engine, lambda c: delete_job(c, job_id, owner_id=owner_scope(user)))
    ctx.storage.delete(ctx.storage.input_path(job.input_name))
    if job.output_name:
        ctx.storage.delete(ctx.storage.output_path(job.output_name))
    return Response(status_code=204)

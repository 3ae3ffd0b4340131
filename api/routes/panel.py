"""The panel's pages: the jobs page (upload + live table) and one job's detail page."""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import Response

from batchscore.api.auth import current_user, owner_scope
from batchscore.api.pages import render
from batchscore.api.state import context_of
from batchscore.config import OUTPUT_FORMATS
from batchscore.db.engine import in_transaction
from batchscore.db.jobs import JobStatus, get_job, list_attempts
from batchscore.errors import InputError
from batchscore.model.registry import list_models
from batchscore.scheduler.preview import Preview, preview_result

logger = logging.getLogger(__name__)


def home(request: Request) -> Response:
    """The panel: upload a file for a model; watch your jobs (live, see static/panel.js)."""
    user = current_user(request)
    settings = context_of(request).settings
    context = {
        "models": list_models(settings.model_dir),
        "default_model": settings.default_model,
        "formats": OUTPUT_FORMATS,
        "default_format": settings.output_format,
        "max_upload_bytes": settings.max_upload_bytes,
        "statuses": [s.value for s in JobStatus],
    }
    return render(request, "panel.html", context, user=user)


def job_page(request: Request) -> Response:
    """One job: what it is, how it ran, the first rows and the error rows of its result."""
    user, job_id = current_user(request), request.path_params["job_id"]
    ctx = context_of(request)
    job, attempts = in_transaction(
        ctx.engine,
        lambda c: (get_job(c, job_id, owner_id=owner_scope(user)), list_attempts(c, job_id)),
    )
    preview: Preview | None = None
    problem = None
    if job.status is JobStatus.PROCESSED and job.output_name:
        try:
            with ctx.storage.open_output(job.output_name) as file:
                preview = preview_result(file, job.output_format)
        except (OSError, InputError) as exc:
            logger.warning("job %s: cannot preview its result: %s", job.id, exc)
            problem = "The result file cannot be read; it may have been moved or deleted."
    context = {"job": job, "attempts": attempts, "preview": preview, "problem": problem}
    return render(request, "job.html", context, user=user)

"""The panel's pages: the jobs page (upload + live table), one job's page, the models page and
one model's page (its versions, try one record, and for admins train, import, activate)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from batchscore.api import figures
from batchscore.api.auth import current_user
from batchscore.api.pages import render
from batchscore.api.state import context_of
from batchscore.config import OUTPUT_FORMATS
from batchscore.db.jobs import JobStatus
from batchscore.model.metadata import ESTIMATOR_NAMES, HOLDOUT
from batchscore.model.registry import version_warning
from batchscore.scheduler.reading import ENCODING_CHOICES, describe_read_as
from batchscore.service import catalog, jobs, status


def home(request: Request) -> Response:
    """The panel: upload a file for a model; watch your jobs (live, see static/panel.js)."""
    user = current_user(request)
    settings = context_of(request).settings
    models = catalog.list_models(settings)
    context = {
        "models": [model.info for model in models],
        "warnings": {model.info.name: version_warning(model.info) for model in models},
        "default_model": settings.default_model,
        "formats": OUTPUT_FORMATS,
        "default_format": settings.output_format,
        "max_upload_bytes": settings.max_upload_bytes,
        "statuses": [s.value for s in JobStatus],
        "encodings": ENCODING_CHOICES,
        "queue": (queue := status.queue(context_of(request))),
        "throughput": figures.throughput(queue),
    }
    return render(request, "panel.html", context, user=user)


def processors_page(request: Request) -> Response:
    """The processors seen in the last hour: where each runs, what it does, when last seen."""
    user = current_user(request)
    ctx = context_of(request)
    queue = status.queue(ctx)
    context = {
        "queue": queue,
        "throughput": figures.throughput(queue),
        "processors": [figures.processor_line(w) for w in status.recent_processors(ctx)],
    }
    return render(request, "processors.html", context, user=user)


def job_page(request: Request) -> Response:
    """One job: what it is, how it ran, the first rows and the error rows of its result."""
    user, job_id = current_user(request), request.path_params["job_id"]
    view = jobs.job_view(context_of(request), user, job_id)
    summary = figures.summary_of(view.job.summary)
    evaluation = summary.evaluation if summary else None
    context = {
        "summary": summary,
        "evaluation": evaluation,
        "prediction_charts": figures.prediction_charts(summary) if summary else [],
        "scatter": figures.scatter_chart(summary) if summary else None,
        "drift": summary.drift if summary else None,
        "drift_charts": figures.drift_charts(summary) if summary else [],
        "confusion": figures.confusion_rows(evaluation.confusion)
        if evaluation and evaluation.confusion
        else None,
        "job": view.job,
        "attempts": view.attempts,
        "deliveries": view.deliveries,
        "preview": view.preview,
        "problem": view.problem,
        "read_as": describe_read_as(view.job.read_as) if view.job.read_as else None,
    }
    return render(request, "job.html", context, user=user)


def models_page(request: Request) -> Response:
    """Every model with its active version; admins also get the forms to add one."""
    user = current_user(request)
    models = catalog.list_models(context_of(request).settings)
    context = {
        "models": models,
        "warnings": {model.info.name: version_warning(model.info) for model in models},
        "metric_names": figures.METRIC_NAMES,
        "estimators": ESTIMATOR_NAMES,
        "holdout": HOLDOUT,
    }
    return render(request, "models.html", context, user=user)


def model_page(request: Request) -> Response:
    """One model: try a record, its features, every version and its metrics as charts."""
    user = current_user(request)
    detail = catalog.get_model(context_of(request).settings, request.path_params["name"])
    active = next(info for info in detail.versions if info.version == detail.active_version)
    context = {
        "model": detail,
        "active": active,
        "versions": list(reversed(detail.versions)),  # the newest first
        "warnings": {info.version: version_warning(info) for info in detail.versions},
        "charts": figures.metric_charts(detail.versions),
        "metric_names": figures.METRIC_NAMES,
        "estimators": ESTIMATOR_NAMES,
        "holdout": HOLDOUT,
    }
    return render(request, "model.html", context, user=user)

"""JSON shapes of records, one function each, so every route shows a job the same way."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request

from batchscore.db.jobs import JobKind, JobRecord, JobStatus
from batchscore.model.metadata import ModelInfo
from batchscore.service.catalog import ModelDetail, ModelSummary

JsonDict = dict[str, object]


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds") + "Z"


def job_json(job: JobRecord, request: Request) -> JsonDict:
    done = job.status is JobStatus.PROCESSED
    scores = job.kind is JobKind.SCORE
    duration = (
        (job.finished_at - job.started_at).total_seconds()
        if job.started_at and job.finished_at
        else None
    )
    return {
        "id": job.id,
        "kind": job.kind.value,
        "status": job.status.value,
        "filename": job.original_filename,
        "model": job.model_name,
        "model_version": job.model_version,
        "output_format": job.output_format if scores else None,
        "result_sheets": job.result_sheets,
        "metrics": job.metrics,
        "rows_total": job.rows_total,
        "rows_done": job.rows_done,
        "rows_failed": job.rows_failed,
        "progress": (job.rows_done / job.rows_total) if job.rows_total else (1.0 if done else 0.0),
        "error": job.error_message,
        "attempts": job.attempts,
        "archived": job.archived,
        "created_at": _time(job.created_at),
        "started_at": _time(job.started_at),
        "finished_at": _time(job.finished_at),
        "duration_seconds": duration,
        "url": str(request.url_for("get_job", job_id=job.id)),
        "result_url": (
            str(request.url_for("get_result", job_id=job.id)) if done and scores else None
        ),
    }


def model_json(model: ModelSummary) -> JsonDict:
    """A model as its active version describes it."""
    info = model.info
    return {"name": info.name, "version": info.version, "versions": model.versions, **_about(info)}


def model_detail_json(model: ModelDetail) -> JsonDict:
    """A model with every version's metadata, so a caller can compare them and choose."""
    versions = [
        {
            "version": info.version,
            "active": info.version == model.active_version,
            **_about(info),
            "training_rows": info.training_rows,
            "training_data_sha256": info.training_data_sha256,
        }
        for info in model.versions
    ]
    return {"name": model.name, "active_version": model.active_version, "versions": versions}


def _about(info: ModelInfo) -> JsonDict:
    return {
        "task": info.task,
        "features": list(info.features),
        "target": info.target,
        "classes": None if info.classes is None else list(info.classes),
        "metrics": info.metrics,
        "created_at": info.created_at,
    }

"""JSON shapes of records, one function each, so every route shows a job the same way."""

from __future__ import annotations

from datetime import datetime

from starlette.requests import Request

from db.jobs import JobRecord, JobStatus
from model.metadata import ModelInfo

JsonDict = dict[str, object]


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds") + "Z"


def job_json(job: JobRecord, request: Request) -> JsonDict:
    done = job.status is JobStatus.PROCESSED
    duration = (
        (job.finished_at - job.started_at).total_seconds()
        if job.started_at and job.finished_at
        else None
    )
    return {
        "id": job.id,
        "status": job.status.value,
        "filename": job.original_filename,
        "model": job.model_name,
        "model_version": job.model_version,
        "output_format": job.output_format,
        "result_sheets": job.result_sheets,
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
        "result_url": str(request.url_for("get_result", job_id=job.id)) if done else None,
    }


def model_json(info: ModelInfo, versions: list[int]) -> JsonDict:
    return {
        "name": info.name,
        "version": info.version,
        "versions": versions,
        "task": info.task,
        "features": list(info.features),
        "target": info.target,
        "classes": None if info.classes is None else list(info.classes),
        "metrics": info.metrics,
        "created_at": info.created_at,
    }

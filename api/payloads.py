"""The API's JSON shapes, each defined once as a msgspec Struct: the routes build and encode them,
and api/openapi.py generates the document's schemas from the same classes.

msgspec because it is the cheapest of the typed ways measured (bench/payloads.py): a predict
answer costs 0.07x, a Job 0.15x the CPU of a dict through json.dumps, where dataclasses cost
2-4x and pydantic 0.5-0.7x.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from batchscore.config import OUTPUT_FORMATS
from batchscore.db.jobs import JobKind, JobRecord, JobStatus
from batchscore.model.metadata import EVALUATIONS, KINDS, TASKS, ModelInfo
from batchscore.model.registry import version_warning
from batchscore.scheduler.reading import describe_read_as
from batchscore.service.catalog import ModelDetail as ModelVersions
from batchscore.service.catalog import ModelSummary

Id = Annotated[int, Meta(ge=1)]
Count = Annotated[int, Meta(ge=0)]
Time = Annotated[str, Meta(description="ISO 8601, UTC.", examples=["2026-12-02T07:01:02.123Z"])]
OutputFormat = Literal[OUTPUT_FORMATS]  # type: ignore[valid-type]
Task = Literal[TASKS]  # type: ignore[valid-type]
Kind = Literal[KINDS]  # type: ignore[valid-type]
Evaluation = Literal[EVALUATIONS]  # type: ignore[valid-type]
Label = Annotated[str | float, Meta(description="A class label, or a value for a regression.")]
Probabilities = Annotated[
    dict[str, Annotated[float, Meta(ge=0, le=1)]],
    Meta(description="Class → probability, for a classifier that gives them."),
]
Scores = Annotated[dict[str, float], Meta(description="Scores on rows it did not learn from.")]


class ReadAs(Struct, kw_only=True, omit_defaults=True):
    """How a score job's file is read, as detected or as its upload asked."""

    kind: Annotated[
        Literal["csv", "parquet", "sheet"],
        Meta(description="CSV text, a parquet file, or a sheet of a workbook."),
    ]
    compression: Literal["gzip", "zip"] | None = None
    encoding: Annotated[str | None, Meta(description="A CSV file's text encoding.")] = None
    delimiter: Annotated[str | None, Meta(description="A CSV file's field separator.")] = None
    decimal: Annotated[
        Literal[".", ","] | None, Meta(description="The decimal mark of numbers written as text.")
    ] = None
    sheet: Annotated[str | None, Meta(description="The workbook sheet read.")] = None
    text: Annotated[str, Meta(description="All of it in words.")] = ""


class Job(Struct, kw_only=True):
    """A file to score (or to train a model from), and how its processing goes."""

    id: Id
    kind: Annotated[
        JobKind, Meta(description="score: predict for a file; train: a new model version from it.")
    ]
    status: JobStatus
    filename: Annotated[str, Meta(description="The uploaded file's name.")]
    model: str
    model_version: Annotated[
        int | None,
        Meta(
            description="Null until processed (the active version is used); a train job's is "
            "the version it made."
        ),
    ]
    output_format: Annotated[
        OutputFormat | None,
        Meta(description="Null for a train job: its result is a model version."),
    ]
    result_sheets: Annotated[
        Annotated[int, Meta(ge=1)] | None,
        Meta(
            description="Sheets of the result once PROCESSED: an xlsx sheet holds 1,048,575 "
            "rows, so a longer result continues on sheets 'predictions 2', … (header repeated)."
        ),
    ]
    metrics: Annotated[
        dict[str, float] | None,
        Meta(description="A processed train job's scores of the new version on unseen rows."),
    ]
    read_as: Annotated[ReadAs | None, Meta(description="Null for a train job.")]
    rows_total: Count | None
    rows_done: Count
    rows_failed: Count
    progress: Annotated[float, Meta(ge=0, le=1)]
    error: Annotated[str | None, Meta(description="Why the job FAILED.")]
    attempts: Count
    archived: bool
    created_at: Time
    started_at: Time | None
    finished_at: Time | None
    duration_seconds: Annotated[float, Meta(ge=0)] | None
    url: Annotated[str, Meta(description="The job's own URL.")]
    result_url: Annotated[
        str | None, Meta(description="Where to download the result once the job is PROCESSED.")
    ]


class JobIds(Struct):
    """The jobs a bulk action changed, ascending."""

    job_ids: list[int]


class JobList(Struct):
    """One page of jobs, newest first, and how many match in all."""

    jobs: list[Job]
    total: Annotated[int, Meta(ge=0, description="Matches without paging.")]
    limit: Annotated[int, Meta(ge=1)]
    offset: Count
    processors: Annotated[
        int,
        Meta(
            ge=0,
            description="Job processors running (on any host): workers, the web server's own, "
            "cron seen in the last 2 minutes. 0: pending jobs wait until one starts.",
        ),
    ]


class ErrorDetail(Struct):
    code: Annotated[str, Meta(examples=["not_found", "invalid_input"])]
    message: Annotated[str, Meta(description="What went wrong and what to do.")]


class Error(Struct):
    """Every refusal and failure: a code for programs, a message for people."""

    error: ErrorDetail


class JobConflict(Struct):
    """A refusal to process a job that FAILED or was CANCELLED (retry it first), with the job
    as it is."""

    error: ErrorDetail
    job: Job


class ProcessAll(Struct):
    """The pending jobs taken on, processed in the background in id order."""

    job_ids: list[Id]
    count: Count


class _About(Struct, kw_only=True):
    """What a model version is: what it predicts from what, and how well."""

    task: Task
    features: Annotated[list[str], Meta(description="The columns an uploaded file must have.")]
    feature_kinds: Annotated[
        dict[str, Kind], Meta(description="What each feature's cells hold: number, text, boolean.")
    ]
    missing_allowed: Annotated[
        list[str], Meta(description="Features the model itself fills in when a cell is empty.")
    ]
    target: str
    classes: list[str] | None
    metrics: Scores
    evaluation: Annotated[Evaluation, Meta(description="What the metrics were measured on.")]
    evaluation_rows: Count
    created_at: str
    source: Annotated[str, Meta(description="'trained', or 'imported from <file name>'.")]
    note: str
    sklearn_version: Annotated[str, Meta(description="The scikit-learn that fitted it.")]
    warning: Annotated[
        str | None,
        Meta(
            description="Why its predictions may differ from where it was made, e.g. another "
            "scikit-learn version."
        ),
    ]


class Model(_About, kw_only=True):
    """A model as its active version describes it."""

    name: str
    version: Annotated[int, Meta(ge=1, description="The active version.")]
    versions: list[Annotated[int, Meta(ge=1)]]


class ModelList(Struct):
    models: list[Model]


class ModelVersion(_About, kw_only=True):
    """One version of a model, with what it learnt from and how well it did."""

    version: Annotated[int, Meta(ge=1)]
    active: Annotated[bool, Meta(description="Whether this version predicts.")]
    training_rows: Count
    training_data_sha256: str


class ModelDetail(Struct):
    """A model with every version, so a caller can compare them and choose."""

    name: str
    active_version: Annotated[int, Meta(ge=1)]
    versions: list[ModelVersion]


class Prediction(Struct):
    prediction: Label
    probabilities: Probabilities | None


class PredictResponse(Struct, kw_only=True, omit_defaults=True):
    """The prediction for one record, or `predictions` (one per record, in order) for a list."""

    model: str
    version: Annotated[int, Meta(ge=1)]
    prediction: Label | UnsetType = UNSET
    probabilities: Probabilities | UnsetType | None = UNSET
    predictions: list[Prediction] | UnsetType = UNSET


class MlflowPredictions(Struct):
    """An MLflow model server's answer: one prediction per record, in order, nothing else."""

    predictions: list[Label]


class JobCounts(Struct):
    """How many jobs are in each status."""

    PENDING: Count
    IN_PROGRESS: Count
    PROCESSED: Count
    FAILED: Count
    CANCELLED: Count


class Health(Struct):
    status: Literal["ok"]
    jobs: JobCounts


#: Every payload, for the OpenAPI document's components.
PAYLOADS: tuple[type[Struct], ...] = (Job, JobList, Error, JobConflict, ProcessAll, Health)
PAYLOADS += (Model, ModelList, ModelDetail, PredictResponse, MlflowPredictions, JobIds)

_encoder = msgspec.json.Encoder()


def json_response(
    payload: Struct,
    status_code: int = 200,
    *,
    headers: dict[str, str] | None = None,
    background: BackgroundTask | None = None,
) -> Response:
    return Response(
        _encoder.encode(payload),
        status_code=status_code,
        headers=headers,
        media_type="application/json",
        background=background,
    )


def _time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat(timespec="milliseconds") + "Z"


def job_payload(job: JobRecord, request: Request) -> Job:
    done = job.status is JobStatus.PROCESSED
    scores = job.kind is JobKind.SCORE
    duration = (
        (job.finished_at - job.started_at).total_seconds()
        if job.started_at and job.finished_at
        else None
    )
    return Job(
        id=job.id,
        kind=job.kind,
        status=job.status,
        filename=job.original_filename,
        model=job.model_name,
        model_version=job.model_version,
        output_format=job.output_format if scores else None,
        result_sheets=job.result_sheets,
        metrics=job.metrics,
        read_as=_read_as(job.read_as),
        rows_total=job.rows_total,
        rows_done=job.rows_done,
        rows_failed=job.rows_failed,
        progress=(job.rows_done / job.rows_total) if job.rows_total else (1.0 if done else 0.0),
        error=job.error_message,
        attempts=job.attempts,
        archived=job.archived,
        created_at=_time(job.created_at) or "",
        started_at=_time(job.started_at),
        finished_at=_time(job.finished_at),
        duration_seconds=duration,
        url=str(request.url_for("get_job", job_id=job.id)),
        result_url=str(request.url_for("get_result", job_id=job.id)) if done and scores else None,
    )


def _read_as(read_as: dict[str, str] | None) -> ReadAs | None:
    if not read_as:
        return None
    return msgspec.convert({**read_as, "text": describe_read_as(read_as)}, ReadAs)


def model_payload(model: ModelSummary) -> Model:
    info = model.info
    return Model(name=info.name, version=info.version, versions=model.versions, **_about(info))


def model_detail_payload(model: ModelVersions) -> ModelDetail:
    versions = [
        ModelVersion(
            version=info.version,
            active=info.version == model.active_version,
            training_rows=info.training_rows,
            training_data_sha256=info.training_data_sha256,
            **_about(info),
        )
        for info in model.versions
    ]
    return ModelDetail(model.name, model.active_version, versions)


def error_payload(code: str, message: str) -> Error:
    return Error(ErrorDetail(code, message))


def _about(info: ModelInfo) -> dict[str, Any]:
    return {
        "task": info.task,
        "features": list(info.features),
        "target": info.target,
        "feature_kinds": dict(zip(info.features, info.kinds, strict=True)),
        "missing_allowed": [f for f in info.features if f in info.missing_allowed],
        "classes": None if info.classes is None else list(info.classes),
        "metrics": info.metrics,
        "evaluation": info.evaluation,
        "evaluation_rows": info.evaluation_rows,
        "created_at": info.created_at,
        "source": info.source,
        "note": info.note,
        "sklearn_version": info.sklearn_version,
        "warning": version_warning(info),
    }

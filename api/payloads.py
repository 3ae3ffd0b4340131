"""The API's JSON shapes, each defined once as a msgspec Struct: the routes build and encode them,
and api/openapi.py generates the document's schemas from the same classes.

msgspec because it is the cheapest of the typed ways measured (bench/payloads.py): a predict
answer costs 0.07x, a Job 0.15x the CPU of a dict through json.dumps, where dataclasses cost
2-4x and pydantic 0.5-0.7x.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from msgspec import UNSET, Meta, Struct, UnsetType
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response

from batchscore.db.jobs import JobRecord
from batchscore.db.webhooks import DeliveryRecord, DeliveryStatus
from batchscore.model.metadata import EVALUATIONS, KINDS, TASKS, ModelInfo
from batchscore.model.registry import version_warning
from batchscore.scheduler.job_json import Count, Id, Job, JobEvent, Time, job_json, time_text
from batchscore.service.catalog import ModelDetail as ModelVersions
from batchscore.service.catalog import ModelSummary

Task = Literal[TASKS]  # type: ignore[valid-type]
Kind = Literal[KINDS]  # type: ignore[valid-type]
Evaluation = Literal[EVALUATIONS]  # type: ignore[valid-type]
Label = Annotated[str | float, Meta(description="A class label, or a value for a regression.")]
Probabilities = Annotated[
    dict[str, Annotated[float, Meta(ge=0, le=1)]],
    Meta(description="Class → probability, for a classifier that gives them."),
]
Scores = Annotated[dict[str, float], Meta(description="Scores on rows it did not learn from.")]


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
    created_by: Annotated[
        str, Meta(description="Who trained or imported it; empty for the operator's CLI.")
    ]
    estimator: Annotated[
        str, Meta(description="What predicts: the final step's class, e.g. LogisticRegression.")
    ]
    incremental: Annotated[
        bool, Meta(description="Whether it can learn new rows (POST /api/models/{name}/data).")
    ]
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


class Delivery(Struct, kw_only=True):
    """One webhook of a job's end, and what became of it."""

    id: Id
    event: Literal["job.processed", "job.failed", "job.cancelled"]
    url: str
    status: Annotated[
        DeliveryStatus,
        Meta(
            description="PENDING: to send (or sending, or waiting to retry); DELIVERED: the "
            "receiver answered 2xx; FAILED: every attempt failed, or the URL may not be called."
        ),
    ]
    attempts: Count
    next_attempt_at: Annotated[Time | None, Meta(description="When PENDING: the next try.")]
    last_status_code: Annotated[int | None, Meta(description="The receiver's last answer.")]
    last_error: Annotated[str | None, Meta(description="Why the last attempt failed.")]
    created_at: Time
    delivered_at: Time | None


class DeliveryList(Struct):
    """A job's webhook deliveries, oldest first (one per time the job ended)."""

    deliveries: list[Delivery]


class Webhook(Struct, kw_only=True):
    """The caller's webhook settings: the default callback URL, and the signing secret."""

    callback_url: Annotated[
        str | None, Meta(description="For the caller's jobs that name none; null: none.")
    ]
    secret: Annotated[
        str,
        Meta(
            description="Each delivery's Batchscore-Signature header is t=<unix time>,"
            "v1=<hex HMAC-SHA256 with this secret of '<t>.' + the raw body>."
        ),
    ]


class WebhookChange(Struct, forbid_unknown_fields=True):
    """A new default callback URL, or null to have none."""

    callback_url: Annotated[str, Meta(max_length=2048)] | None


#: Every payload, for the OpenAPI document's components.
PAYLOADS: tuple[type[Struct], ...] = (Job, JobList, Error, JobConflict, ProcessAll, Health)
PAYLOADS += (Model, ModelList, ModelDetail, PredictResponse, MlflowPredictions, JobIds)
PAYLOADS += (Delivery, DeliveryList, Webhook, WebhookChange, JobEvent)

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


def job_payload(job: JobRecord, request: Request) -> Job:
    """The job as the API shows it, its URLs under this server's address."""
    return job_json(job, str(request.base_url))


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
        "created_by": info.created_by,
        "estimator": info.estimator,
        "incremental": info.incremental,
        "sklearn_version": info.sklearn_version,
        "warning": version_warning(info),
    }


def delivery_payload(delivery: DeliveryRecord) -> Delivery:
    return Delivery(
        id=delivery.id,
        event=delivery.event,  # type: ignore[arg-type]  # one of the three, as db/jobs makes them
        url=delivery.url,
        status=delivery.status,
        attempts=delivery.attempts,
        next_attempt_at=time_text(delivery.next_attempt_at),
        last_status_code=delivery.last_status_code,
        last_error=delivery.last_error,
        created_at=time_text(delivery.created_at) or "",
        delivered_at=time_text(delivery.delivered_at),
    )

"""Changing models over HTTP: import a model trained elsewhere, train a version from a
labelled CSV (as a job), feed an incremental model new rows, choose the active version.
Admins only: a model change alters what every user's jobs predict."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from batchscore.api.auth import current_user
from batchscore.api.idempotency import idempotency, key_of, queued_response
from batchscore.api.openapi import ADMIN_REPLIES, IDEMPOTENCY_KEY, MODEL_NAME, Reply, operation
from batchscore.api.params import bool_value, float_value
from batchscore.api.payloads import ModelDetail, json_response, model_detail_payload
from batchscore.api.state import context_of
from batchscore.api.upload import Upload, receive_upload
from batchscore.db.users import UserRecord
from batchscore.errors import InputError
from batchscore.model.importing import ImportPlan
from batchscore.model.metadata import HOLDOUT, checked_name
from batchscore.model.train import DEFAULT_ESTIMATOR, TrainPlan
from batchscore.service import catalog
from batchscore.service.intake import queue_once, queue_training

_PLAN_FIELDS = (
    "target",
    "features",
    "task",
    "estimator",
    "activate",
    "incremental",
    "holdout",
    "refit",
    "callback_url",
)


T = TypeVar("T")
_QUEUED = {
    200: "JobReplayed",
    201: "TrainJobQueued",
    400: "MalformedForm",
    **ADMIN_REPLIES,
    404: "UnknownModel",
    409: "KeyInUse",
    413: "UploadTooLarge",
    422: "InvalidInput",
    503: "ModelUnavailable",
}


@operation(
    "trainModel",
    "models",
    _QUEUED,
    parameters=[MODEL_NAME, IDEMPOTENCY_KEY],
    body="TrainingFile",
)
async def train(request: Request) -> Response:
    """Train a new version of a model (a new model too) from a labelled CSV, as a job.

    A quarter of the rows (holdout) is held out to measure the new version (accuracy and F1,
    or R² and MAE); holdout=0 fits on every row, refit=true measures and then fits on all.
    With incremental=true the active version learns the rows instead, as
    POST /api/models/{name}/data does. The job runs like any other (cron, a worker or
    POST /process_file); the new version predicts once activated.
    """
    return await _queue(request, incremental=None)


@operation(
    "addModelData",
    "models",
    _QUEUED,
    parameters=[MODEL_NAME, IDEMPOTENCY_KEY],
    body="TrainingFile",
)
async def add_data(request: Request) -> Response:
    """Let the active version learn new labelled rows (partial_fit) as a new version, as a job.

    For models trained with estimator=sgd. The metrics are the active version's on the new
    rows, measured before it learns them. Columns: the model's features and target.
    """
    return await _queue(request, incremental=True)


async def _queue(request: Request, *, incremental: bool | None) -> Response:
    key = key_of(request)
    user, name, upload, plan = await _admin_upload(
        request, _PLAN_FIELDS, lambda fields: _plan(fields, incremental)
    )
    plan = replace(plan, created_by=user.username)
    ctx, once = context_of(request), idempotency(request, key, user.id, upload)
    job, replayed = await run_in_threadpool(
        queue_once,
        ctx,
        upload.stored,
        once,
        lambda: queue_training(
            ctx,
            upload.stored,
            upload.filename,
            model_name=name,
            plan=plan,
            owner_id=user.id,
            idempotency=once,
            callback_url=upload.fields.get("callback_url"),
        ),
    )
    return queued_response(request, job, replayed)


async def _admin_upload(
    request: Request, fields: tuple[str, ...], parse: Callable[[dict[str, str]], T]
) -> tuple[UserRecord, str, Upload, T]:
    """An admin's file for the model named in the path, in the input folder, and the form's
    fields parsed; nothing is kept when the caller or a field is refused."""
    user = await run_in_threadpool(current_user, request)
    catalog.require_admin(user)
    name = checked_name(request.path_params["name"], InputError)
    ctx = context_of(request)
    upload, parsed = await receive_upload(
        request, ctx.storage, ctx.settings.max_upload_bytes, fields, parse
    )
    return user, name, upload, parsed


_IMPORT_FIELDS = ("features", "target", "task", "classes", "note", "activate")


@operation(
    "importModelVersion",
    "models",
    {
        201: Reply(
            "Imported: the model, with the new version.",
            ModelDetail,
            headers={"Location": {"description": "The model's URL.", "schema": {"type": "string"}}},
        ),
        400: "MalformedForm",
        **ADMIN_REPLIES,
        413: "UploadTooLarge",
        422: "InvalidInput",
        503: "ModelUnavailable",
    },
    parameters=[MODEL_NAME],
    body="ModelFile",
)
async def import_version(request: Request) -> Response:
    """Add a model trained elsewhere as the next version of a model (a new model too).

    Send a skops file, or an MLflow model folder zipped. Its features, their order and kinds
    (number, text, boolean) come from the model; a pickle or joblib file is refused, since
    loading it runs whatever code it holds. A refused file changes nothing.
    """
    user, name, upload, plan = await _admin_upload(request, _IMPORT_FIELDS, _import_plan)
    plan = replace(plan, created_by=user.username)
    ctx = context_of(request)
    await run_in_threadpool(
        catalog.import_upload, ctx, user, name, upload.stored, upload.filename, plan
    )
    detail = await run_in_threadpool(catalog.get_model, ctx.settings, name)
    url = str(request.url_for("show_model", name=name))
    return json_response(model_detail_payload(detail), 201, headers={"Location": url})


@operation(
    "activateModelVersion",
    "models",
    {
        200: Reply("The model, with the new active version.", ModelDetail),
        **ADMIN_REPLIES,
        404: "UnknownModel",
        422: "InvalidInput",
        503: "ModelUnavailable",
    },
    parameters=[
        MODEL_NAME,
        {
            "name": "version",
            "in": "path",
            "required": True,
            "schema": {"type": "integer", "minimum": 1},
        },
    ],
)
def activate_version(request: Request) -> Response:
    """Make one version of a model the one that predicts (jobs and POST …/predict).

    Jobs already running keep the version they started with.
    """
    user, name = current_user(request), request.path_params["name"]
    settings = context_of(request).settings
    detail = catalog.activate(settings, user, name, request.path_params["version"])
    return json_response(model_detail_payload(detail))


def _import_plan(fields: dict[str, str]) -> ImportPlan:
    return ImportPlan(
        features=catalog.parse_features(fields.get("features")),
        target=fields.get("target") or None,
        task=fields.get("task") or None,
        classes=catalog.parse_features(fields.get("classes")),
        note=fields.get("note", ""),
        activate=bool_value(fields.get("activate"), "The form field 'activate'", default=False),
    )


def _plan(fields: dict[str, str], incremental: bool | None) -> TrainPlan:
    return TrainPlan(
        target=fields.get("target") or None,
        features=catalog.parse_features(fields.get("features")),
        task=fields.get("task") or None,
        estimator=fields.get("estimator") or DEFAULT_ESTIMATOR,
        activate=bool_value(fields.get("activate"), "The form field 'activate'", default=False),
        incremental=incremental
        if incremental is not None
        else bool_value(fields.get("incremental"), "The form field 'incremental'", default=False),
        holdout=float_value(fields.get("holdout"), "The form field 'holdout'", default=HOLDOUT),
        refit=bool_value(fields.get("refit"), "The form field 'refit'", default=False),
    )

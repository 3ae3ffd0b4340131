"""Changing models over HTTP: train a version from a labelled CSV (as a job), feed an
incremental model new rows, choose the active version. Admins only: a model change alters
what every user's jobs predict."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from batchscore.api.auth import current_user
from batchscore.api.params import bool_value
from batchscore.api.payloads import job_json, model_detail_json
from batchscore.api.state import context_of
from batchscore.api.upload import Upload, receive_upload
from batchscore.errors import BatchscoreError, InputError
from batchscore.model.metadata import checked_name
from batchscore.model.train import DEFAULT_ESTIMATOR, TrainPlan
from batchscore.service import catalog
from batchscore.service.intake import queue_training

_PLAN_FIELDS = ("target", "features", "task", "estimator", "activate", "incremental")


async def train(request: Request) -> Response:
    """Train a new version of a model (a new model too) from a labelled CSV, as a job.
    ---
    description: >
      A quarter of the rows is held out to measure the new version (accuracy and F1, or R²
      and MAE). With incremental=true the active version learns the rows instead, as
      POST /api/models/{name}/data does. The job runs like any other (cron, a worker or
      POST /process_file); the new version predicts once activated.
    parameters:
      - {name: name, in: path, required: true, schema: {type: string}}
    requestBody: {$ref: "#/components/requestBodies/TrainingFile"}
    responses:
      "201": {$ref: "#/components/responses/TrainJobQueued"}
      "400": {$ref: "#/components/responses/MalformedForm"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/AdminOnly"}
      "404": {$ref: "#/components/responses/UnknownModel"}
      "413": {$ref: "#/components/responses/UploadTooLarge"}
      "422": {$ref: "#/components/responses/InvalidInput"}
      "503": {$ref: "#/components/responses/ModelUnavailable"}
    """
    return await _queue(request, incremental=None)


async def add_data(request: Request) -> Response:
    """Let the active version learn new labelled rows (partial_fit) as a new version, as a job.
    ---
    description: >
      For models trained with estimator=sgd. The metrics are the active version's on the new
      rows, measured before it learns them. Columns: the model's features and target.
    parameters:
      - {name: name, in: path, required: true, schema: {type: string}}
    requestBody: {$ref: "#/components/requestBodies/TrainingFile"}
    responses:
      "201": {$ref: "#/components/responses/TrainJobQueued"}
      "400": {$ref: "#/components/responses/MalformedForm"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/AdminOnly"}
      "404": {$ref: "#/components/responses/UnknownModel"}
      "413": {$ref: "#/components/responses/UploadTooLarge"}
      "422": {$ref: "#/components/responses/InvalidInput"}
      "503": {$ref: "#/components/responses/ModelUnavailable"}
    """
    return await _queue(request, incremental=True)


async def _queue(request: Request, *, incremental: bool | None) -> Response:
    user = await run_in_threadpool(current_user, request)
    catalog.require_admin(user)
    name = checked_name(request.path_params["name"], InputError)
    ctx = context_of(request)
    upload = await receive_upload(
        request, ctx.storage, ctx.settings.max_upload_bytes, fields=_PLAN_FIELDS
    )
    try:
        plan = _plan(upload, incremental)
    except BatchscoreError:
        ctx.storage.delete_input(upload.stored.name)
        raise
    job = await run_in_threadpool(
        queue_training,
        ctx,
        upload.stored,
        upload.filename,
        model_name=name,
        plan=plan,
        owner_id=user.id,
    )
    body = job_json(job, request)
    return JSONResponse(body, status_code=201, headers={"Location": str(body["url"])})


def activate_version(request: Request) -> Response:
    """Make one version of a model the one that predicts (jobs and POST …/predict).
    ---
    description: Jobs already running keep the version they started with.
    parameters:
      - {name: name, in: path, required: true, schema: {type: string}}
      - {name: version, in: path, required: true, schema: {type: integer, minimum: 1}}
    responses:
      "200":
        description: The model, with the new active version.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/ModelDetail"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/AdminOnly"}
      "404": {$ref: "#/components/responses/UnknownModel"}
      "422": {$ref: "#/components/responses/InvalidInput"}
      "503": {$ref: "#/components/responses/ModelUnavailable"}
    """
    user, name = current_user(request), request.path_params["name"]
    settings = context_of(request).settings
    detail = catalog.activate(settings, user, name, request.path_params["version"])
    return JSONResponse(model_detail_json(detail))


def _plan(upload: Upload, incremental: bool | None) -> TrainPlan:
    fields = upload.fields
    return TrainPlan(
        target=fields.get("target") or None,
        features=catalog.parse_features(fields.get("features")),
        task=fields.get("task") or None,
        estimator=fields.get("estimator") or DEFAULT_ESTIMATOR,
        activate=bool_value(fields.get("activate"), "The form field 'activate'", default=False),
        incremental=incremental
        if incremental is not None
        else bool_value(fields.get("incremental"), "The form field 'incremental'", default=False),
    )

"""GET /api/models: the models jobs can use; GET /api/models/{name}: its versions;
POST /api/models/{name}/predict: score JSON now."""

from __future__ import annotations

import json
import time

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from batchscore.api.auth import current_user
from batchscore.api.metrics import PREDICT_LATENCY
from batchscore.api.payloads import model_detail_json, model_json
from batchscore.api.state import context_of, predict_threads
from batchscore.errors import InputError, TooLarge
from batchscore.model.metadata import checked_name
from batchscore.model.predict import predict_records
from batchscore.model.registry import list_models, list_versions, load_model

MAX_PREDICT_RECORDS = 10_000  # more is a batch job's work: POST /api/jobs
_MAX_BODY_BYTES = 8 * 1024 * 1024


def list_models_route(request: Request) -> Response:
    """Every model (its active version), with features, classes and versions.
    ---
    responses:
      "200":
        description: The models, sorted by name.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/ModelList"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
    """
    current_user(request)
    model_dir = context_of(request).settings.model_dir
    models = [
        model_json(info, list_versions(model_dir, info.name)) for info in list_models(model_dir)
    ]
    return JSONResponse({"models": models})


def show_model(request: Request) -> Response:
    """One model with every version: metrics, training data, and which one is active.
    ---
    parameters:
      - {name: name, in: path, required: true, schema: {type: string}}
    responses:
      "200":
        description: The model's versions, ascending.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/ModelDetail"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/UnknownModel"}
      "422": {$ref: "#/components/responses/InvalidInput"}
      "503": {$ref: "#/components/responses/ModelUnavailable"}
    """
    current_user(request)
    name = checked_name(request.path_params["name"], InputError)
    return JSONResponse(model_detail_json(context_of(request).settings.model_dir, name))


async def predict(request: Request) -> Response:
    """Predict at once for one record (a JSON object of features) or a list of them.
    ---
    description: >
      Answers with the prediction, and class probabilities for a classifier, from the model's
      active version. Every feature must be a finite JSON number; other keys are ignored. Up
      to 10,000 records per call; for more, upload a CSV as a job.
    parameters:
      - {name: name, in: path, required: true, schema: {type: string}}
    requestBody:
      required: true
      content:
        application/json:
          schema: {$ref: "#/components/schemas/PredictRequest"}
    responses:
      "200":
        description: One prediction per record, in order.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/PredictResponse"}
      "401": {$ref: "#/components/responses/Unauthorized"}
      "403": {$ref: "#/components/responses/Forbidden"}
      "404": {$ref: "#/components/responses/UnknownModel"}
      "413":
        description: The body is larger than 8 MiB.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Error"}
      "422": {$ref: "#/components/responses/InvalidInput"}
      "503": {$ref: "#/components/responses/ModelUnavailable"}
    """
    started = time.perf_counter()
    body = await _json_body(request)
    # One hop for auth, model and scoring, on a few threads: scoring holds the GIL, and forty
    # threads contending for it (and for the database pool) serve fewer requests, not more.
    limiter = predict_threads(request)
    return await anyio.to_thread.run_sync(_predict, request, body, started, limiter=limiter)


def _predict(request: Request, body: bytes, started: float) -> Response:
    current_user(request)
    name = checked_name(request.path_params["name"], InputError)
    try:
        payload = json.loads(body)
    except ValueError as exc:  # also UnicodeDecodeError
        raise InputError(f"The body is not valid JSON: {exc}.") from exc
    single = isinstance(payload, dict)
    records = [payload] if single else payload
    if not isinstance(records, list) or not records:
        raise InputError("Send a JSON object of feature values, or a non-empty list of them.")
    if len(records) > MAX_PREDICT_RECORDS:
        raise InputError(
            f"{len(records):,} records is more than the {MAX_PREDICT_RECORDS:,} one call takes; "
            "upload them as a CSV job (POST /api/jobs) instead."
        )
    model = load_model(context_of(request).settings.model_dir, name)
    scored = [
        {"prediction": p.prediction, "probabilities": p.probabilities}
        for p in predict_records(model, records)
    ]
    head = {"model": model.info.name, "version": model.info.version}
    response = JSONResponse({**head, **scored[0]} if single else {**head, "predictions": scored})
    PREDICT_LATENCY.labels(model.info.name).observe(time.perf_counter() - started)
    return response


async def _json_body(request: Request) -> bytes:
    body = bytearray()
    async for block in request.stream():
        body += block
        if len(body) > _MAX_BODY_BYTES:
            raise TooLarge(f"The body is larger than the limit of {_MAX_BODY_BYTES:,} bytes.")
    return bytes(body)

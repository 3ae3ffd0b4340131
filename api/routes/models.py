"""GET /api/models: the models jobs can use; GET /api/models/{name}: its versions;
POST /api/models/{name}/predict: score JSON now; POST /invocations: the same, as MLflow's
model server answers."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import anyio.to_thread
from starlette.requests import Request
from starlette.responses import Response

from batchscore.api.auth import current_user
from batchscore.api.envelopes import records_of
from batchscore.api.metrics import PREDICT_LATENCY, PREDICTIONS
from batchscore.api.openapi import MODEL_NAME, TOKEN_REPLIES, Reply, operation, refusal
from batchscore.api.params import read_body
from batchscore.api.payloads import (
    MlflowPredictions,
    ModelDetail,
    ModelList,
    Prediction,
    PredictResponse,
    json_response,
    model_detail_payload,
    model_payload,
)
from batchscore.api.state import context_of, predict_threads
from batchscore.errors import InputError
from batchscore.model.metadata import ModelInfo
from batchscore.model.predict import Prediction as Scored
from batchscore.service import catalog

_MAX_BODY_BYTES = 8 * 1024 * 1024
TOO_DEEP = "The body is JSON nested too deeply: no record is shaped like that."


@operation(
    "listModels",
    "models",
    {200: Reply("The models, sorted by name.", ModelList), **TOKEN_REPLIES},
)
def list_models_route(request: Request) -> Response:
    """Every model (its active version), with features, classes and versions."""
    current_user(request)
    models = catalog.list_models(context_of(request).settings)
    return json_response(ModelList([model_payload(model) for model in models]))


@operation(
    "getModel",
    "models",
    {
        200: Reply("The model's versions, ascending.", ModelDetail),
        **TOKEN_REPLIES,
        404: "UnknownModel",
        422: "InvalidInput",
        503: "ModelUnavailable",
    },
    parameters=[MODEL_NAME],
)
def show_model(request: Request) -> Response:
    """One model with every version: metrics, training data, and which one is active."""
    current_user(request)
    detail = catalog.get_model(context_of(request).settings, request.path_params["name"])
    return json_response(model_detail_payload(detail))


@operation(
    "predict",
    "models",
    {
        200: Reply("One prediction per record, in order.", PredictResponse),
        **TOKEN_REPLIES,
        404: "UnknownModel",
        413: refusal("The body is larger than 8 MiB."),
        422: "InvalidInput",
        503: "ModelUnavailable",
    },
    parameters=[MODEL_NAME],
    body="Records",
)
async def predict(request: Request) -> Response:
    """Predict at once for one record (a JSON object of features) or a list of them.

    MLflow's bodies are read too (`dataframe_split`, `dataframe_records`, `instances`,
    `inputs`, and a `text/csv` body read as an uploaded CSV file is), so a client written for
    an MLflow model server needs no change but the URL; each is answered as a list.

    Answers with the prediction, and class probabilities for a classifier, from the model's
    active version. Every feature must be a finite JSON number; other keys are ignored. Up to
    10,000 records per call; for more, upload a CSV as a job.
    """
    return await _scored(request, request.path_params["name"], _batchscore_answer)


@operation(
    "invocations",
    "models",
    {
        200: Reply("One prediction per record, in order, as MLflow answers.", MlflowPredictions),
        **TOKEN_REPLIES,
        404: "UnknownModel",
        413: refusal("The body is larger than 8 MiB."),
        422: "InvalidInput",
        503: "ModelUnavailable",
    },
    body="Records",
)
async def invocations(request: Request) -> Response:
    """MLflow's scoring route, for clients written for an MLflow model server: the default
    model (DEFAULT_MODEL) predicts for the same bodies as /api/models/{name}/predict, and the
    answer is MLflow's `{"predictions": [...]}`."""
    name = context_of(request).settings.default_model
    return await _scored(request, name, _mlflow_answer)


def _batchscore_answer(info: ModelInfo, scored: list[Scored], single: bool) -> Response:
    if single:
        (one,) = scored
        return json_response(
            PredictResponse(
                model=info.name,
                version=info.version,
                prediction=one.prediction,
                probabilities=one.probabilities,
            )
        )
    predictions = [Prediction(p.prediction, p.probabilities) for p in scored]
    return json_response(
        PredictResponse(model=info.name, version=info.version, predictions=predictions)
    )


def _mlflow_answer(info: ModelInfo, scored: list[Scored], single: bool) -> Response:
    return json_response(MlflowPredictions([p.prediction for p in scored]))


async def _scored(
    request: Request,
    name: str,
    answer: Callable[[ModelInfo, list[Scored], bool], Response],
) -> Response:
    started = time.perf_counter()
    body = await read_body(request, _MAX_BODY_BYTES)
    # One hop for auth, model and scoring, on a few threads: scoring holds the GIL, and forty
    # threads contending for it (and for the database pool) serve fewer requests, not more.
    limiter = predict_threads(request)
    return await anyio.to_thread.run_sync(
        _predict, request, name, body, started, answer, limiter=limiter
    )


def _predict(
    request: Request,
    name: str,
    body: bytes,
    started: float,
    answer: Callable[[ModelInfo, list[Scored], bool], Response],
) -> Response:
    current_user(request)
    settings = context_of(request).settings
    media_type, charset = _media_type(request)
    if media_type == "text/csv":
        with tempfile.NamedTemporaryFile(prefix="batchscore-predict-", suffix=".csv") as file:
            file.write(body)
            file.flush()
            info, scored = catalog.predict_csv(settings, name, Path(file.name), charset)
        single = False
    else:
        try:
            payload = json.loads(body)
        except ValueError as exc:  # also UnicodeDecodeError
            raise InputError(f"The body is not valid JSON: {exc}.") from exc
        except RecursionError as exc:  # [[[[… thousands deep: no record is shaped so
            raise InputError(TOO_DEEP) from exc
        records, single = records_of(payload)
        info, scored = catalog.predict(settings, name, records)
    response = answer(info, scored, single)
    PREDICT_LATENCY.labels(info.name).observe(time.perf_counter() - started)
    PREDICTIONS.labels(info.name).inc(len(scored))
    return response


def _media_type(request: Request) -> tuple[str, str | None]:
    """The body's media type, and its charset if the client named one."""
    media_type, _, parameters = request.headers.get("content-type", "").partition(";")
    charset = None
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        if key.strip().lower() == "charset":
            charset = value.strip().strip('"') or None
    return media_type.strip().lower(), charset

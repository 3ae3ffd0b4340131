"""The OpenAPI 3.1 document, generated: the schemas from the payload Structs (api/payloads.py),
each operation from the `@operation(…)` its handler is declared with, the paths from the route
table. A handler's docstring gives the summary (first line) and the description (the rest)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import msgspec
from starlette.routing import BaseRoute, Route

from batchscore.api.payloads import PAYLOADS, Error
from batchscore.config import OUTPUT_FORMATS, PROBABILITIES
from batchscore.model.metadata import ESTIMATOR_NAMES, HOLDOUT, MAX_HOLDOUT, TASKS
from batchscore.scheduler.job_json import Job

F = TypeVar("F", bound=Callable[..., Any])
_METHOD_ORDER = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_SCHEMAS = "#/components/schemas/{name}"


@dataclass(frozen=True)
class Reply:
    """One status of an operation: a payload Struct as JSON, or other content, or nothing."""

    description: str
    payload: type[msgspec.Struct] | None = None
    content: Mapping[str, Any] | None = None  #: media type → {schema: …}, for non-JSON answers
    headers: Mapping[str, Any] = field(default_factory=dict)

    def document(self) -> dict[str, Any]:
        reply: dict[str, Any] = {"description": self.description}
        if self.headers:
            reply["headers"] = dict(self.headers)
        if self.payload is not None:
            schema = {"$ref": _SCHEMAS.format(name=self.payload.__name__)}
            reply["content"] = {"application/json": {"schema": schema}}
        elif self.content is not None:
            reply["content"] = dict(self.content)
        return reply


def refusal(description: str) -> Reply:
    """An error answer: the Error payload, with what this status means here."""
    return Reply(description, Error)


_LOCATION = {"Location": {"description": "The job's URL.", "schema": {"type": "string"}}}
#: Replies many operations share, as components/responses; an operation names them.
SHARED_REPLIES: dict[str, Reply] = {
    "Unauthorized": Reply(
        "No bearer token, or an unknown one.",
        Error,
        headers={"WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}},
    ),
    "Forbidden": refusal("The token has been revoked."),
    "AdminOnly": refusal("The token has been revoked, or its user is not an admin."),
    "NotFound": refusal("No such job, or not yours."),
    "UnknownModel": refusal("No model of that name."),
    "InvalidInput": refusal(
        "A parameter or the upload is invalid; the message says which and why."
    ),
    "MalformedForm": refusal("The body is not a well-formed multipart form."),
    "UploadTooLarge": refusal("The file is larger than the upload limit."),
    "ModelUnavailable": refusal(
        "The model's files are missing or unusable; the operator must fix them."
    ),
    "DatabaseUnavailable": refusal(
        "The database cannot be reached; try again after Retry-After seconds."
    ),
    "JobQueued": Reply("Queued as a PENDING job.", Job, headers=_LOCATION),
    "JobReplayed": Reply(
        "The job an earlier request with this Idempotency-Key made (within 24 hours); "
        "nothing new is queued.",
        Job,
        headers=_LOCATION
        | {"Idempotent-Replayed": {"schema": {"type": "string", "const": "true"}}},
    ),
    "KeyInUse": refusal(
        "A request with this Idempotency-Key is being handled right now; try again."
    ),
    "TrainJobQueued": Reply(
        "Queued as a PENDING train job; its metrics appear once it is PROCESSED.",
        Job,
        headers=_LOCATION,
    ),
}
TOKEN_REPLIES: dict[int, Reply | str] = {401: "Unauthorized", 403: "Forbidden"}
ADMIN_REPLIES: dict[int, Reply | str] = {401: "Unauthorized", 403: "AdminOnly"}

TAGS = [
    {"name": "jobs", "description": "Upload files, follow their jobs, download the results."},
    {"name": "processing", "description": "Run pending jobs now, as cron would."},
    {"name": "models", "description": "The models jobs use: versions, predictions, training."},
    {
        "name": "webhooks",
        "description": "Be told when a job ends: a signed POST of its JSON to a callback URL.",
    },
    {"name": "system", "description": "Health, metrics and this document; no token needed."},
]

_JOB_ID = {
    "name": "job_id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
}
_MODEL_NAME = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[ -~]+$"},
    "description": "Any unique string (a UUID): sending the same upload again with the same "
    "key within 24 hours answers 200 with the first job instead of queuing another; the key "
    "with a different upload is refused (422).",
}
PARAMETERS: dict[str, Any] = {
    "JobId": _JOB_ID,
    "ModelName": _MODEL_NAME,
    "IdempotencyKey": _IDEMPOTENCY_KEY,
}
JOB_ID: dict[str, Any] = {"$ref": "#/components/parameters/JobId"}
MODEL_NAME: dict[str, Any] = {"$ref": "#/components/parameters/ModelName"}
IDEMPOTENCY_KEY: dict[str, Any] = {"$ref": "#/components/parameters/IdempotencyKey"}


def query(name: str, schema: dict[str, Any], description: str = "", **more: Any) -> dict[str, Any]:
    parameter = {"name": name, "in": "query", "schema": schema, **more}
    return parameter | ({"description": description} if description else {})


def _form(required: list[str], fields: dict[str, Any]) -> dict[str, Any]:
    schema = {"type": "object", "required": required, "properties": fields}
    return {"required": True, "content": {"multipart/form-data": {"schema": schema}}}


_TRUE_FALSE = {"type": "string", "enum": ["true", "false"]}
_CALLBACK_URL = {
    "type": "string",
    "maxLength": 2048,
    "description": "An http(s) URL to POST the job's JSON to when it ends (signed: see "
    "GET /api/webhook); default the caller's default callback URL, if set.",
}
REQUEST_BODIES: dict[str, Any] = {
    "JobFile": _form(
        ["file"],
        {
            "file": {
                "type": "string",
                "format": "binary",
                "description": "The data file: CSV (plain, .gz or a .zip of one), parquet, or "
                "a workbook (.xlsx, .xlsm, .xls, .ods), with a header row naming the model's "
                "features.",
            },
            "model": {
                "type": "string",
                "pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$",
                "description": "Model name (default the configured one); see GET /api/models.",
            },
            "format": {
                "type": "string",
                "enum": list(OUTPUT_FORMATS),
                "description": "Result format (default the configured one).",
            },
            "probabilities": {
                "type": "string",
                "enum": list(PROBABILITIES),
                "description": "A classifier's probabilities in the result: that of the "
                "predicted class (default), or all: a probability_<class> column per class.",
            },
            "keep_formulas": _TRUE_FALSE
            | {
                "description": "CSV result: leave cells that start with = + - @ tab or CR as "
                "they are (default false: a ' is put before them, so a spreadsheet shows them "
                "as text instead of running them)."
            },
            "warnings": _TRUE_FALSE
            | {
                "description": "A 'warning' column naming, in each row, the values outside "
                "the model's training data: numbers beyond its range, categories it never "
                "saw (default true; models imported without training data have none)."
            },
            "callback_url": _CALLBACK_URL,
        },
    ),
    "TrainingFile": _form(
        ["file"],
        {
            "file": {
                "type": "string",
                "format": "binary",
                "description": "A CSV file with the feature and target columns.",
            },
            "target": {
                "type": "string",
                "description": "The column holding the answers (default the model's).",
            },
            "features": {
                "type": "string",
                "description": "Comma-separated feature columns (default the model's, else "
                "every other column).",
            },
            "task": {
                "type": "string",
                "enum": list(TASKS),
                "description": "Default: classification for labels, regression for quantities.",
            },
            "estimator": {
                "type": "string",
                "enum": list(ESTIMATOR_NAMES),
                "description": "Default linear; sgd can later learn new rows incrementally.",
            },
            "activate": _TRUE_FALSE
            | {
                "description": "Make the new version the one that predicts (default false; a "
                "model's first version always is)."
            },
            "incremental": _TRUE_FALSE
            | {"description": "Update the active version with partial_fit."},
            "holdout": {
                "type": "string",
                "pattern": r"^\s*[0-9]*\.?[0-9]+\s*$",
                "description": f"Share of rows held out to measure the fit, 0 to {MAX_HOLDOUT} "
                f"(default {HOLDOUT}); 0 fits on every row.",
            },
            "refit": _TRUE_FALSE
            | {"description": "Measure on the holdout, then save a fit on every row."},
            "callback_url": _CALLBACK_URL,
        },
    ),
    "WebhookChange": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/WebhookChange"}}},
    },
    "ModelFile": _form(
        ["file"],
        {
            "file": {
                "type": "string",
                "format": "binary",
                "description": "A fitted scikit-learn model or pipeline: a skops file, or an "
                "MLflow model folder as a zip. A pickle is refused: loading one runs its code.",
            },
            "features": {
                "type": "string",
                "description": "Comma-separated, in the order it was fitted on (default: its "
                "MLflow signature, else the names it was fitted with).",
            },
            "target": {"type": "string", "description": "What it predicts."},
            "task": {
                "type": "string",
                "enum": list(TASKS),
                "description": "Default: from the estimator (classifier or regressor).",
            },
            "classes": {
                "type": "string",
                "description": "Comma-separated names for its classes, in its order.",
            },
            "note": {"type": "string", "description": "A note kept with the version."},
            "activate": _TRUE_FALSE
            | {"description": "Make it the version that predicts (default false)."},
        },
    ),
    "Records": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        {"$ref": "#/components/schemas/Record"},
                        {
                            "type": "array",
                            "minItems": 1,
                            "maxItems": 10_000,
                            "items": {"$ref": "#/components/schemas/Record"},
                        },
                    ]
                }
            },
            "text/csv": {
                "schema": {
                    "type": "string",
                    "description": "A header line naming the features, then one line per "
                    "record, read as an uploaded CSV file is (delimiter, decimal mark and "
                    "encoding found; a charset parameter is followed). Answered as a list.",
                }
            },
        },
    },
}
_RECORD = {
    "type": "object",
    "description": "Feature name → value, every feature of the model; or one of MLflow's "
    "bodies: dataframe_split, dataframe_records, instances or inputs (answered as a list).",
    "additionalProperties": True,
}


@dataclass(frozen=True)
class Operation:
    """What the document says of one handler (its summary and description are its docstring)."""

    ids: Mapping[str, str]  #: HTTP method → operationId
    tag: str
    replies: Mapping[int, Reply | str]  #: status → a Reply, or the name of a shared one
    parameters: Sequence[Mapping[str, Any]] = ()
    body: str | None = None  #: a REQUEST_BODIES name
    public: bool = False  #: answers without a token


def operation(
    id: str | Mapping[str, str],
    tag: str,
    replies: Mapping[int, Reply | str],
    *,
    parameters: Sequence[Mapping[str, Any]] = (),
    body: str | None = None,
    public: bool = False,
) -> Callable[[F], F]:
    """Declare a handler's place in the OpenAPI document. `id` is the operationId, or one per
    method for a handler that answers several."""
    ids = {"*": id} if isinstance(id, str) else dict(id)

    def declare(handler: F) -> F:
        handler.openapi = Operation(ids, tag, replies, parameters, body, public)  # type: ignore[attr-defined]
        return handler

    return declare


#: The token scope (batchscore/scopes.py) each operation needs; every operation behind a token
#: is here, and a token with scopes may call only the operations of its scopes.
SCOPE_OF: dict[str, str] = {
    "createJob": "jobs:write",
    "listJobs": "jobs:read",
    "getJob": "jobs:read",
    "getJobResult": "jobs:read",
    "getJobErrors": "jobs:read",
    "listDeliveries": "jobs:read",
    "cancelJob": "jobs:write",
    "retryJob": "jobs:write",
    "retryFailedJobs": "jobs:write",
    "archiveFailedJobs": "jobs:write",
    "archiveJob": "jobs:write",
    "unarchiveJob": "jobs:write",
    "deleteJob": "jobs:write",
    "processFile": "jobs:write",
    "processFileByGet": "jobs:write",
    "processAll": "jobs:write",
    "processAllByGet": "jobs:write",
    "listModels": "models:read",
    "getModel": "models:read",
    "predict": "predict",
    "invocations": "predict",
    "trainModel": "models:admin",
    "addModelData": "models:admin",
    "importModelVersion": "models:admin",
    "activateModelVersion": "models:admin",
    "getWebhook": "webhooks",
    "setWebhook": "webhooks",
    "renewWebhookSecret": "webhooks",
}


def scope_of(handler: object, method: str) -> str | None:
    """The scope a request to `handler` by `method` needs; None for a handler no operation
    declares (the panel's pages)."""
    declared: Operation | None = getattr(handler, "openapi", None)
    if declared is None:
        return None
    method = "GET" if method == "HEAD" else method
    operation_id = declared.ids.get(method) or declared.ids.get("*")
    return None if operation_id is None else SCOPE_OF.get(operation_id)


def openapi_document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document for these routes: paths in route order, methods in a fixed order."""
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, Route) or not route.include_in_schema:
            continue
        declared: Operation | None = getattr(route.endpoint, "openapi", None)
        if declared is None:
            raise ValueError(f"{route.path}: its handler has no @operation(…)")
        path = re.sub(r"{(\w+):\w+}", r"{\1}", route.path)
        methods = sorted((route.methods or set()) - {"HEAD"}, key=_METHOD_ORDER.index)
        for method in methods:
            paths.setdefault(path, {})[method.lower()] = _operation(
                declared, route.endpoint, method
            )
    schemas = msgspec.json.schema_components(PAYLOADS, ref_template=_SCHEMAS)[1]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "batchscore",
            "version": "1",
            "description": (
                "Upload CSV files, score them with a trained model, download the predictions "
                "as xlsx, csv or parquet. Send `Authorization: Bearer <token>`; create a token "
                "with `batchscore token create USER`."
            ),
        },
        "tags": TAGS,
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "webhooks": WEBHOOKS,
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
            "schemas": schemas | {"Record": _RECORD},
            "responses": {name: reply.document() for name, reply in SHARED_REPLIES.items()},
            "requestBodies": REQUEST_BODIES,
            "parameters": PARAMETERS,
        },
    }


#: What batchscore sends to a job's callback URL (README: Webhooks).
WEBHOOKS = {
    "jobEnded": {
        "post": {
            "operationId": "jobEnded",
            "summary": "A job has ended: PROCESSED, FAILED or CANCELLED.",
            "description": "Sent to the job's callback_url. Batchscore-Signature is "
            "t=<unix time>,v1=<hex HMAC-SHA256, keyed with the user's secret (GET /api/webhook), "
            "of '<t>.' followed by the raw body>. Answer 2xx to take it; anything else is "
            "tried again later, waiting twice as long each time.",
            "parameters": [
                {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
                for name in ("Batchscore-Signature", "Batchscore-Event", "Batchscore-Delivery")
            ],
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": _SCHEMAS.format(name="JobEvent")}}
                },
            },
            "responses": {"2XX": {"description": "Taken; it is not sent again."}},
        }
    }
}


def _operation(declared: Operation, handler: Callable[..., Any], method: str) -> dict[str, Any]:
    summary, _, description = (inspect.getdoc(handler) or "").partition("\n\n")
    document: dict[str, Any] = {
        "operationId": declared.ids.get(method) or declared.ids["*"],
        "tags": [declared.tag],
        "summary": " ".join(summary.split()),
    }
    if description:
        document["description"] = " ".join(description.split())
    if declared.public:
        document["security"] = []
    else:
        scope = SCOPE_OF[document["operationId"]]  # KeyError: an operation without its scope
        document["x-token-scope"] = scope
        document["description"] = (
            document.get("description", "") + f" A token with scopes needs {scope}."
        ).strip()
    if declared.parameters:
        document["parameters"] = [dict(p) for p in declared.parameters]
    if declared.body is not None:
        document["requestBody"] = {"$ref": f"#/components/requestBodies/{declared.body}"}
    document["responses"] = {
        str(status): (
            {"$ref": f"#/components/responses/{reply}"}
            if isinstance(reply, str)
            else reply.document()
        )
        for status, reply in sorted(declared.replies.items())
    }
    return document

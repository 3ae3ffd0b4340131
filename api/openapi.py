"""The OpenAPI 3.1 document: shared schemas, responses and security live here; each operation is
the YAML after `---` in its handler's docstring, whose first line becomes the summary."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from typing import Any

import yaml
from starlette.routing import BaseRoute
from starlette.schemas import SchemaGenerator

from batchscore.config import OUTPUT_FORMATS
from batchscore.db.jobs import JobKind, JobStatus
from batchscore.model.metadata import ESTIMATOR_NAMES, TASKS

_METHOD_ORDER = ["get", "post", "put", "patch", "delete", "options"]
_ERROR_CONTENT = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
_NULLABLE_TIME = {"type": ["string", "null"], "format": "date-time"}

_JOB_PROPERTIES: dict[str, Any] = {
    "id": {"type": "integer", "minimum": 1},
    "status": {"type": "string", "enum": [s.value for s in JobStatus]},
    "filename": {"type": "string", "description": "The uploaded file's name."},
    "model": {"type": "string"},
    "model_version": {
        "type": ["integer", "null"],
        "description": "Null until processed (the active version is used); a train job's "
        "is the version it made.",
    },
    "kind": {
        "type": "string",
        "enum": [k.value for k in JobKind],
        "description": "score: predict for a file; train: make a new model version from it.",
    },
    "output_format": {
        "type": ["string", "null"],
        "enum": [*OUTPUT_FORMATS, None],
        "description": "Null for a train job: its result is a model version.",
    },
    "metrics": {
        "type": ["object", "null"],
        "additionalProperties": {"type": "number"},
        "description": "A processed train job's scores of the new version on unseen rows.",
    },
    "result_sheets": {
        "type": ["integer", "null"],
        "minimum": 1,
        "description": "Sheets of the result once PROCESSED: an xlsx sheet holds 1,048,575 "
        "rows, so a longer result continues on sheets 'predictions 2', … (header repeated).",
    },
    "rows_total": {"type": ["integer", "null"], "minimum": 0},
    "rows_done": {"type": "integer", "minimum": 0},
    "rows_failed": {"type": "integer", "minimum": 0},
    "progress": {"type": "number", "minimum": 0, "maximum": 1},
    "error": {"type": ["string", "null"], "description": "Why the job FAILED."},
    "attempts": {"type": "integer", "minimum": 0},
    "archived": {"type": "boolean"},
    "created_at": {"type": "string", "format": "date-time"},
    "started_at": _NULLABLE_TIME,
    "finished_at": _NULLABLE_TIME,
    "duration_seconds": {"type": ["number", "null"], "minimum": 0},
    "url": {"type": "string", "format": "uri"},
    "result_url": {
        "type": ["string", "null"],
        "format": "uri",
        "description": "Where to download the result once the job is PROCESSED.",
    },
}
_PREDICTION_PROPERTIES: dict[str, Any] = {
    "prediction": {"type": ["string", "number"], "description": "A class label or a value."},
    "probabilities": {
        "type": ["object", "null"],
        "additionalProperties": {"type": "number", "minimum": 0, "maximum": 1},
        "description": "Class → probability, for a classifier that gives them.",
    },
}
_MODEL_PROPERTIES: dict[str, Any] = {
    "name": {"type": "string"},
    "version": {"type": "integer", "minimum": 1, "description": "The active version."},
    "versions": {"type": "array", "items": {"type": "integer", "minimum": 1}},
    "task": {"type": "string", "enum": ["classification", "regression"]},
    "features": {
        "type": "array",
        "items": {"type": "string"},
        "description": "The columns an uploaded CSV must have.",
    },
    "target": {"type": "string"},
    "classes": {"type": ["array", "null"], "items": {"type": "string"}},
    "metrics": {"type": "object", "additionalProperties": {"type": "number"}},
    "created_at": {"type": "string"},
}

_VERSION_PROPERTIES: dict[str, Any] = {
    "version": {"type": "integer", "minimum": 1},
    "active": {"type": "boolean", "description": "Whether this version predicts."},
    **{key: _MODEL_PROPERTIES[key] for key in ("task", "features", "target", "classes")},
    "metrics": {
        "type": "object",
        "additionalProperties": {"type": "number"},
        "description": "Scores on rows it did not learn from.",
    },
    "created_at": {"type": "string"},
    "training_rows": {"type": "integer", "minimum": 0},
    "training_data_sha256": {"type": "string"},
}

SCHEMAS: dict[str, Any] = {
    "Job": {"type": "object", "required": list(_JOB_PROPERTIES), "properties": _JOB_PROPERTIES},
    "JobList": {
        "type": "object",
        "required": ["jobs", "total", "limit", "offset"],
        "properties": {
            "jobs": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}},
            "total": {"type": "integer", "minimum": 0, "description": "Matches without paging."},
            "limit": {"type": "integer", "minimum": 1},
            "offset": {"type": "integer", "minimum": 0},
        },
    },
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "examples": ["not_found", "invalid_input"]},
                    "message": {"type": "string", "description": "What went wrong and what to do."},
                },
            },
        },
    },
    "JobConflict": {
        "description": "A refusal to process a job that is not PENDING, with the job as it is.",
        "allOf": [
            {"$ref": "#/components/schemas/Error"},
            {
                "type": "object",
                "required": ["job"],
                "properties": {"job": {"$ref": "#/components/schemas/Job"}},
            },
        ],
    },
    "Model": {
        "type": "object",
        "required": list(_MODEL_PROPERTIES),
        "properties": _MODEL_PROPERTIES,
    },
    "ModelDetail": {
        "type": "object",
        "required": ["name", "active_version", "versions"],
        "properties": {
            "name": {"type": "string"},
            "active_version": {"type": "integer", "minimum": 1},
            "versions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": list(_VERSION_PROPERTIES),
                    "properties": _VERSION_PROPERTIES,
                },
            },
        },
    },
    "ModelList": {
        "type": "object",
        "required": ["models"],
        "properties": {
            "models": {"type": "array", "items": {"$ref": "#/components/schemas/Model"}}
        },
    },
    "PredictRequest": {
        "oneOf": [
            {"$ref": "#/components/schemas/Record"},
            {
                "type": "array",
                "minItems": 1,
                "maxItems": 10_000,
                "items": {"$ref": "#/components/schemas/Record"},
            },
        ],
    },
    "Record": {
        "type": "object",
        "description": "Feature name → value; every feature of the model, as a number.",
        "additionalProperties": True,
    },
    "Prediction": {
        "type": "object",
        "required": ["prediction", "probabilities"],
        "properties": _PREDICTION_PROPERTIES,
    },
    "PredictResponse": {
        "type": "object",
        "required": ["model", "version"],
        "properties": {
            "model": {"type": "string"},
            "version": {"type": "integer", "minimum": 1},
            **_PREDICTION_PROPERTIES,
            "predictions": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Prediction"},
                "description": "For a list of records: one per record, in order.",
            },
        },
    },
    "ProcessAll": {
        "type": "object",
        "required": ["job_ids", "count"],
        "properties": {
            "job_ids": {"type": "array", "items": {"type": "integer", "minimum": 1}},
            "count": {"type": "integer", "minimum": 0},
        },
    },
    "Health": {
        "type": "object",
        "required": ["status", "jobs"],
        "properties": {
            "status": {"const": "ok"},
            "jobs": {
                "type": "object",
                "description": "How many jobs are in each status.",
                "required": [s.value for s in JobStatus],
                "properties": {s.value: {"type": "integer", "minimum": 0} for s in JobStatus},
            },
        },
    },
}

RESPONSES: dict[str, Any] = {
    "Unauthorized": {
        "description": "No bearer token, or an unknown one.",
        "headers": {"WWW-Authenticate": {"schema": {"type": "string", "const": "Bearer"}}},
        "content": _ERROR_CONTENT,
    },
    "Forbidden": {"description": "The token has been revoked.", "content": _ERROR_CONTENT},
    "NotFound": {"description": "No such job, or not yours.", "content": _ERROR_CONTENT},
    "Conflict": {
        "description": "The job's status does not allow this now.",
        "content": _ERROR_CONTENT,
    },
    "InvalidInput": {
        "description": "A parameter or the upload is invalid; the message says which and why.",
        "content": _ERROR_CONTENT,
    },
    "UnknownModel": {"description": "No model of that name.", "content": _ERROR_CONTENT},
    "AdminOnly": {
        "description": "The token has been revoked, or its user is not an admin.",
        "content": _ERROR_CONTENT,
    },
    "MalformedForm": {
        "description": "The body is not a well-formed multipart form.",
        "content": _ERROR_CONTENT,
    },
    "UploadTooLarge": {
        "description": "The file is larger than the upload limit.",
        "content": _ERROR_CONTENT,
    },
    "TrainJobQueued": {
        "description": "Queued as a PENDING train job; its metrics appear once it is PROCESSED.",
        "headers": {
            "Location": {"description": "The job's URL.", "schema": {"type": "string"}},
        },
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}},
    },
    "ModelUnavailable": {
        "description": "The model's files are missing or unusable; the operator must fix them.",
        "content": _ERROR_CONTENT,
    },
}

REQUEST_BODIES: dict[str, Any] = {
    "TrainingFile": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
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
                            "description": "Comma-separated feature columns (default the "
                            "model's, else every other column).",
                        },
                        "task": {
                            "type": "string",
                            "enum": list(TASKS),
                            "description": "Default: classification for labels, regression "
                            "for quantities.",
                        },
                        "estimator": {
                            "type": "string",
                            "enum": list(ESTIMATOR_NAMES),
                            "description": "Default linear; sgd can later learn new rows "
                            "incrementally.",
                        },
                        "activate": {
                            "type": "string",
                            "enum": ["true", "false"],
                            "description": "Make the new version the one that predicts "
                            "(default false; a model's first version always is).",
                        },
                        "incremental": {
                            "type": "string",
                            "enum": ["true", "false"],
                            "description": "Update the active version with partial_fit.",
                        },
                    },
                }
            }
        },
    },
}

PARAMETERS: dict[str, Any] = {
    "JobId": {
        "name": "job_id",
        "in": "path",
        "required": True,
        "schema": {"type": "integer", "minimum": 1, "maximum": 2**63 - 1},
    },
}

BASE_SCHEMA: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "batchscore",
        "version": "1",
        "description": (
            "Upload CSV files, score them with a trained model, download the predictions "
            "as xlsx, csv or parquet. Send `Authorization: Bearer <token>`; create a token with "
            "`batchscore token create USER`."
        ),
    },
    "security": [{"bearerAuth": []}],
    "components": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        "schemas": SCHEMAS,
        "responses": RESPONSES,
        "requestBodies": REQUEST_BODIES,
        "parameters": PARAMETERS,
    },
}


class DocstringSchemaGenerator(SchemaGenerator):
    """Starlette's generator, keeping the docstring's first line as the operation's summary.

    A handler whose docstring has no `---` is left out of the document (the HTML pages).
    """

    def parse_docstring(self, func_or_method: Callable[..., Any]) -> dict[str, Any]:
        summary, separator, spec = (inspect.getdoc(func_or_method) or "").partition("\n---\n")
        if not separator:
            return {}
        operation = yaml.safe_load(spec)
        if not isinstance(operation, dict):
            raise ValueError(f"{func_or_method.__qualname__}: the YAML after --- is not a mapping")
        return {"summary": summary.strip(), **operation}


def openapi_document(routes: Sequence[BaseRoute]) -> dict[str, Any]:
    """The OpenAPI document for these routes, paths in route order, methods in a fixed order."""
    document = DocstringSchemaGenerator(BASE_SCHEMA).get_schema(list(routes))
    # A Route's methods are a set: sort them, so the document is the same on every start.
    document["paths"] = {
        path: dict(sorted(item.items(), key=lambda pair: _METHOD_ORDER.index(pair[0])))
        for path, item in document["paths"].items()
    }
    return document

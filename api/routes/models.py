"""GET /api/models: the models jobs can use, with the columns each needs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from api.auth import current_user
from api.payloads import model_json
from api.state import context_of
from model.registry import list_models, list_versions


def list_models_route(request: Request) -> Response:
    """Every model (its latest version), with features, classes and versions.
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

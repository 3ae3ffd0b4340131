"""GET /openapi.json and /docs: the API's OpenAPI 3.1 document, and Swagger UI to browse it,
from the files of the installed swagger-ui-bundle-v2 package (nothing is fetched at run time)."""

from __future__ import annotations

from pathlib import Path

import swagger_ui_bundle  # type: ignore[import-untyped]
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.staticfiles import StaticFiles

from batchscore.api.openapi import Reply, openapi_document, operation
from batchscore.api.pages import SECURITY_HEADERS
from batchscore.api.state import templates_of

SWAGGER_UI_DIR = Path(str(swagger_ui_bundle.swagger_ui_path))  # …/vendor/swagger-ui-<version>


@operation(
    "openapi",
    "system",
    {
        200: Reply(
            "The OpenAPI document.",
            content={
                "application/json": {"schema": {"type": "object", "required": ["openapi", "paths"]}}
            },
        )
    },
    public=True,
)
def openapi(request: Request) -> Response:
    """The OpenAPI 3.1 document of this API (this document)."""
    return JSONResponse(openapi_document(request.app.routes))


def swagger_ui(request: Request) -> Response:
    """Swagger UI for /openapi.json, from local assets, under the panel's security headers
    (no inline script, no framing by other sites)."""
    templates = templates_of(request)
    return templates.TemplateResponse(request, "docs.html", headers=SECURITY_HEADERS)


def swagger_ui_assets() -> StaticFiles:
    """Swagger UI's JavaScript and CSS, served from the installed package."""
    return StaticFiles(directory=SWAGGER_UI_DIR)

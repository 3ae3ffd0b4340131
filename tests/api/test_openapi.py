"""/openapi.json is valid OpenAPI 3.1 and documents every API route; /docs is Swagger UI (≥ 5, so
it reads OpenAPI 3.1) served from local files. Neither needs a token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx2
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator
from starlette.routing import Route

from batchscore.api.app import create_app
from batchscore.api.pages import SECURITY_HEADERS
from batchscore.api.routes.docs import SWAGGER_UI_DIR
from batchscore.config import Settings
from batchscore.scheduler.job_json import Job

# The operations that need no token: system-wide totals and the document itself.
PUBLIC = {("/health", "get"), ("/metrics", "get"), ("/openapi.json", "get")}


class _AssetLinks(HTMLParser):
    """The URLs a page loads: script src, link href, img src."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        wanted = {"script": "src", "link": "href", "img": "src"}.get(tag)
        self.urls.extend(value for name, value in attrs if name == wanted and value)


@pytest.fixture
def document(anonymous: httpx2.Client) -> dict[str, Any]:
    response = anonymous.get("/openapi.json")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    body: dict[str, Any] = response.json()
    return body


def operations(document: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_openapi_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(document).validate()


def test_openapi_document_lists_every_api_route_with_all_its_methods(
    document: dict[str, Any], settings: Settings
) -> None:
    app = create_app(settings)
    app.state.ctx.engine.dispose()
    routes = {
        (re.sub(r":\w+}", "}", route.path), method.lower())
        for route in app.routes
        if isinstance(route, Route) and route.include_in_schema
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert {(path, method) for path, method, _ in operations(document)} == routes


def test_every_operation_has_a_summary_and_its_responses(document: dict[str, Any]) -> None:
    for path, method, operation in operations(document):
        assert operation["summary"], (method, path)
        statuses = set(operation["responses"])
        assert any(status.startswith("2") for status in statuses), (method, path)
        if (path, method) not in PUBLIC:
            assert {"401", "403"} <= statuses, (method, path)
        if "{job_id}" in path or path == "/process_file":
            assert "404" in statuses, (method, path)


def test_every_operation_has_a_unique_operation_id_and_a_declared_tag(
    document: dict[str, Any],
) -> None:
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert all(re.fullmatch(r"[a-z][A-Za-z]+", i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    tags = {tag["name"] for tag in document["tags"]}
    for path, method, operation in operations(document):
        assert len(operation["tags"]) == 1 and operation["tags"][0] in tags, (method, path)


def test_result_download_documents_every_output_format(document: dict[str, Any]) -> None:
    content = document["paths"]["/api/jobs/{job_id}/result"]["get"]["responses"]["200"]["content"]
    assert set(content) == {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "text/csv",
        "application/vnd.apache.parquet",
    }


def test_job_schema_is_generated_from_the_payload_type(document: dict[str, Any]) -> None:
    """Every field of the Job payload, and nothing else, is in the document, all required."""
    job = document["components"]["schemas"]["Job"]
    assert set(job["properties"]) == set(Job.__struct_fields__)
    assert set(job["required"]) == set(Job.__struct_fields__)


def test_only_health_metrics_and_the_document_itself_are_public(document: dict[str, Any]) -> None:
    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
    }
    public = {
        (path, method) for path, method, op in operations(document) if op.get("security") == []
    }
    assert public == PUBLIC


def test_docs_page_loads_swagger_ui_from_local_assets_only(anonymous: httpx2.Client) -> None:
    response = anonymous.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    parser = _AssetLinks()
    parser.feed(response.text)
    assert any(url.endswith("/swagger-ui-bundle.js") for url in parser.urls), parser.urls
    assert any(url.endswith("/swagger-ui.css") for url in parser.urls), parser.urls
    for url in parser.urls:
        assert url.startswith("/") and not url.startswith("//"), url  # same origin, no CDN
        asset = anonymous.get(url)
        assert asset.status_code == 200, url
        assert asset.content, url
    assert 'data-openapi="/openapi.json"' in response.text
    assert not re.search(r"https?://", response.text)
    assert "<script>" not in response.text  # every script from a file: the CSP allows no other
    assert "validatorUrl: null" in anonymous.get("/static/docs.js").text  # no online validator
    assert (
        response.headers["content-security-policy"] == SECURITY_HEADERS["Content-Security-Policy"]
    )
    assert response.headers["x-content-type-options"] == "nosniff"
    assert 'href="/"' in response.text  # the way back to the panel


def test_swagger_ui_reads_openapi_3_1() -> None:
    """Swagger UI supports OpenAPI 3.1 from version 5 on; the package's folder names the version."""
    version = re.fullmatch(r"swagger-ui-(\d+)\.\d+\.\d+", SWAGGER_UI_DIR.name)
    assert version is not None, SWAGGER_UI_DIR
    assert int(version.group(1)) >= 5

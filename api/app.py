"""create_app(settings) → the Starlette app, with the whole route table in one list."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from anyio import CapacityLimiter
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from batchscore.api.errors import EXCEPTION_HANDLERS
from batchscore.api.metrics import metrics_registry
from batchscore.api.requestid import RequestIdMiddleware
from batchscore.api.routes import (
    docs,
    health,
    jobs,
    login,
    metrics,
    models,
    panel,
    process,
    tokens,
    versions,
    webhooks,
)
from batchscore.api.session import CSRF_HEADER
from batchscore.config import Settings, load_settings
from batchscore.logs import configure_logging
from batchscore.service.setup import check_schema, open_context

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
BOTH = ["GET", "POST"]
PREDICT_THREADS = 4  # fewer than the database pool's 5 connections: none is made per call


def create_app(settings: Settings) -> Starlette:
    ctx = open_context(settings, check_schema=False)  # at startup, below

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        check_schema(ctx)  # refuse to serve an uninitialised database
        yield
        ctx.close()

    routes = [
        _page("/", panel.home),
        _page("/login", login.login_page),
        _page("/login", login.login, "POST"),
        _page("/logout", login.logout, "POST"),
        _page("/jobs/{job_id:int}", panel.job_page),
        _page("/models", panel.models_page),
        _page("/processors", panel.processors_page),
        _page("/models/{name}", panel.model_page),
        _page("/tokens", tokens.tokens_page),
        _page("/tokens", tokens.create_token, "POST"),
        _page("/tokens/{token_id:int}/revoke", tokens.revoke, "POST"),
        Mount("/static", StaticFiles(directory=STATIC), name="static"),
        Route("/health", health.health, methods=["GET"]),
        Route("/metrics", metrics.metrics, methods=["GET"]),
        Route("/process_file", process.process_file, methods=BOTH),
        Route("/process_all", process.process_all, methods=BOTH),
        Route("/api/jobs", jobs.create_job, methods=["POST"]),
        Route("/api/jobs", jobs.list_jobs_route, methods=["GET"]),
        Route("/api/jobs/{job_id:int}", jobs.get_job_route, methods=["GET"], name="get_job"),
        Route("/api/jobs/{job_id:int}", jobs.delete, methods=["DELETE"]),
        Route("/api/jobs/{job_id:int}/result", jobs.get_result, methods=["GET"], name="get_result"),
        Route("/api/jobs/{job_id:int}/errors", jobs.get_errors, methods=["GET"]),
        Route("/api/jobs/failed/retry", jobs.retry_failed, methods=["POST"]),
        Route("/api/jobs/failed/archive", jobs.archive_failed, methods=["POST"]),
        Route("/api/jobs/{job_id:int}/cancel", jobs.cancel, methods=["POST"]),
        Route("/api/jobs/{job_id:int}/retry", jobs.retry, methods=["POST"]),
        Route("/api/jobs/{job_id:int}/archive", jobs.archive, methods=["POST"]),
        Route("/api/jobs/{job_id:int}/unarchive", jobs.unarchive, methods=["POST"]),
        Route("/api/jobs/{job_id:int}/deliveries", webhooks.list_deliveries, methods=["GET"]),
        Route("/api/webhook", webhooks.get_webhook, methods=["GET"]),
        Route("/api/webhook", webhooks.set_webhook, methods=["PUT"]),
        Route("/api/webhook/secret", webhooks.renew_secret, methods=["POST"]),
        Route("/api/models", models.list_models_route, methods=["GET"]),
        Route("/api/models/{name}", models.show_model, methods=["GET"], name="show_model"),
        Route("/api/models/{name}/versions", versions.import_version, methods=["POST"]),
        Route("/api/models/{name}/predict", models.predict, methods=["POST"]),
        Route("/invocations", models.invocations, methods=["POST"]),
        Route("/api/models/{name}/train", versions.train, methods=["POST"]),
        Route("/api/models/{name}/data", versions.add_data, methods=["POST"]),
        Route(
            "/api/models/{name}/versions/{version:int}/activate",
            versions.activate_version,
            methods=["POST"],
        ),
        Route("/openapi.json", docs.openapi, methods=["GET"], name="openapi"),
        Route("/docs", docs.swagger_ui, methods=["GET"], include_in_schema=False),
        Mount("/docs/assets", docs.swagger_ui_assets(), name="docs_assets"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(RequestIdMiddleware), *_cors(settings)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.templates = Jinja2Templates(directory=TEMPLATES)
    app.state.predict_threads = CapacityLimiter(PREDICT_THREADS)
    app.state.metrics = metrics_registry(ctx)
    return app


def _cors(settings: Settings) -> list[Middleware]:
    """CORS for CORS_ALLOWED_ORIGINS (none when empty), inside the request id middleware so a
    preflight is logged with an id, and outside the exception handlers so errors get the headers.

    Never with credentials: API tokens go in Authorization, and the panel's cookie session must
    not be usable from another origin.
    """
    if not settings.cors_allowed_origins:
        return []
    return [
        Middleware(
            CORSMiddleware,
            allow_origins=settings.cors_allowed_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type", CSRF_HEADER],
            allow_credentials=False,
            expose_headers=["Retry-After", "X-Request-ID", "Location", "Content-Disposition"],
            max_age=600,
        )
    ]


def _page(path: str, endpoint: Callable[..., Any], method: str = "GET") -> Route:
    """A browser page of the panel: not part of the OpenAPI document."""
    return Route(path, endpoint, methods=[method], include_in_schema=False)


def app_from_config() -> Starlette:
    """The factory that `batchscore serve` (every worker process) gives uvicorn."""
    configure_logging()  # worker processes start with no logging set up
    settings = load_settings()
    configure_logging(log_format=settings.log_format)
    return create_app(settings)

"""create_app(settings) → the Starlette app, with the whole route table in one list."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.templating import Jinja2Templates

from api.routes import health, panel
from batchscore.config import Settings
from scheduler.context import Context

TEMPLATES = Path(__file__).parent / "templates"


def create_app(settings: Settings) -> Starlette:
    ctx = Context.from_settings(settings)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        ctx.engine.dispose()

    routes = [
        Route("/health", health.health, methods=["GET"]),
        Route("/", panel.status_page, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.ctx = ctx
    app.state.templates = Jinja2Templates(directory=TEMPLATES)
    return app

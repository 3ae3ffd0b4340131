"""What create_app keeps on app.state, typed: the processing context, the templates, the
threads real-time predictions run on and the metrics registry."""

from __future__ import annotations

from anyio import CapacityLimiter
from prometheus_client import CollectorRegistry
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from batchscore.scheduler.context import Context


def context_of(request: Request) -> Context:
    ctx: Context = request.app.state.ctx
    return ctx


def templates_of(request: Request) -> Jinja2Templates:
    templates: Jinja2Templates = request.app.state.templates
    return templates


def predict_threads(request: Request) -> CapacityLimiter:
    limiter: CapacityLimiter = request.app.state.predict_threads
    return limiter


def metrics_of(request: Request) -> CollectorRegistry:
    registry: CollectorRegistry = request.app.state.metrics
    return registry

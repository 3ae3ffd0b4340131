"""The browser pages. Until the panel lands: a landing page with the queue's totals."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from db.engine import in_transaction
from db.jobs import count_jobs_by_status


def home(request: Request) -> Response:
    """Landing page: what this is, where the API docs are, how many jobs are in each state."""
    counts = in_transaction(request.app.state.ctx.engine, count_jobs_by_status)
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, "home.html", {"counts": counts})

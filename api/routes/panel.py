"""The browser pages. For now a read-only status page of recent jobs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.templating import Jinja2Templates

from db.engine import in_transaction
from db.jobs import list_jobs


def status_page(request: Request) -> Response:
    """Recent jobs with their status and progress; refreshes itself."""
    jobs = in_transaction(request.app.state.ctx.engine, lambda c: list_jobs(c, limit=100))
    templates: Jinja2Templates = request.app.state.templates
    return templates.TemplateResponse(request, "status.html", {"jobs": jobs})

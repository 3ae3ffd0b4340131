"""GET /metrics: Prometheus' text format, for a scraper."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from batchscore.api.metrics import CONTENT_TYPE, render
from batchscore.api.openapi import Reply, operation
from batchscore.api.state import metrics_of


@operation(
    "metrics",
    "system",
    {
        200: Reply(
            "The metrics, in Prometheus' text exposition format 0.0.4.",
            content={"text/plain": {"schema": {"type": "string"}}},
        ),
        503: "DatabaseUnavailable",
    },
    public=True,
)
def metrics(request: Request) -> Response:
    """Jobs by status, queue depth, workers, job duration and rows/s, predict latency.

    Open like /health: the figures are system-wide totals, with no names or files. Job figures
    come from the database, so every web server reports the whole system; predict latency is
    this server's (all its worker processes).
    """
    return Response(render(metrics_of(request)), media_type=CONTENT_TYPE)

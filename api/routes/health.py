"""GET /health: the process is up and the database answers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from batchscore.api.openapi import Reply, operation
from batchscore.api.payloads import Health, JobCounts, json_response
from batchscore.api.state import context_of
from batchscore.service.status import job_counts


@operation(
    "health",
    "system",
    {
        200: Reply("The process is up and the database answers.", Health),
        503: "DatabaseUnavailable",
    },
    public=True,
)
def health(request: Request) -> Response:
    """Liveness and database check, with the queue's counts by status."""
    counts = {status.value: n for status, n in job_counts(context_of(request)).items()}
    return json_response(Health("ok", JobCounts(**counts)))

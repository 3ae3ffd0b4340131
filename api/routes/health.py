"""GET /health: the process is up and the database answers."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from batchscore.api.state import context_of
from batchscore.service.status import job_counts


def health(request: Request) -> JSONResponse:
    """Liveness and database check, with the queue's counts by status.
    ---
    security: []
    responses:
      "200":
        description: The process is up and the database answers.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Health"}
      "503":
        description: The database cannot be reached; try again after Retry-After seconds.
        content:
          application/json:
            schema: {$ref: "#/components/schemas/Error"}
    """
    counts = job_counts(context_of(request))
    return JSONResponse({"status": "ok", "jobs": {s.value: n for s, n in counts.items()}})

"""Logging set-up shared by every entry point, with the current request id on each line."""

from __future__ import annotations

import contextvars
import logging
import sys

#: The id of the HTTP request being served ("-" outside one); set by api.requestid.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


def configure_logging(*, verbose: bool = False) -> None:
    """Log to stderr once per process (uvicorn's worker processes call this again: no-op)."""
    root = logging.getLogger()
    if any(isinstance(f, _RequestIdFilter) for h in root.handlers for f in h.filters):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_FORMAT))
    handler.addFilter(_RequestIdFilter())
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if verbose else logging.INFO)
    logging.getLogger("alembic").setLevel(logging.WARNING)  # our commands print their own summary

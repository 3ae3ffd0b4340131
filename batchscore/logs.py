"""Logging set-up shared by every entry point, with the current request id and job id on each
line: as text for a terminal, or as one JSON object per line (LOG_FORMAT = json) for a log
collector, which can then follow one job across hosts by its job_id."""

from __future__ import annotations

import contextvars
import logging
import sys

from pythonjsonlogger.json import JsonFormatter

#: The id of the HTTP request being served ("-" outside one); set by api.requestid.
request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
#: The job being processed (None outside one); set by scheduler.processor.
job_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("job_id", default=None)
LOG_FORMATS = ("text", "json")
_TEXT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s]: %(message)s"


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        record.job_id = job_id.get()
        return True


class _JsonLines(JsonFormatter):
    """time, level, logger, message, then request_id and job_id only where there is one."""

    def process_log_record(self, log_data: dict[str, object]) -> dict[str, object]:
        if log_data.get("request_id") == "-":
            del log_data["request_id"]
        if log_data.get("job_id") is None:
            log_data.pop("job_id", None)
        return log_data


def configure_logging(*, verbose: bool = False, log_format: str = "text") -> None:
    """Log to stderr through one handler per process.

    Called again (uvicorn's worker processes; an entry point once it has read LOG_FORMAT from
    the config), it only switches the format.
    """
    root = logging.getLogger()
    ours = [h for h in root.handlers if any(isinstance(f, _ContextFilter) for f in h.filters)]
    if ours:
        handler = ours[0]
    else:
        handler = logging.StreamHandler(sys.stderr)
        handler.addFilter(_ContextFilter())
        root.addHandler(handler)
        root.setLevel(logging.DEBUG if verbose else logging.INFO)
        logging.getLogger("alembic").setLevel(logging.WARNING)  # commands print their summary
        logging.getLogger("aiobotocore").setLevel(logging.WARNING)  # "Found credentials in …"
    if log_format == "json":
        handler.setFormatter(
            _JsonLines(
                "%(levelname)s %(name)s %(message)s %(request_id)s %(job_id)s",
                rename_fields={"levelname": "level", "name": "logger"},
                timestamp="time",  # ISO 8601 in UTC, to the microsecond
                json_ensure_ascii=False,
            )
        )
    else:
        handler.setFormatter(logging.Formatter(_TEXT))

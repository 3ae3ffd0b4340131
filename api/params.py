"""Query parameters and form fields → typed values, or InputError (422) naming the parameter
and the value."""

from __future__ import annotations

import math
from datetime import UTC, datetime

from starlette.requests import Request

from batchscore.db.jobs import JobStatus
from batchscore.errors import InputError, TooLarge

_TRUE, _FALSE = ("1", "true", "yes"), ("0", "false", "no")


def int_param(
    request: Request, name: str, *, default: int | None = None, low: int = 0, high: int = 2**62
) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        if default is None:
            raise InputError(f"Query parameter '{name}' is required.")
        return default
    try:
        value = int(raw)
    except ValueError:
        raise InputError(f"Query parameter '{name}' must be an integer, not {raw!r}.") from None
    if not low <= value <= high:
        raise InputError(f"Query parameter '{name}' must be between {low} and {high}.")
    return value


def bool_param(request: Request, name: str, *, default: bool) -> bool:
    return bool_value(request.query_params.get(name), f"Query parameter '{name}'", default=default)


def bool_value(raw: str | None, what: str, *, default: bool) -> bool:
    """true/false, 1/0 or yes/no (any case); `default` when absent or empty."""
    raw = (raw or "").strip().lower()
    if raw == "":
        return default
    if raw not in _TRUE + _FALSE:
        raise InputError(f"{what} must be true or false, not {raw!r}.")
    return raw in _TRUE


def float_value(raw: str | None, what: str, *, default: float) -> float:
    """A finite decimal number; `default` when absent or empty."""
    raw = (raw or "").strip()
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputError(f"{what} must be a number, not {raw[:40]!r}.") from None
    if not math.isfinite(value):
        raise InputError(f"{what} must be a finite number, not {raw[:40]!r}.")
    return value


def status_param(request: Request) -> JobStatus | None:
    raw = request.query_params.get("status", "")
    if raw == "":
        return None
    try:
        return JobStatus(raw.upper())
    except ValueError:
        choices = ", ".join(s.value for s in JobStatus)
        raise InputError(f"Query parameter 'status' must be one of {choices}.") from None


def time_param(request: Request, name: str) -> datetime | None:
    """An ISO 8601 date or time (2026-12-04, 2026-12-04T09:30:00Z), as naive UTC like the job
    table's times; a time without an offset is UTC."""
    raw = request.query_params.get(name, "").strip()
    if raw == "":
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InputError(
            f"Query parameter '{name}' must be a date or time such as 2026-12-04 or "
            f"2026-12-04T09:30:00Z, not {raw[:40]!r}."
        ) from None
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The request's body, refused (TooLarge) as soon as it passes `max_bytes`: never held whole
    in memory when it is too large."""
    body = bytearray()
    async for block in request.stream():
        body += block
        if len(body) > max_bytes:
            raise TooLarge(f"The body is larger than the limit of {max_bytes:,} bytes.")
    return bytes(body)

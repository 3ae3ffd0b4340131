"""Plain factory functions with keyword overrides."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

from batchscore.db.engine import in_transaction
from batchscore.db.jobs import JobRecord, create_job
from batchscore.scheduler.context import Context
from batchscore.service.intake import submit_file

IRIS_HEADER = ("sepal_length", "sepal_width", "petal_length", "petal_width")
IRIS_ROW = ("5.1", "3.5", "1.4", "0.2")


def csv_text(rows: Sequence[Sequence[str]], header: Sequence[str] = IRIS_HEADER) -> str:
    return "\n".join(",".join(row) for row in [header, *rows]) + "\n"


def iris_csv(n_rows: int = 10) -> str:
    return csv_text([IRIS_ROW] * n_rows)


def linear_rows(n_rows: int) -> str:
    """A labelled CSV with y = 3 x1 - 2 x2 + 1 exactly, so a linear fit recovers it."""
    rows = [(f"{i % 97}", f"{i % 13}", f"{3 * (i % 97) - 2 * (i % 13) + 1}") for i in range(n_rows)]
    return csv_text(rows, header=("x1", "x2", "y"))


def write_csv(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def submit(ctx: Context, text: str | bytes, filename: str = "data.csv", **kw: object) -> JobRecord:
    data = text.encode() if isinstance(text, str) else text
    return submit_file(ctx, io.BytesIO(data), filename, **kw)  # type: ignore[arg-type]


def add_job(ctx: Context, text: str | bytes = "", **overrides: object) -> JobRecord:
    """A PENDING job row for raw bytes, bypassing intake's checks (for files intake refuses)."""
    data = text.encode() if isinstance(text, str) else text
    name = ctx.storage.save_input(io.BytesIO(data), "raw.csv", max(len(data), 1)).name
    values: dict[str, object] = {
        "owner_id": None,
        "original_filename": "data.csv",
        "input_name": name,
        "input_sha256": "0" * 64,
        "input_bytes": len(data),
        "model_name": "iris",
        "model_version": None,
        "output_format": "xlsx",
    }
    values.update(overrides)
    return in_transaction(ctx.engine, lambda c: create_job(c, **values))  # type: ignore[arg-type]

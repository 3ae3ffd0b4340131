"""Checks a table's columns against a model's features; a mismatch is an InputError."""

from __future__ import annotations

from collections.abc import Sequence

from batchscore.errors import InputError
from batchscore.model.metadata import ModelInfo

_MAX_LISTED_COLUMNS = 30  # keeps the message readable for files with hundreds of columns


def check_columns(info: ModelInfo, columns: Sequence[str]) -> None:
    """Raise InputError naming the missing features if any feature is not among `columns`.

    Extra columns and any order are fine; names are compared without surrounding whitespace.
    """
    present = [str(column).strip() for column in columns]
    present_set = set(present)
    missing = [feature for feature in info.features if feature not in present_set]
    if missing:
        raise InputError(
            f"Missing column(s) {', '.join(missing)}. "
            f"Model {info.name} v{info.version} needs: {', '.join(info.features)}. "
            f"The file has: {_listed(present)}."
        )


def _listed(columns: list[str]) -> str:
    if not columns:
        return "no columns"
    shown = ", ".join(columns[:_MAX_LISTED_COLUMNS])
    hidden = len(columns) - _MAX_LISTED_COLUMNS
    return f"{shown} and {hidden} more" if hidden > 0 else shown

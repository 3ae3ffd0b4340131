"""Finds a model's features among a table's columns; a missing one is an InputError.

A header matches a feature exactly, or else ignoring case, surrounding spaces and the
difference between space, '_' and '-' (`Sepal Length ` is `sepal_length`) when exactly one
column matches so. Anything less certain is refused, naming the near misses.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence

from batchscore.errors import InputError
from batchscore.model.metadata import ModelInfo

_MAX_LISTED_COLUMNS = 30  # keeps the message readable for files with hundreds of columns
_SEPARATORS = re.compile(r"[\s_-]+")


def feature_columns(
    info: ModelInfo, columns: Sequence[str], repeated: Collection[str] = ()
) -> dict[str, str]:
    """Each feature's column in the table (extra columns and any order are fine).

    InputError names the features no column matches, the columns that match a feature only
    loosely but more than once, and a feature whose header name the file gives to several
    columns (`repeated`: which one is meant cannot be known).
    """
    present = [str(column) for column in columns]
    exact = {column.strip(): column for column in present}
    loose: dict[str, list[str]] = {}
    for column in present:
        loose.setdefault(_loose(column), []).append(column)
    found: dict[str, str] = {}
    missing, ambiguous = [], []
    for feature in info.features:
        if feature in exact:
            found[feature] = exact[feature]
        elif len(loose.get(_loose(feature), [])) == 1:
            found[feature] = loose[_loose(feature)][0]
        elif loose.get(_loose(feature)):
            ambiguous.append(f"{feature} ({' or '.join(loose[_loose(feature)])}?)")
        else:
            missing.append(feature)
    clashing = sorted({name for name in found.values() if name.strip() in repeated})
    if clashing:
        raise InputError(
            f"The header names column(s) {', '.join(clashing)} more than once, and model "
            f"{info.name} needs it. Give every column a different name."
        )
    if missing or ambiguous:
        said = []
        if missing:
            said.append(f"Missing column(s) {', '.join(missing)}.")
        if ambiguous:
            said.append(f"More than one column could be {'; '.join(ambiguous)}.")
        raise InputError(
            f"{' '.join(said)} Model {info.name} v{info.version} needs: "
            f"{', '.join(info.features)}. The file has: {_listed(present)}."
        )
    return found


def check_columns(info: ModelInfo, columns: Sequence[str], repeated: Collection[str] = ()) -> None:
    """Raise InputError unless every feature is found among `columns` (feature_columns)."""
    feature_columns(info, columns, repeated)


def _loose(name: str) -> str:
    return _SEPARATORS.sub("_", name.strip()).casefold()


def _listed(columns: list[str]) -> str:
    if not columns:
        return "no columns"
    shown = ", ".join(c.strip() for c in columns[:_MAX_LISTED_COLUMNS])
    hidden = len(columns) - _MAX_LISTED_COLUMNS
    return f"{shown} and {hidden} more" if hidden > 0 else shown

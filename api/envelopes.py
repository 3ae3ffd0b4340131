"""MLflow's scoring request bodies read as records, so a client written for an MLflow model
server calls batchscore unchanged: `dataframe_split`, `dataframe_records`, `instances` and
`inputs` (mlflow/pyfunc/scoring_server), with `params` accepted and ignored."""

from __future__ import annotations

from batchscore.errors import InputError

MLFLOW_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_ROWS_HINT = (
    "send a list of objects (feature → value), an object of columns (feature → list of values), "
    "or dataframe_split with its columns"
)


def records_of(payload: object) -> tuple[list[object], bool]:
    """(records, single): a bare record (single), a list of records, or an MLflow envelope.

    An object is an envelope when its keys are one MLflow key (and perhaps `params`); a record
    holds every feature of the model, so it is never mistaken for one.
    """
    if isinstance(payload, list):
        return payload, False
    if not isinstance(payload, dict):
        raise InputError("Send a JSON object of feature values, or a non-empty list of them.")
    keys = set(payload) - {"params"}
    found = keys & set(MLFLOW_KEYS)
    if len(found) > 1:
        raise InputError(f"Send one of {', '.join(sorted(found))}, not several.")
    if not found or keys != found:
        return [payload], True
    (key,) = found
    value = payload[key]
    if key == "dataframe_split":
        return _split(value), False
    if key == "dataframe_records" or isinstance(value, list):
        if not isinstance(value, list) or not all(isinstance(row, dict) for row in value):
            raise InputError(f"{key} must be a list of objects (feature → value); {_ROWS_HINT}.")
        return list(value), False
    if isinstance(value, dict):
        return _columns(key, value), False
    raise InputError(f"{key} must be a list or an object; {_ROWS_HINT}.")


def _split(value: object) -> list[object]:
    """pandas' orient="split": {"columns": [...], "data": [[...], ...]} (an "index" is ignored)."""
    if not isinstance(value, dict):
        raise InputError('dataframe_split must be an object with "columns" and "data".')
    columns, data = value.get("columns"), value.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InputError('dataframe_split needs "columns": the feature names, a list of strings.')
    if not isinstance(data, list) or not all(isinstance(row, list) for row in data):
        raise InputError('dataframe_split needs "data": a list of rows, each a list of values.')
    for number, row in enumerate(data, 1):
        if len(row) != len(columns):
            raise InputError(
                f"dataframe_split row {number} has {len(row)} values for {len(columns)} columns."
            )
    return [dict(zip(columns, row, strict=True)) for row in data]


def _columns(key: str, value: dict[str, object]) -> list[object]:
    """{"feature": [values…], …}: one record per position."""
    columns = {name: v for name, v in value.items() if isinstance(v, list)}
    lengths = {len(column) for column in columns.values()}
    if len(columns) != len(value) or len(lengths) != 1:
        raise InputError(
            f"{key} as an object must map each feature to a list of values, all as long."
        )
    (length,) = lengths
    return [{name: column[i] for name, column in columns.items()} for i in range(length)]

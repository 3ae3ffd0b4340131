"""Scores one chunk of raw CSV text: parses the features, predicts the good rows, explains the rest.

Vectorised throughout: a chunk is tens of thousands of rows, so there are no per-row loops.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

from batchscore.errors import ModelError
from batchscore.numbers import parse_floats
from model.registry import LoadedModel
from model.schema import check_columns

_MAX_SHOWN_CHARS = 40  # a cell quoted in an error message is cut to this length
_NON_FINITE_WORDS = ("nan", "inf", "infinity")

_Mask = npt.NDArray[np.bool_]
_Objects = npt.NDArray[np.object_]


@dataclass(frozen=True)
class Scored:
    """The result of scoring one chunk, aligned with the chunk's index."""

    predictions: pd.Series  # object dtype: str labels or Python floats; None for unscored rows
    errors: pd.Series  # object dtype: None for scored rows, else why the row was not scored


def predict_chunk(model: LoadedModel, frame: pd.DataFrame) -> Scored:
    """Score every row of `frame` whose features all parse as finite numbers.

    `frame` holds raw CSV text (str cells, '' when empty) with stripped column names; extra
    columns are ignored. Raises InputError if a feature column is missing and ModelError if
    the estimator fails.
    """
    info = model.info
    check_columns(info, list(frame.columns))
    row_count = len(frame)
    values: dict[str, npt.NDArray[np.float64]] = {}
    errors: _Objects = np.full(row_count, None, dtype=object)
    bad: _Mask = np.zeros(row_count, dtype=bool)
    for feature in info.features:
        values[feature], messages, feature_bad = _parse_feature(feature, frame[feature])
        errors = _joined(errors, bad, messages, feature_bad)
        bad |= feature_bad
    good = ~bad
    predictions: _Objects = np.full(row_count, None, dtype=object)
    if good.any():
        table = pd.DataFrame({feature: values[feature][good] for feature in info.features})
        predictions[good] = _predict(model, table)
    return Scored(
        predictions=pd.Series(predictions, index=frame.index, dtype=object),
        errors=pd.Series(errors, index=frame.index, dtype=object),
    )


def _parse_feature(feature: str, raw: pd.Series) -> tuple[npt.NDArray[np.float64], _Objects, _Mask]:
    """Return the column as floats, a message per bad cell (None elsewhere) and the bad mask."""
    numbers = parse_floats(raw)
    messages: _Objects = np.full(len(raw), None, dtype=object)
    failed = np.flatnonzero(~np.isfinite(numbers))
    if failed.size:
        # String methods are slow on python-backed str columns, so only failed cells get them.
        text = raw.iloc[failed].fillna("").astype(str).str.strip()
        numbers[failed] = parse_floats(text)
        still_bad = ~np.isfinite(numbers[failed])
        failed = failed[still_bad]
        messages[failed] = _messages(feature, text[still_bad], numbers[failed])
    return numbers, messages, ~np.isfinite(numbers)


def _messages(feature: str, text: pd.Series, numbers: npt.NDArray[np.float64]) -> _Objects:
    """Say why each of these stripped cells is not a usable number."""
    empty = (text == "").to_numpy(dtype=bool)
    spelled_non_finite = text.str.lower().str.lstrip("+-").isin(_NON_FINITE_WORDS)
    non_finite = ~empty & (np.isinf(numbers) | spelled_non_finite.to_numpy(dtype=bool))
    not_number = ~empty & ~non_finite
    shown = text.str.slice(0, _MAX_SHOWN_CHARS).to_numpy(dtype=object)
    messages: _Objects = np.full(len(text), None, dtype=object)
    messages[empty] = f"{feature} is empty"
    messages[non_finite] = f"{feature}: '" + shown[non_finite] + "' is not a finite number"
    messages[not_number] = f"{feature}: '" + shown[not_number] + "' is not a number"
    return messages


def _joined(errors: _Objects, bad: _Mask, messages: _Objects, feature_bad: _Mask) -> _Objects:
    """Append this feature's messages to the rows' earlier ones, '; '-separated."""
    both = bad & feature_bad
    first = ~bad & feature_bad
    errors[both] = errors[both] + "; " + messages[both]
    errors[first] = messages[first]
    return errors


def _predict(model: LoadedModel, table: pd.DataFrame) -> _Objects:
    """Predict in one call; labels become str and regression values Python floats."""
    estimator = model.estimator
    # Named columns only for estimators fitted with names: sklearn warns on any mismatch.
    features = table if hasattr(estimator, "feature_names_in_") else table.to_numpy()
    try:
        raw = np.asarray(estimator.predict(features))
    except Exception as exc:  # any failure inside the estimator is a model problem for the job
        info = model.info
        raise ModelError(f"Model {info.name} v{info.version} failed to predict: {exc}") from exc
    if raw.shape != (len(table),):
        raise ModelError(f"Model {model.info.name} returned predictions of shape {raw.shape}.")
    if model.info.task == "classification":
        return raw.astype(str).astype(object)
    return raw.astype(np.float64).astype(object)

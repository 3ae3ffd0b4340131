"""Scores one chunk of raw CSV text: parses the features, predicts the good rows, explains the rest.

Vectorised throughout: a chunk is tens of thousands of rows, so there are no per-row loops.
JSON records (the online predict route) go through the same estimator call, so a record
gets the label its CSV row would.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier

from batchscore.errors import InputError, ModelError
from batchscore.model.registry import LoadedModel, final_step
from batchscore.model.schema import check_columns
from batchscore.numbers import parse_floats

# Classifiers whose own predict() is the argmax of their predict_proba() (those model.train
# makes): for them one pass gives both, which halves the time of a one-record predict.
_ARGMAX_PREDICTORS = (LogisticRegression, RandomForestClassifier, SGDClassifier)
_MAX_SHOWN_CHARS = 40  # a cell quoted in an error message is cut to this length
_NON_FINITE_WORDS = ("nan", "inf", "infinity")

_Mask = npt.NDArray[np.bool_]
_Objects = npt.NDArray[np.object_]
_Inputs = pd.DataFrame | npt.NDArray[np.float64]


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
        matrix = np.column_stack([values[feature][good] for feature in info.features])
        predictions[good] = _predict(model, _inputs(model, matrix))
    return Scored(
        predictions=pd.Series(predictions, index=frame.index, dtype=object),
        errors=pd.Series(errors, index=frame.index, dtype=object),
    )


@dataclass(frozen=True)
class Prediction:
    """One record's prediction; class probabilities for a classifier that has them."""

    prediction: str | float
    probabilities: dict[str, float] | None


def predict_records(model: LoadedModel, records: Sequence[object]) -> list[Prediction]:
    """Score JSON records: objects holding every feature as a finite number (extra keys are
    ignored). The first bad record raises InputError saying which and why, so a program
    learns at once what to fix; `records` of length 1 are spoken of as "the record"."""
    info = model.info
    for position, record in enumerate(records, 1):
        where = "The record" if len(records) == 1 else f"Record {position}"
        if not isinstance(record, dict):
            raise InputError(f"{where} is not a JSON object of feature values.")
        missing = [feature for feature in info.features if feature not in record]
        if missing:
            raise InputError(
                f"{where} lacks {', '.join(missing)}. Model {info.name} v{info.version} needs: "
                f"{', '.join(info.features)}."
            )
        for feature in info.features:
            value = record[feature]
            if isinstance(value, bool) or not isinstance(value, int | float):
                shown = json.dumps(value)[:_MAX_SHOWN_CHARS]
                raise InputError(f"{where}: {feature} must be a number, not {shown}.")
            if not math.isfinite(value):
                raise InputError(f"{where}: {feature} must be a finite number, not {value}.")
    matrix = np.array(
        [[record[f] for f in info.features] for record in records],  # type: ignore[index]
        dtype=np.float64,
    )
    inputs = _inputs(model, matrix)
    probabilities = _probabilities(model, inputs)
    if probabilities is not None and isinstance(final_step(model.estimator), _ARGMAX_PREDICTORS):
        labels = (
            np.asarray(model.estimator.classes_)[probabilities.argmax(axis=1)].astype(str).tolist()
        )
    else:
        labels = _predict(model, inputs)
    if probabilities is None:
        return [Prediction(label, None) for label in labels]
    classes = [str(c) for c in model.estimator.classes_]
    return [
        Prediction(label, dict(zip(classes, row, strict=True)))
        for label, row in zip(labels, probabilities.tolist(), strict=True)
    ]


def _probabilities(model: LoadedModel, inputs: _Inputs) -> npt.NDArray[np.float64] | None:
    estimator = model.estimator
    if model.info.task != "classification" or not hasattr(estimator, "predict_proba"):
        return None
    try:
        with _validated():
            raw = np.asarray(estimator.predict_proba(inputs), dtype=np.float64)
    except Exception as exc:
        info = model.info
        raise ModelError(f"Model {info.name} v{info.version} failed to predict: {exc}") from exc
    return raw


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


def _predict(model: LoadedModel, inputs: _Inputs) -> _Objects:
    """Predict in one call; labels become str and regression values Python floats."""
    estimator = model.estimator
    try:
        with _validated():
            raw = np.asarray(estimator.predict(inputs))
    except Exception as exc:  # any failure inside the estimator is a model problem for the job
        info = model.info
        raise ModelError(f"Model {info.name} v{info.version} failed to predict: {exc}") from exc
    if raw.shape != (len(inputs),):
        raise ModelError(f"Model {model.info.name} returned predictions of shape {raw.shape}.")
    if model.info.task == "classification":
        return raw.astype(str).astype(object)
    return raw.astype(np.float64).astype(object)


def _validated() -> AbstractContextManager[None]:
    """Every value reaching the estimator was checked finite here: skip sklearn's own checks."""
    context: AbstractContextManager[None] = sklearn.config_context(
        assume_finite=True, skip_parameter_validation=True
    )
    return context


def _inputs(model: LoadedModel, matrix: npt.NDArray[np.float64]) -> _Inputs:
    """The feature matrix, named only for estimators fitted with names: sklearn warns on any
    mismatch, and checking names costs more than scoring one record."""
    if hasattr(model.estimator, "feature_names_in_"):
        return pd.DataFrame(matrix, columns=list(model.info.features))
    return matrix

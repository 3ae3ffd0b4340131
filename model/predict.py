"""Scores one chunk of raw CSV text: parses the features, predicts the good rows, explains the rest.

Each feature is read as its kind (model.json): numbers with a vectorised parse, text as it is,
booleans from true/false; an empty cell goes to the model as missing where it fills those in.
Vectorised throughout: a chunk is tens of thousands of rows, so there are no per-row loops.
JSON records (the online predict route) go through the same estimator calls, so a record
gets the label and probabilities its CSV row would.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import sklearn
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression, SGDClassifier

from batchscore.errors import InputError, ModelError
from batchscore.model.metadata import ModelInfo
from batchscore.model.registry import LoadedModel, final_step
from batchscore.model.schema import feature_columns
from batchscore.numbers import parse_floats

# Classifiers whose own predict() is the argmax of their predict_proba() (those model.train
# makes): for them one pass gives both, which halves the time of a one-record predict.
_ARGMAX_PREDICTORS = (LogisticRegression, RandomForestClassifier, SGDClassifier)
_MAX_SHOWN_CHARS = 40  # a cell quoted in an error message is cut to this length
_NON_FINITE_WORDS = ("nan", "inf", "infinity")

logger = logging.getLogger(__name__)
_Mask = npt.NDArray[np.bool_]
_Objects = npt.NDArray[np.object_]
_Inputs = pd.DataFrame | npt.NDArray[Any]


@dataclass(frozen=True)
class Scored:
    """The result of scoring one chunk, aligned with the chunk's index."""

    predictions: pd.Series  # object dtype: str labels or Python floats; None for unscored rows
    errors: pd.Series  # object dtype: None for scored rows, else why the row was not scored
    # A classifier's probability of each class (columns: info.classes), NaN for unscored rows;
    # None when the model gives no probabilities (a regressor, or a classifier without them).
    probabilities: pd.DataFrame | None = None


@dataclass
class _Column:
    """One feature's cells as the estimator takes them, and which of them it cannot take."""

    values: npt.NDArray[Any]  # float64 for numbers; object (str/bool, NaN = missing) otherwise
    messages: _Objects  # why a cell is unusable, None elsewhere
    bad: _Mask
    empty: _Mask  # empty cells passed on as missing (the model fills them in)


def predict_chunk(model: LoadedModel, frame: pd.DataFrame, decimal: str = ".") -> Scored:
    """Score every row of `frame` whose features the model can take.

    `frame` holds raw CSV text (str cells, '' when empty) with stripped column names; extra
    columns are ignored. Number features must parse as finite numbers; an empty cell reaches
    the model as missing where it fills them in (missing_allowed), and is a row error
    elsewhere. `decimal` is the file's decimal mark ("," for "5,1"). Raises InputError if a
    feature column is missing and ModelError if the estimator fails.
    """
    info = model.info
    found = feature_columns(info, list(frame.columns))
    row_count = len(frame)
    columns: dict[str, _Column] = {}
    errors: _Objects = np.full(row_count, None, dtype=object)
    gaps: _Objects = np.full(row_count, None, dtype=object)  # the empty cells passed on, named
    bad: _Mask = np.zeros(row_count, dtype=bool)
    gapped: _Mask = np.zeros(row_count, dtype=bool)
    for feature in info.features:
        column = columns[feature] = _parse_cells(info, feature, frame[found[feature]], decimal)
        errors = _joined(errors, bad, column.messages, column.bad)
        bad |= column.bad
        gaps = _joined(gaps, gapped, _named(feature, column.empty), column.empty)
        gapped |= column.empty
    good = ~bad
    try:
        labels, probabilities = _score_rows(model, columns, good)
    except ModelError as exc:
        with_gaps = good & gapped
        if not with_gaps.any():
            raise
        # The model could not take the empty cells after all: score the complete rows.
        logger.warning("Model %s v%s refused empty cells: %s", info.name, info.version, exc)
        errors[with_gaps] = gaps[with_gaps] + f" (model {info.name} cannot fill it in)"
        good &= ~with_gaps
        labels, probabilities = _score_rows(model, columns, good)
    overflowed = _overflowed(labels, probabilities)
    if overflowed.any():
        scored_rows = np.flatnonzero(good)[overflowed]
        errors[scored_rows] = _OVERFLOW
        good[scored_rows] = False
        labels = labels[~overflowed]
        probabilities = None if probabilities is None else probabilities[~overflowed]
    predictions: _Objects = np.full(row_count, None, dtype=object)
    predictions[good] = labels
    table = None
    if probabilities is not None:
        full = np.full((row_count, probabilities.shape[1]), np.nan)
        full[good] = probabilities
        table = pd.DataFrame(full, index=frame.index, columns=list(info.classes or ()))
    return Scored(
        predictions=pd.Series(predictions, index=frame.index, dtype=object),
        errors=pd.Series(errors, index=frame.index, dtype=object),
        probabilities=table,
    )


def predicted_probability(scored: Scored) -> pd.Series:
    """Each row's probability of the class it was given (NaN for unscored rows): what people
    rank churn or lead scores by."""
    assert scored.probabilities is not None
    table = scored.probabilities
    classes = pd.Categorical(scored.predictions, categories=list(table.columns))
    codes = np.asarray(classes.codes)
    picked = np.full(len(table), np.nan)
    rows = np.flatnonzero(codes >= 0)
    picked[rows] = table.to_numpy()[rows, codes[rows]]
    return pd.Series(picked, index=table.index)


@dataclass(frozen=True)
class Prediction:
    """One record's prediction; class probabilities for a classifier that has them."""

    prediction: str | float
    probabilities: dict[str, float] | None


def predict_records(model: LoadedModel, records: Sequence[object]) -> list[Prediction]:
    """Score JSON records: objects holding every feature (extra keys are ignored) as a finite
    number, a string for a text feature, true/false for a boolean one, or null where the model
    fills in missing values. The first bad record raises InputError saying which and why, so a
    program learns at once what to fix; `records` of length 1 are spoken of as "the record"."""
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
            _check_value(info, feature, record[feature], where)
    columns = {
        feature: _record_values(info, feature, [r[feature] for r in records])  # type: ignore[index]
        for feature in info.features
    }
    labels, probabilities = _score(model, _inputs(model, columns))
    overflowed = _overflowed(labels, probabilities)
    if overflowed.any():
        where = "The record" if len(records) == 1 else f"Record {int(overflowed.argmax()) + 1}"
        raise InputError(f"{where}: {_OVERFLOW}.")
    if probabilities is None:
        return [Prediction(label, None) for label in labels.tolist()]
    classes = list(info.classes or ())
    return [
        Prediction(label, dict(zip(classes, row, strict=True)))
        for label, row in zip(labels.tolist(), probabilities.tolist(), strict=True)
    ]


def scored_records(info: ModelInfo, scored: Scored) -> list[Prediction]:
    """A scored table as predict answers it: every row scored, or InputError naming the first
    row that is not ("Record 3: …", counted from 1 after the header, as for JSON records)."""
    errors = scored.errors.to_numpy()
    bad = np.flatnonzero(pd.notna(errors))
    if bad.size:
        where = "The record" if len(errors) == 1 else f"Record {int(bad[0]) + 1}"
        raise InputError(f"{where}: {errors[bad[0]]}.")
    labels = scored.predictions.tolist()
    if scored.probabilities is None:
        return [Prediction(label, None) for label in labels]
    classes = list(info.classes or ())
    rows = scored.probabilities.to_numpy().tolist()
    return [
        Prediction(label, dict(zip(classes, row, strict=True)))
        for label, row in zip(labels, rows, strict=True)
    ]


_JSON_KINDS = {"number": "a number", "text": "a string", "boolean": "true or false"}


def _check_value(info: ModelInfo, feature: str, value: object, where: str) -> None:
    kind = info.kind_of(feature)
    if value is None:
        if feature in info.missing_allowed:
            return
        raise InputError(
            f"{where}: {feature} must be {_JSON_KINDS[kind]}, not null: model {info.name} "
            "cannot fill in a missing value for it."
        )
    if kind == "text":
        ok = isinstance(value, str)
    elif kind == "boolean":
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and not math.isfinite(value):  # type: ignore[arg-type]
            raise InputError(f"{where}: {feature} must be a finite number, not {value}.")
    if not ok:
        shown = json.dumps(value)[:_MAX_SHOWN_CHARS]
        raise InputError(f"{where}: {feature} must be {_JSON_KINDS[kind]}, not {shown}.")


def _record_values(info: ModelInfo, feature: str, values: list[object]) -> npt.NDArray[Any]:
    if info.kind_of(feature) == "number":
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    return np.array([np.nan if v is None else v for v in values], dtype=object)


_OVERFLOW = (
    "the model's result for these values is not a finite number (its arithmetic overflowed): "
    "check that the features are in their usual range"
)


def _overflowed(
    labels: _Objects, probabilities: npt.NDArray[np.float64] | None
) -> npt.NDArray[np.bool_]:
    """Rows whose result is NaN or infinite: huge inputs overflow a model's arithmetic, and an
    argmax over NaN would still name a class."""
    if probabilities is not None:
        return np.asarray(~np.isfinite(probabilities).all(axis=1), dtype=bool)
    if labels.size and isinstance(labels[0], float):
        return ~np.isfinite(labels.astype(np.float64))
    return np.zeros(len(labels), dtype=bool)


def _score_rows(
    model: LoadedModel, columns: dict[str, _Column], rows: _Mask
) -> tuple[_Objects, npt.NDArray[np.float64] | None]:
    if not rows.any():
        count = _probability_count(model)
        return np.empty(0, dtype=object), None if count is None else np.empty((0, count))
    inputs = _inputs(model, {name: column.values[rows] for name, column in columns.items()})
    return _score(model, inputs)


def gives_probabilities(model: LoadedModel) -> bool:
    """Whether the model is a classifier that gives class probabilities."""
    return model.info.task == "classification" and hasattr(model.estimator, "predict_proba")


def _probability_count(model: LoadedModel) -> int | None:
    return len(model.info.classes or ()) if gives_probabilities(model) else None


def _score(model: LoadedModel, inputs: _Inputs) -> tuple[_Objects, npt.NDArray[np.float64] | None]:
    """Labels (or values) and class probabilities, in as few estimator calls as it allows."""
    probabilities = _probabilities(model, inputs)
    if probabilities is not None and isinstance(final_step(model.estimator), _ARGMAX_PREDICTORS):
        classes = np.asarray(model.info.classes, dtype=object)
        return classes[probabilities.argmax(axis=1)], probabilities
    return _predict(model, inputs), probabilities


def _probabilities(model: LoadedModel, inputs: _Inputs) -> npt.NDArray[np.float64] | None:
    if _probability_count(model) is None:
        return None
    try:
        with _validated():
            raw = np.asarray(model.estimator.predict_proba(inputs), dtype=np.float64)
    except Exception as exc:
        info = model.info
        raise ModelError(f"Model {info.name} v{info.version} failed to predict: {exc}") from exc
    return raw


def _parse_cells(info: ModelInfo, feature: str, raw: pd.Series, decimal: str) -> _Column:
    kind = info.kind_of(feature)
    if kind == "number":
        column = _parse_numbers(feature, raw, decimal)
    else:
        column = _parse_labels(feature, raw, boolean=kind == "boolean")
    if feature in info.missing_allowed:
        column.empty = column.bad & (column.messages == f"{feature} is empty")
        column.bad &= ~column.empty
        column.messages[column.empty] = None
    return column


def _named(feature: str, empty: _Mask) -> _Objects:
    messages: _Objects = np.full(len(empty), None, dtype=object)
    messages[empty] = f"{feature} is empty"
    return messages


def _parse_numbers(feature: str, raw: pd.Series, decimal: str) -> _Column:
    """The column as floats (NaN where unusable), with a message per bad cell."""
    numbers = parse_floats(raw, decimal)
    messages: _Objects = np.full(len(raw), None, dtype=object)
    failed = np.flatnonzero(~np.isfinite(numbers))
    if failed.size:
        # String methods are slow on python-backed str columns, so only failed cells get them.
        text = raw.iloc[failed].fillna("").astype(str).str.strip()
        numbers[failed] = parse_floats(text, decimal)
        still_bad = ~np.isfinite(numbers[failed])
        failed = failed[still_bad]
        messages[failed] = _messages(feature, text[still_bad], numbers[failed], decimal)
    bad = ~np.isfinite(numbers)
    numbers[bad] = np.nan  # an infinity that is a row error must not reach the model
    return _Column(numbers, messages, bad, np.zeros(len(raw), dtype=bool))


_TRUE_WORDS = ("true", "yes", "1", "1.0")
_FALSE_WORDS = ("false", "no", "0", "0.0")


def _parse_labels(feature: str, raw: pd.Series, *, boolean: bool) -> _Column:
    """Text cells as the model's categories take them: unchanged, NaN when blank; or booleans
    from true/false, yes/no, 1/0 (any case)."""
    text = raw.fillna("").astype(str)
    blank = (text.str.strip() == "").to_numpy(dtype=bool)
    values: _Objects = text.to_numpy(dtype=object, copy=True)
    messages: _Objects = np.full(len(raw), None, dtype=object)
    bad = blank.copy()
    messages[blank] = f"{feature} is empty"
    if boolean:
        words = text.str.strip().str.lower()
        true, false = words.isin(_TRUE_WORDS).to_numpy(), words.isin(_FALSE_WORDS).to_numpy()
        neither = ~true & ~false & ~blank
        values[true], values[false] = True, False
        shown = text.str.slice(0, _MAX_SHOWN_CHARS).to_numpy(dtype=object)
        messages[neither] = f"{feature}: '" + shown[neither] + "' is not true or false"
        bad |= neither
    values[bad] = np.nan
    return _Column(values, messages, bad, np.zeros(len(raw), dtype=bool))


def _messages(
    feature: str, text: pd.Series, numbers: npt.NDArray[np.float64], decimal: str
) -> _Objects:
    """Say why each of these stripped cells is not a usable number; in a decimal-comma file,
    that a number written with a decimal point is the other format (5.1 could mean 51)."""
    empty = (text == "").to_numpy(dtype=bool)
    spelled_non_finite = text.str.lower().str.lstrip("+-").isin(_NON_FINITE_WORDS)
    non_finite = ~empty & (np.isinf(numbers) | spelled_non_finite.to_numpy(dtype=bool))
    not_number = ~empty & ~non_finite
    shown = text.str.slice(0, _MAX_SHOWN_CHARS).to_numpy(dtype=object)
    messages: _Objects = np.full(len(text), None, dtype=object)
    messages[empty] = f"{feature} is empty"
    messages[non_finite] = f"{feature}: '" + shown[non_finite] + "' is not a finite number"
    messages[not_number] = f"{feature}: '" + shown[not_number] + "' is not a number"
    if decimal == ",":
        pointed = not_number & np.isfinite(parse_floats(text))
        messages[pointed] = (
            f"{feature}: '" + shown[pointed] + "' has a decimal point, but this file writes "
            "numbers with a decimal comma (5,1)"
        )
    return messages


def _joined(errors: _Objects, bad: _Mask, messages: _Objects, feature_bad: _Mask) -> _Objects:
    """Append this feature's messages to the rows' earlier ones, '; '-separated."""
    both = bad & feature_bad
    first = ~bad & feature_bad
    errors[both] = errors[both] + "; " + messages[both]
    errors[first] = messages[first]
    return errors


def _predict(model: LoadedModel, inputs: _Inputs) -> _Objects:
    """Predict in one call; labels become the model's class names, values Python floats."""
    estimator, info = model.estimator, model.info
    try:
        with _validated():
            raw = np.asarray(estimator.predict(inputs))
    except Exception as exc:  # any failure inside the estimator is a model problem for the job
        raise ModelError(f"Model {info.name} v{info.version} failed to predict: {exc}") from exc
    if raw.shape != (len(inputs),):
        raise ModelError(f"Model {info.name} returned predictions of shape {raw.shape}.")
    if info.task != "classification":
        return raw.astype(np.float64).astype(object)
    labels = raw.astype(str).astype(object)
    fitted = [str(label) for label in getattr(estimator, "classes_", ())]
    if info.classes is None or tuple(fitted) == info.classes:
        return labels
    names = dict(zip(fitted, info.classes, strict=True))  # class names given at import
    return np.array([names.get(label, label) for label in labels.tolist()], dtype=object)


@contextmanager
def _validated() -> Iterator[None]:
    """Every value reaching the estimator was checked here (finite, or NaN where the model
    fills it in): skip sklearn's own checks. A model's arithmetic may still overflow on huge
    values; its NaN or infinite results are caught afterwards (_overflowed), so NumPy need not
    warn of them."""
    with (
        sklearn.config_context(assume_finite=True, skip_parameter_validation=True),
        np.errstate(over="ignore", invalid="ignore", divide="ignore"),
    ):
        yield


def _inputs(model: LoadedModel, columns: dict[str, npt.NDArray[Any]]) -> _Inputs:
    """The features as the estimator was fitted on them: a frame with its column names, else
    a bare matrix (sklearn warns on names it did not see, and checking names costs more than
    scoring one record)."""
    features = model.info.features
    if hasattr(model.estimator, "feature_names_in_"):
        return pd.DataFrame({feature: columns[feature] for feature in features}, copy=False)
    kinds = {columns[feature].dtype for feature in features}
    dtype = np.float64 if kinds == {np.dtype(np.float64)} else object
    return np.column_stack([columns[feature].astype(dtype) for feature in features])

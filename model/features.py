"""What a fitted estimator expects of each feature: its kind, and whether a cell may be empty.

Read from the estimator itself, so an imported pipeline needs no hand-written metadata: a
column an encoder learnt text categories for is text, one that reaches an imputer (or an
estimator that takes NaN, such as HistGradientBoosting) may be missing. Anything this walk
does not understand is taken the strict way (a number that must be present); model.predict
then still scores every complete row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.impute import KNNImputer, SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, TargetEncoder
from sklearn.utils import get_tags

_IMPUTERS: tuple[type, ...] = (SimpleImputer, KNNImputer)
_CONSUME_NAN: tuple[type, ...] = (*_IMPUTERS, OneHotEncoder)  # no NaN comes out of them
_ENCODERS: tuple[type, ...] = (OneHotEncoder, OrdinalEncoder, TargetEncoder)


@dataclass(frozen=True)
class Expected:
    """Per feature, in the order given."""

    kinds: tuple[str, ...]  #: "number", "text" or "boolean" (metadata.KINDS)
    missing_allowed: frozenset[str]  #: features the estimator fills in itself when empty


def expected(estimator: BaseEstimator, features: Sequence[str]) -> Expected:
    """What `estimator`, fitted on columns `features`, expects of each of them."""
    kinds, nan_ok = {}, set()
    for position, feature in enumerate(features):
        steps = _route(estimator, feature, position)
        kinds[feature] = _kind(steps)
        if _fills_missing(steps):
            nan_ok.add(feature)
    return Expected(tuple(kinds[f] for f in features), frozenset(nan_ok))


# A route is the list of (step, column position within that step's input) a feature passes
# through, from the first step to the final estimator.
_Route = list[tuple[object, int | None]]


def _route(estimator: object, feature: str, position: int | None) -> _Route:
    """The steps one input column passes through, as far as this module can follow it."""
    if isinstance(estimator, Pipeline):
        steps = [step for _, step in estimator.steps if step not in (None, "passthrough")]
        if not steps:
            return []
        route = _route(steps[0], feature, position)
        # After the first step the column is transformed: later steps see it by value only.
        return route + [(step, None) for step in steps[1:]]
    if isinstance(estimator, ColumnTransformer):
        for transformer, columns in _column_groups(estimator):
            if feature in columns:
                if transformer == "drop":
                    return [("drop", None)]
                inner = columns.index(feature)
                if transformer == "passthrough":
                    return [("passthrough", inner)]
                return _route(transformer, feature, inner)
        return [("unknown", None)]
    return [(estimator, position)]


def _column_groups(transformer: ColumnTransformer) -> list[tuple[object, list[str]]]:
    """(fitted transformer, the names of its input columns) for each group, remainder too."""
    names = [str(n) for n in getattr(transformer, "feature_names_in_", [])]
    groups = []
    for _, fitted, columns in getattr(transformer, "transformers_", []):
        if isinstance(columns, str):
            columns = [columns]
        listed = list(np.asarray(columns).ravel()) if not callable(columns) else []
        if listed and all(isinstance(c, (int, np.integer)) for c in listed) and names:
            listed = [names[int(c)] for c in listed]
        groups.append((fitted, [str(c) for c in listed]))
    return groups


def _kind(route: _Route) -> str:
    """text or boolean where the first step that learnt values from the column says so."""
    for step, column in route:
        if column is None:
            break
        learnt = _learnt_values(step, column)
        if learnt is not None:
            if learnt.dtype == np.bool_ or _is_boolean(learnt):
                return "boolean"
            return "text" if learnt.dtype.kind in "OUS" else "number"
    return "number"


def _learnt_values(step: object, column: int) -> np.ndarray | None:
    if isinstance(step, _ENCODERS):
        categories = getattr(step, "categories_", None)
        return None if categories is None else np.asarray(categories[column])
    if isinstance(step, SimpleImputer):
        statistics = getattr(step, "statistics_", None)
        return None if statistics is None else np.asarray(statistics[column : column + 1])
    return None


def _is_boolean(values: np.ndarray) -> bool:
    present = [v for v in values.tolist() if v == v]  # NaN is missing, not a category
    return bool(present) and all(isinstance(v, bool | np.bool_) for v in present)


def _fills_missing(route: _Route) -> bool:
    """Whether an empty cell (NaN) in this column is handled before or by the final estimator.

    An imputer or an encoder consumes it; a step that lets NaN through (a scaler, say) hands it
    on; the final estimator must take NaN itself.
    """
    for step, _ in route:
        if step == "drop":
            return True  # the column is not used at all
        if step == "unknown":
            return False
        if step == "passthrough":
            continue
        if isinstance(step, _CONSUME_NAN):
            return True
        if not _allows_nan(step):
            return False
    return bool(route)  # every step, the final estimator too, lets NaN through


def _allows_nan(step: object) -> bool:
    try:
        return bool(get_tags(step).input_tags.allow_nan)
    except Exception:  # not a scikit-learn estimator: assume the strict way
        return False

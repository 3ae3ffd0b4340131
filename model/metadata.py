"""model.json: what a model version is (ModelInfo), and the checks its content must pass."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

from batchscore.errors import BatchscoreError, ModelError

TASKS = ("classification", "regression")
ESTIMATOR_NAMES = ("linear", "forest", "sgd")  # what model.train can fit for either task
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")  # also keeps paths out of names

_T = TypeVar("_T")


@dataclass(frozen=True)
class ModelInfo:
    """What model.json says about one model version."""

    name: str
    version: int
    task: str  # "classification" or "regression"
    features: tuple[str, ...]  # input column names, in the order the estimator expects
    target: str  # the column the model predicts
    classes: tuple[str, ...] | None  # class labels as strings; None for regressors
    metrics: dict[str, float]  # held-out scores, e.g. {"accuracy": 0.97}
    created_at: str  # ISO 8601, UTC
    training_rows: int  # rows in the training table, before any held-out split
    training_data_sha256: str  # of the training table's bytes
    sklearn_version: str  # scikit-learn version that fitted the estimator

    def to_json(self) -> dict[str, object]:
        """Return the model.json content (lists instead of tuples)."""
        return {
            "name": self.name,
            "version": self.version,
            "task": self.task,
            "features": list(self.features),
            "target": self.target,
            "classes": None if self.classes is None else list(self.classes),
            "metrics": dict(self.metrics),
            "created_at": self.created_at,
            "training_rows": self.training_rows,
            "training_data_sha256": self.training_data_sha256,
            "sklearn_version": self.sklearn_version,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ModelInfo:
        """Build from model.json content; ModelError names the first bad or missing field."""
        if not isinstance(data, dict):
            raise ModelError("it must hold a JSON object")
        task = _field(data, "task", str)
        if task not in TASKS:
            raise ModelError(f"field 'task' must be one of {', '.join(TASKS)}")
        return cls(
            name=checked_name(_field(data, "name", str)),
            version=_positive(data, "version", minimum=1),
            task=task,
            features=_features(_string_list(data, "features")),
            target=_field(data, "target", str),
            classes=_classes(data, task),
            metrics=_metrics(data),
            created_at=_field(data, "created_at", str),
            training_rows=_positive(data, "training_rows", minimum=0),
            training_data_sha256=_field(data, "training_data_sha256", str),
            sklearn_version=_field(data, "sklearn_version", str),
        )


def checked_name(name: str, error: type[BatchscoreError] = ModelError) -> str:
    """The name, if it is a valid model name; `error` otherwise (InputError for a request's)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise error(
            f"Invalid model name {name!r}: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit."
        )
    return name


def _field(data: dict[str, object], key: str, kind: type[_T]) -> _T:
    if key not in data:
        raise ModelError(f"field '{key}' is missing")
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ModelError(
            f"field '{key}' must be of type {kind.__name__}, not {type(value).__name__}"
        )
    return value


def _positive(data: dict[str, object], key: str, *, minimum: int) -> int:
    value = _field(data, key, int)
    if value < minimum:
        raise ModelError(f"field '{key}' must be at least {minimum}")
    return value


def _string_list(data: dict[str, object], key: str) -> tuple[str, ...]:
    values = _field(data, key, list)
    if not all(isinstance(value, str) for value in values):
        raise ModelError(f"field '{key}' must be a list of strings")
    return tuple(values)


def _features(features: tuple[str, ...]) -> tuple[str, ...]:
    if not features:
        raise ModelError("field 'features' must name at least one column")
    if len(set(features)) != len(features):
        raise ModelError("field 'features' names a column twice")
    if any(not feature or feature != feature.strip() for feature in features):
        raise ModelError("field 'features' has an empty name or one with surrounding spaces")
    return features


def _classes(data: dict[str, object], task: str) -> tuple[str, ...] | None:
    if task == "regression":
        if data.get("classes") is not None:
            raise ModelError("field 'classes' must be null for a regression model")
        return None
    classes = _string_list(data, "classes")
    if not classes:
        raise ModelError("field 'classes' must list at least one class")
    return classes


def _metrics(data: dict[str, object]) -> dict[str, float]:
    metrics = _field(data, "metrics", dict)
    for key, value in metrics.items():
        if (
            not isinstance(key, str)
            or isinstance(value, bool)
            or not isinstance(value, int | float)
        ):
            raise ModelError("field 'metrics' must map names to numbers")
    return {key: float(value) for key, value in metrics.items()}

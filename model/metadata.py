"""model.json: what a model version is (ModelInfo), and the checks its content must pass."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TypeVar

from batchscore.errors import BatchscoreError, ModelError

TASKS = ("classification", "regression")
KINDS = ("number", "text", "boolean")  # what a feature's cells must hold
# What the metrics were measured on: rows held out of the fit; rows held out, then the saved
# estimator refitted on every row; new rows scored before the model learnt them; nothing.
EVALUATIONS = ("holdout", "holdout_then_refit", "test_then_train", "none")
ESTIMATOR_NAMES = ("linear", "forest", "sgd")  # what model.train can fit for either task
HOLDOUT = 0.25  # the share of rows model.train holds out to measure a fit, unless told
MAX_HOLDOUT = 0.9
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
    metrics: dict[str, float]  # scores on rows the estimator had not seen, e.g. {"r2": 0.7}
    created_at: str  # ISO 8601, UTC
    training_rows: int  # rows the saved estimator was fitted on (0 if unknown: imported)
    training_data_sha256: str  # of the training table's bytes ('' if unknown)
    sklearn_version: str  # scikit-learn version that fitted the estimator
    kinds: tuple[str, ...] = ()  # one of KINDS per feature; () = every feature a number
    missing_allowed: frozenset[str] = frozenset()  # features the model imputes when empty
    evaluation: str = "holdout"  # one of EVALUATIONS: what `metrics` were measured on
    evaluation_rows: int = 0  # how many rows `metrics` were measured on
    source: str = "trained"  # "trained" here, or "imported from <file name>"
    note: str = ""  # the version note given at import
    created_by: str = ""  # the user who trained or imported it ('' = the operator, at the CLI)
    estimator: str = ""  # the final step's class, e.g. LogisticRegression ('' = not recorded)
    incremental: bool = False  # its final step learns new rows in place (partial_fit)

    def __post_init__(self) -> None:
        if not self.kinds:  # models saved before kinds existed take numbers only
            object.__setattr__(self, "kinds", ("number",) * len(self.features))

    def kind_of(self, feature: str) -> str:
        return self.kinds[self.features.index(feature)]

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
            "feature_kinds": list(self.kinds),
            "missing_allowed": [f for f in self.features if f in self.missing_allowed],
            "evaluation": self.evaluation,
            "evaluation_rows": self.evaluation_rows,
            "source": self.source,
            "note": self.note,
            "created_by": self.created_by,
            "estimator": self.estimator,
            "incremental": self.incremental,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ModelInfo:
        """Build from model.json content; ModelError names the first bad or missing field."""
        if not isinstance(data, dict):
            raise ModelError("it must hold a JSON object")
        task = _choice(data, "task", TASKS)
        features = _features(_string_list(data, "features"))
        return cls(
            name=checked_name(_field(data, "name", str)),
            version=_positive(data, "version", minimum=1),
            task=task,
            features=features,
            target=_field(data, "target", str),
            classes=_classes(data, task),
            metrics=_metrics(data),
            created_at=_field(data, "created_at", str),
            training_rows=_positive(data, "training_rows", minimum=0),
            training_data_sha256=_field(data, "training_data_sha256", str),
            sklearn_version=_field(data, "sklearn_version", str),
            # Optional: model.json files written before these fields existed lack them.
            kinds=_kinds(data, features),
            missing_allowed=frozenset(_subset(data, "missing_allowed", features)),
            evaluation=_choice(data, "evaluation", EVALUATIONS, default="holdout"),
            evaluation_rows=_positive(data, "evaluation_rows", minimum=0, default=0),
            source=_field(data, "source", str, default="trained"),
            note=_field(data, "note", str, default=""),
            created_by=_field(data, "created_by", str, default=""),
            estimator=_field(data, "estimator", str, default=""),
            incremental=_field(data, "incremental", bool, default=False),
        )


def checked_name(name: str, error: type[BatchscoreError] = ModelError) -> str:
    """The name, if it is a valid model name; `error` otherwise (InputError for a request's)."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise error(
            f"Invalid model name {name!r}: use 1-64 letters, digits, '_', '.' or '-', "
            "starting with a letter or digit."
        )
    return name


_REQUIRED: object = object()


def _field(data: dict[str, object], key: str, kind: type[_T], default: object = _REQUIRED) -> _T:
    if key not in data:
        if default is _REQUIRED:
            raise ModelError(f"field '{key}' is missing")
        return default  # type: ignore[return-value]
    value = data[key]
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ModelError(
            f"field '{key}' must be of type {kind.__name__}, not {type(value).__name__}"
        )
    return value


def _choice(
    data: dict[str, object], key: str, choices: tuple[str, ...], default: object = _REQUIRED
) -> str:
    value = _field(data, key, str, default)
    if value not in choices:
        raise ModelError(f"field '{key}' must be one of {', '.join(choices)}")
    return value


def _positive(
    data: dict[str, object], key: str, *, minimum: int, default: object = _REQUIRED
) -> int:
    value = _field(data, key, int, default)
    if value < minimum:
        raise ModelError(f"field '{key}' must be at least {minimum}")
    return value


def _string_list(data: dict[str, object], key: str, default: object = _REQUIRED) -> tuple[str, ...]:
    values = _field(data, key, list, default)
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


def _kinds(data: dict[str, object], features: tuple[str, ...]) -> tuple[str, ...]:
    kinds = _string_list(data, "feature_kinds", default=[])
    if not kinds:
        return ()
    if len(kinds) != len(features) or not set(kinds) <= set(KINDS):
        raise ModelError(
            f"field 'feature_kinds' must give one of {', '.join(KINDS)} for each feature"
        )
    return kinds


def _subset(data: dict[str, object], key: str, features: tuple[str, ...]) -> tuple[str, ...]:
    names = _string_list(data, key, default=[])
    unknown = [name for name in names if name not in features]
    if unknown:
        raise ModelError(f"field '{key}' names {', '.join(unknown)}, which are not features")
    return names


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

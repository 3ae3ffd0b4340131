"""Fits a new model version from a labelled table, from scratch or incrementally.

A table is raw CSV text (str cells) as the scheduler reads it; rows whose features or target
are unusable are skipped and counted, not guessed at. Every estimator is a scaler and a
scikit-learn model in a Pipeline, so a file saves and loads through the same trusted skops path.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import (
    LinearRegression,
    LogisticRegression,
    SGDClassifier,
    SGDRegressor,
)
from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from batchscore.errors import InputError, NotFound
from batchscore.model.drift import profile_of
from batchscore.model.metadata import (
    ESTIMATOR_NAMES,
    HOLDOUT,
    MAX_HOLDOUT,
    TASKS,
    ModelInfo,
)
from batchscore.model.registry import LoadedModel, final_step, load_model, save_model
from batchscore.numbers import parse_floats

DEMO_MODEL = "iris"
_IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
_IRIS_TARGET = "species"

ESTIMATORS: dict[str, dict[str, Callable[[], BaseEstimator]]] = {
    "classification": {
        "linear": lambda: LogisticRegression(max_iter=1000),
        "forest": lambda: RandomForestClassifier(n_estimators=100, random_state=0),
        "sgd": lambda: SGDClassifier(
            loss="log_loss", learning_rate="adaptive", eta0=0.01, random_state=0
        ),
    },
    "regression": {
        "linear": LinearRegression,
        "forest": lambda: RandomForestRegressor(n_estimators=100, random_state=0),
        "sgd": lambda: SGDRegressor(learning_rate="adaptive", random_state=0),
    },
}
assert all(tuple(choices) == ESTIMATOR_NAMES for choices in ESTIMATORS.values())
# sgd learns "adaptive"ly: the default rate decays with every row seen, so after training
# new rows would barely move it (measured: TV=50 sales 9.12 → 9.25 after 40 rows 30 % higher,
# against 9.12 → 10.07 adaptive, with the same held-out R²).
DEFAULT_ESTIMATOR = "linear"
MIN_ROWS = 10
# Columns with no header name (a row index a spreadsheet or pandas wrote), as the reader names
# them: never a feature unless asked for by name.
_UNNAMED = re.compile(r"column_[0-9]+|Unnamed: [0-9]+(_level_[0-9]+)?")
_SPLIT_SEED = 0
_MAX_CLASSES_OF_NUMBERS = 10  # an integer target with more distinct values is a quantity


@dataclass(frozen=True)
class TrainPlan:
    """What to train; None fields default to the current version's, then to the table's."""

    target: str | None = None
    features: tuple[str, ...] | None = None  # default: every other column
    task: str | None = None  # default: classification for labels, regression for quantities
    estimator: str = DEFAULT_ESTIMATOR
    activate: bool = False
    incremental: bool = False  # update the active version with partial_fit instead
    holdout: float = HOLDOUT  # share of rows held out to measure the fit; 0 = fit on all
    refit: bool = False  # after measuring on the holdout, fit the saved estimator on all rows
    created_by: str = ""  # who asked: the new version's created_by


@dataclass(frozen=True)
class Trained:
    info: ModelInfo
    rows_used: int  # rows with a usable target and features (fitted on, or held out)
    rows_skipped: int  # rows without a usable target or numeric features
    left_out: tuple[str, ...] = ()  # unnamed columns not taken as features


def check_plan(model_dir: Path, name: str, plan: TrainPlan, columns: tuple[str, ...]) -> None:
    """Refuse, before any work, a plan that cannot run on a table with these columns."""
    if plan.task is not None and plan.task not in TASKS:
        raise InputError(f"Unknown task {plan.task!r}; choose one of {', '.join(TASKS)}.")
    if plan.estimator not in ESTIMATOR_NAMES:
        known = ", ".join(ESTIMATOR_NAMES)
        raise InputError(f"Unknown estimator {plan.estimator!r}; choose one of {known}.")
    if not 0 <= plan.holdout <= MAX_HOLDOUT:
        raise InputError(
            f"holdout must be a share of the rows from 0 (fit on every row) to {MAX_HOLDOUT}, "
            f"not {plan.holdout}. The default, {HOLDOUT}, holds out a quarter."
        )
    if plan.refit and plan.holdout == 0:
        raise InputError("refit needs a holdout to measure on first; holdout is 0.")
    current = _current(model_dir, name)
    if plan.incremental:
        if current is None:
            raise NotFound(
                f"Model '{name}' does not exist yet, so there is nothing to update. "
                "Train it first (without incremental)."
            )
        _check_updatable(current)
    target, features = _columns(plan, current, columns)
    missing = [column for column in (target, *features) if column not in columns]
    if missing:
        raise InputError(
            f"The file lacks the column(s) {', '.join(missing)}. Its columns: {', '.join(columns)}."
        )


def train(
    model_dir: Path,
    name: str,
    table: pd.DataFrame,
    plan: TrainPlan,
    *,
    data_sha256: str,
    max_skipped_fraction: float = 1.0,
    before_save: Callable[[], None] = lambda: None,
    decimal: str = ".",
) -> Trained:
    """Fit and save a new version of `name` from `table`; its metrics are from unseen rows.

    From scratch, `plan.holdout` of the rows is held out for the metrics (and, with refit, the
    saved estimator then learns every row). Incrementally, the active version is scored on the
    new rows first, then learns them (test-then-train). InputError if more than
    `max_skipped_fraction` of the rows are unusable. `before_save` may raise to stop a version
    being saved (a job whose claim was lost). `decimal` is the table's decimal mark.
    """
    columns = tuple(str(column) for column in table.columns)
    check_plan(model_dir, name, plan, columns)
    current = _current(model_dir, name)
    target, features = _columns(plan, current, columns)
    left_out = tuple(c for c in columns if c not in features and c != target and _unnamed(c))
    x, x_ok = _feature_matrix(table, features, decimal)
    task = _task(plan, current, target, table[target], decimal)
    y, y_ok = _target_values(table[target], task, decimal)
    usable = x_ok & y_ok
    x, y = x[usable].reset_index(drop=True), y[usable]
    skipped = len(table) - len(y)
    if len(y) < MIN_ROWS:
        raise InputError(
            f"Training needs at least {MIN_ROWS} rows with a {target} and numeric "
            f"{', '.join(features)}; the file has {len(y)} such rows of {len(table)}."
        )
    if skipped / len(table) > max_skipped_fraction:
        raise InputError(
            f"{skipped:,} of {len(table):,} rows lack a {target} or a numeric "
            f"{', '.join(features)}: more than the {max_skipped_fraction:.0%} a job may leave "
            "out. Fix or remove them, then train again."
        )
    if plan.incremental:
        assert current is not None  # check_plan saw to it
        fitted = _update(current, x, y)
    else:
        fitted = _fit(task, plan, x, y)
    before_save()
    info = save_model(
        model_dir,
        name,
        fitted.estimator,
        task=task,
        features=features,
        target=target,
        metrics=fitted.metrics,
        training_rows=fitted.fitted_rows,
        training_data_sha256=data_sha256,
        evaluation=fitted.evaluation,
        evaluation_rows=fitted.evaluation_rows,
        created_by=plan.created_by,
        profile=profile_of(x),
        activate=plan.activate,
    )
    return Trained(info, rows_used=len(y), rows_skipped=skipped, left_out=left_out)


@dataclass(frozen=True)
class _Fitted:
    estimator: BaseEstimator
    metrics: dict[str, float]
    fitted_rows: int  #: rows the estimator learnt from (in this fit, for an update)
    evaluation: str  #: one of metadata.EVALUATIONS
    evaluation_rows: int


def _current(model_dir: Path, name: str) -> LoadedModel | None:
    try:
        return load_model(model_dir, name)
    except NotFound:
        return None


def _check_updatable(current: LoadedModel) -> None:
    final = final_step(current.estimator)
    if not hasattr(final, "partial_fit"):
        info = current.info
        raise InputError(
            f"Model {info.name} v{info.version} ({type(final).__name__}) cannot learn "
            "incrementally. Train a version with estimator=sgd first, or retrain from scratch."
        )


def _columns(
    plan: TrainPlan, current: LoadedModel | None, columns: tuple[str, ...]
) -> tuple[str, tuple[str, ...]]:
    """The target and feature columns: asked for, else the current version's, else the rest."""
    if plan.incremental and current is not None:
        return current.info.target, current.info.features
    target = plan.target or (current.info.target if current else None)
    if not target:
        raise InputError("Name the target column: the one holding the known answers.")
    features = plan.features or tuple(
        column for column in columns if column != target and not _unnamed(column)
    )
    if not features:
        raise InputError(f"The file has no columns besides the target {target}.")
    if target in features:
        raise InputError(f"{target} is the target; it cannot be a feature too.")
    return target, features


def _unnamed(column: str) -> bool:
    return _UNNAMED.fullmatch(column) is not None


def _feature_matrix(
    table: pd.DataFrame, features: tuple[str, ...], decimal: str
) -> tuple[pd.DataFrame, npt.NDArray[np.bool_]]:
    """Features as floats, and which rows have all of them finite."""
    x = pd.DataFrame({feature: parse_floats(table[feature], decimal) for feature in features})
    finite = np.isfinite(x.to_numpy())
    for position, feature in enumerate(features):
        if not finite[:, position].any():
            raise InputError(
                f"Column {feature} holds no numbers, so it cannot be a feature. "
                "Name the feature columns to use."
            )
    return x, np.asarray(finite.all(axis=1), dtype=np.bool_)


def _task(
    plan: TrainPlan, current: LoadedModel | None, target: str, values: pd.Series, decimal: str
) -> str:
    if plan.task:
        return plan.task
    if current is not None and current.info.target == target:
        return current.info.task
    numbers = parse_floats(values, decimal)
    filled = values.fillna("").astype(str).str.strip() != ""
    if not np.isfinite(numbers[filled.to_numpy()]).all():
        return "classification"  # text labels
    whole = np.all(numbers[np.isfinite(numbers)] % 1 == 0)
    few = len(np.unique(numbers[np.isfinite(numbers)])) <= _MAX_CLASSES_OF_NUMBERS
    return "classification" if whole and few else "regression"


def _target_values(
    values: pd.Series, task: str, decimal: str
) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.bool_]]:
    """Class labels as stripped text, or quantities as floats; and which rows have one."""
    if task == "regression":
        numbers = parse_floats(values, decimal)
        return numbers, np.isfinite(numbers)
    labels = values.fillna("").astype(str).str.strip().to_numpy(dtype=object)
    return labels, np.asarray(labels != "", dtype=np.bool_)


def _fit(task: str, plan: TrainPlan, x: pd.DataFrame, y: npt.NDArray[np.generic]) -> _Fitted:
    classes, counts = np.unique(y, return_counts=True)
    if task == "classification" and len(classes) < 2:
        raise InputError(f"Every row has the same class ({classes[0]}); a classifier needs two.")
    # Fitted on a bare array: model.predict always passes the features in info.features order,
    # and sklearn's per-call name checks would cost a single-record predict half its time.
    matrix = x.to_numpy()
    if plan.holdout == 0:
        return _Fitted(_fitted(task, plan, matrix, y), {}, len(y), "none", 0)
    stratify = y if task == "classification" and counts.min() >= 2 else None
    x_train, x_test, y_train, y_test = train_test_split(
        matrix, y, test_size=plan.holdout, stratify=stratify, random_state=_SPLIT_SEED
    )
    measured = _fitted(task, plan, x_train, y_train)
    metrics = _metrics(task, y_test, measured.predict(x_test))
    if plan.refit:
        return _Fitted(
            _fitted(task, plan, matrix, y), metrics, len(y), "holdout_then_refit", len(y_test)
        )
    return _Fitted(measured, metrics, len(y_train), "holdout", len(y_test))


def _fitted(
    task: str, plan: TrainPlan, x: npt.NDArray[np.float64], y: npt.NDArray[np.generic]
) -> BaseEstimator:
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("model", ESTIMATORS[task][plan.estimator]())]
    )
    return pipeline.fit(x, y)


def _update(current: LoadedModel, x: pd.DataFrame, y: npt.NDArray[np.generic]) -> _Fitted:
    """Score the new rows, then let the final step learn them; earlier steps stay as fitted.

    A copy is updated: the loaded estimator is shared with whatever is predicting right now.
    """
    estimator = copy.deepcopy(current.estimator)
    # Estimators fitted without names (saved by hand) warn when given them.
    transformed = x if hasattr(estimator, "feature_names_in_") else x.to_numpy()
    metrics = _metrics(current.info.task, y, estimator.predict(transformed))
    if isinstance(estimator, Pipeline):
        for _, step in estimator.steps[:-1]:
            transformed = step.transform(transformed)
    if current.info.task == "classification":
        unknown = sorted(set(y) - set(current.info.classes or ()))
        if unknown:
            raise InputError(
                f"The new rows hold classes model {current.info.name} does not know "
                f"({', '.join(map(str, unknown))}). Retrain it from scratch to add classes."
            )
    final_step(estimator).partial_fit(transformed, y)
    return _Fitted(estimator, metrics, len(y), "test_then_train", len(y))


def _metrics(
    task: str, truth: npt.NDArray[np.generic], predicted: npt.NDArray[np.generic]
) -> dict[str, float]:
    if task == "classification":
        return {
            "accuracy": float(accuracy_score(truth, predicted)),
            "f1_macro": float(f1_score(truth, predicted, average="macro")),
        }
    return {
        "r2": float(r2_score(truth, predicted)),
        "mae": float(mean_absolute_error(truth, predicted)),
    }


def train_demo_model(model_dir: Path) -> ModelInfo:
    """Train and save the iris demo model; return its active info.

    Idempotent: when 'iris' already has a version, that version is returned untouched.
    """
    try:
        return load_model(model_dir, DEMO_MODEL).info
    except NotFound:
        pass
    table = _iris_table()
    text = table.astype(str)
    plan = TrainPlan(target=_IRIS_TARGET, task="classification", activate=True)
    data = hashlib.sha256(_csv_bytes(table)).hexdigest()
    return train(model_dir, DEMO_MODEL, text, plan, data_sha256=data).info


def write_iris_csv(path: Path) -> None:
    """Write the 150 iris rows as CSV: the four features plus species.

    The bytes are those the demo model's training_data_sha256 was computed from.
    """
    path.write_bytes(_csv_bytes(_iris_table()))


def _iris_table() -> pd.DataFrame:
    iris = load_iris()
    table = pd.DataFrame(np.asarray(iris.data, dtype=np.float64), columns=list(_IRIS_FEATURES))
    table[_IRIS_TARGET] = np.asarray(iris.target_names)[iris.target].astype(str)
    return table


def _csv_bytes(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")

"""Fixtures for the model package: the loaded demo model, a model folder, fitted estimators.

`demo_model_dir` (trained once per session, read-only) comes from tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from batchscore.model.metadata import ModelInfo
from batchscore.model.registry import LoadedModel, load_model, save_model

IRIS_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")

SaveIris = Callable[..., ModelInfo]


@pytest.fixture
def iris_model(demo_model_dir: Path) -> LoadedModel:
    """The demo iris model, loaded fresh for each test."""
    return load_model(demo_model_dir, "iris")


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    """An empty, not yet created model folder of the test's own."""
    return tmp_path / "models"


@pytest.fixture
def iris_features() -> pd.DataFrame:
    """The 150 iris rows as floats, with the demo model's column names."""
    return pd.DataFrame(load_iris().data, columns=list(IRIS_FEATURES))


@pytest.fixture
def iris_classifier(iris_features: pd.DataFrame) -> BaseEstimator:
    """A small classifier fitted on named iris columns with string labels."""
    iris = load_iris()
    labels = np.asarray(iris.target_names)[iris.target]
    return LogisticRegression(max_iter=1000).fit(iris_features, labels)


@pytest.fixture
def save_iris(model_dir: Path, iris_classifier: BaseEstimator) -> SaveIris:
    """Save a classifier into `model_dir` with iris metadata; keywords override the defaults."""

    def save(
        name: str = "iris",
        estimator: BaseEstimator | None = None,
        features: tuple[str, ...] = IRIS_FEATURES,
        task: str = "classification",
        activate: bool = False,
    ) -> ModelInfo:
        return save_model(
            model_dir,
            name,
            iris_classifier if estimator is None else estimator,
            task=task,
            features=features,
            target="species",
            metrics={"accuracy": 0.95},
            training_rows=150,
            training_data_sha256="0" * 64,
            activate=activate,
        )

    return save

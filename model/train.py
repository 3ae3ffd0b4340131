"""Trains the demo iris model and writes the matching example CSV.

Uses only the iris data that ships with scikit-learn, so it works offline.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from batchscore.errors import NotFound
from model.metadata import ModelInfo
from model.registry import load_model, save_model

DEMO_MODEL = "iris"
_FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
_TARGET = "species"

_HELD_OUT_SHARE = 0.25
_SPLIT_SEED = 0


def train_demo_model(model_dir: Path) -> ModelInfo:
    """Train and save the iris demo model; return its latest info.

    Idempotent: when 'iris' already has a version, that version is returned untouched.
    """
    try:
        return load_model(model_dir, DEMO_MODEL).info
    except NotFound:
        pass
    table = _iris_table()
    features = table[list(_FEATURES)]
    target = table[_TARGET]
    x_train, x_test, y_train, y_test = train_test_split(
        features,
        target,
        test_size=_HELD_OUT_SHARE,
        stratify=target,
        random_state=_SPLIT_SEED,
    )
    pipeline = Pipeline(
        [("scale", StandardScaler()), ("classify", LogisticRegression(max_iter=1000))]
    )
    pipeline.fit(x_train, y_train)
    predicted = pipeline.predict(x_test)
    return save_model(
        model_dir,
        DEMO_MODEL,
        pipeline,
        task="classification",
        features=_FEATURES,
        target=_TARGET,
        metrics={
            "accuracy": float(accuracy_score(y_test, predicted)),
            "f1_macro": float(f1_score(y_test, predicted, average="macro")),
        },
        training_rows=len(table),
        training_data_sha256=hashlib.sha256(_csv_bytes(table)).hexdigest(),
    )


def write_iris_csv(path: Path) -> None:
    """Write the 150 iris rows as CSV: the four features plus species.

    The bytes are those the demo model's training_data_sha256 was computed from.
    """
    path.write_bytes(_csv_bytes(_iris_table()))


def _iris_table() -> pd.DataFrame:
    iris = load_iris()
    table = pd.DataFrame(np.asarray(iris.data, dtype=np.float64), columns=list(_FEATURES))
    table[_TARGET] = np.asarray(iris.target_names)[iris.target].astype(str)
    return table


def _csv_bytes(table: pd.DataFrame) -> bytes:
    return table.to_csv(index=False, lineterminator="\n").encode("utf-8")

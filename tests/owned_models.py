"""A model as a data scientist brings it: examples/train_churn.py's pipeline (text columns,
empty cells, HistGradientBoosting), fitted and saved by the real libraries (skops, MLflow).

tests/data/models/make_old_model.py runs this same code under an older scikit-learn.
"""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline

CHURN_FEATURES = ("age", "income", "region", "plan")


def churn_frame(rows: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Customers: two numbers and two text columns, with empty cells in three of them (~5 %
    of rows), and the known answer `churned` (yes/no)."""
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, rows).astype(float),
            "income": rng.normal(50, 15, rows).round(2),
            "region": rng.choice(["north", "south", "east", "west"], rows).astype(object),
            "plan": rng.choice(["basic", "pro"], rows).astype(object),
        }
    )
    score = frame["age"] / 80 + (frame["region"] == "south") * 0.5 + rng.random(rows)
    frame["churned"] = np.where(score > 1.0, "yes", "no")
    frame.loc[rng.random(rows) < 0.025, "income"] = np.nan
    frame.loc[rng.random(rows) < 0.02, "region"] = np.nan
    frame.loc[rng.random(rows) < 0.01, "age"] = np.nan
    return frame


def churn_pipeline(frame: pd.DataFrame, final: BaseEstimator | None = None) -> Pipeline:
    """examples/train_churn.py's pipeline (or one ending in `final`), fitted on `frame`."""
    pipeline = _example().churn_pipeline()
    if final is not None:
        pipeline.set_params(model=final)
    fitted: Pipeline = pipeline.fit(frame[list(CHURN_FEATURES)], frame["churned"])
    return fitted


def _example() -> ModuleType:
    path = Path(__file__).parents[1] / "examples" / "train_churn.py"
    spec = importlib.util.spec_from_file_location("train_churn", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """The features as pandas writes them (an empty cell for NaN), no index."""
    frame[list(CHURN_FEATURES)].to_csv(path, index=False)
    return path


def save_mlflow(pipeline: Pipeline, frame: pd.DataFrame, folder: Path, **options: object) -> Path:
    """mlflow.sklearn.save_model as a data scientist calls it: a signature inferred from the
    training frame. MLflow 3 writes skops, and needs the types skops does not trust named."""
    import mlflow.sklearn
    import skops.io
    from mlflow.models import infer_signature

    features = frame[list(CHURN_FEATURES)]
    trusted = skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))
    options.setdefault("skops_trusted_types", trusted)
    with warnings.catch_warnings():  # MLflow warns of its own type hints and of pickles
        warnings.simplefilter("ignore")
        signature = infer_signature(features, pipeline.predict(features))
        mlflow.sklearn.save_model(pipeline, folder, signature=signature, **options)
    return folder

"""Train a churn model the way a data scientist would, and save it for batchscore to import.

    .venv/bin/python examples/train_churn.py          # writes churn.skops here
    .venv/bin/batchscore model import churn.skops --name churn --activate

The pipeline fills in empty cells itself and one-hot encodes the text columns, so batchscore
passes text and empty cells straight to it. MLflow works too: see save_with_mlflow below.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import skops.io
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder

CUSTOMERS = Path(__file__).with_name("churn.csv")
FEATURES = ["age", "income", "region", "plan"]


def churn_pipeline() -> Pipeline:
    """Impute numbers with the median and text with the most frequent value, one-hot encode
    the text, then gradient boosting."""
    prepare = ColumnTransformer(
        [
            ("numbers", SimpleImputer(strategy="median"), ["age", "income"]),
            (
                "text",
                make_pipeline(
                    SimpleImputer(strategy="most_frequent"), OneHotEncoder(handle_unknown="ignore")
                ),
                ["region", "plan"],
            ),
        ]
    )
    return Pipeline(
        [("prepare", prepare), ("model", HistGradientBoostingClassifier(random_state=0))]
    )


def save_with_mlflow(pipeline: Pipeline, features: pd.DataFrame, folder: str) -> None:
    """The MLflow way (pip install mlflow-skinny): a folder batchscore imports as it is."""
    import mlflow.sklearn
    from mlflow.models import infer_signature

    mlflow.sklearn.save_model(
        pipeline,
        folder,
        signature=infer_signature(features, pipeline.predict(features)),
        skops_trusted_types=skops.io.get_untrusted_types(data=skops.io.dumps(pipeline)),
    )


def main() -> None:
    customers = pd.read_csv(CUSTOMERS)
    features, answers = customers[FEATURES], customers["churned"]
    pipeline = churn_pipeline().fit(features, answers)
    skops.io.dump(pipeline, "churn.skops")
    print(f"Trained on {len(customers):,} customers; saved churn.skops", file=sys.stderr)


if __name__ == "__main__":
    main()

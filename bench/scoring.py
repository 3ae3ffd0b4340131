"""What scoring a chunk costs beyond the estimator itself, for a numbers-only model and for an
imported pipeline with text columns and empty cells.

For each case it times, on the same 20,000-row chunk of raw CSV text, in the same run:

  (a) floor       the estimator's own predict() and predict_proba() on a frame already typed
                  (what the model costs, whoever calls it)
  (b) pandas way  pd.read_csv of the chunk's text, then predict() and predict_proba(): what a
                  hand-written script (or MLflow's scoring server) does
  (c) batchscore  model.predict.predict_chunk on the chunk as the reader hands it over (str
                  cells), which parses each feature as its kind and explains unusable rows

and prints median wall and CPU seconds over the repeats and the ratios c/a and c/b.

    .venv/bin/python bench/scoring.py [--rows 20000] [--repeats 7]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingClassifier

sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))
from owned_models import CHURN_FEATURES, churn_frame, churn_pipeline

from batchscore.model.importing import ImportPlan, import_model
from batchscore.model.predict import predict_chunk
from batchscore.model.registry import LoadedModel, load_model, save_model


def timed(work: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Median wall and CPU seconds of `work`."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        work()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return statistics.median(walls), statistics.median(cpus)


def numbers_case(model_dir: Path, rows: int) -> tuple[LoadedModel, pd.DataFrame, str]:
    rng = np.random.default_rng(2)
    features = [f"x{i}" for i in range(8)]
    x = pd.DataFrame(rng.normal(size=(rows, 8)).round(6), columns=features)
    y = np.where(x["x0"] + x["x1"] * x["x2"] - x["x3"] > 0, "yes", "no")
    estimator = HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(x, y)
    save_model(
        model_dir,
        "numbers",
        estimator,
        task="classification",
        features=features,
        target="label",
        metrics={},
        training_rows=rows,
        training_data_sha256="0" * 64,
    )
    return load_model(model_dir, "numbers"), x, x.to_csv(index=False)


def pipeline_case(model_dir: Path, rows: int) -> tuple[LoadedModel, pd.DataFrame, str]:
    frame = churn_frame(rows=rows, seed=3)
    path = model_dir.parent / "churn.skops"
    import skops.io

    skops.io.dump(churn_pipeline(frame), path)
    import_model(model_dir, "churn", path, ImportPlan())
    features = frame[list(CHURN_FEATURES)]
    return load_model(model_dir, "churn"), features, features.to_csv(index=False)


def run(name: str, model: LoadedModel, typed: pd.DataFrame, text: str, repeats: int) -> None:
    estimator = model.estimator
    raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)  # as the reader does

    def floor() -> None:
        estimator.predict(typed)
        estimator.predict_proba(typed)

    def pandas_way() -> None:
        frame = pd.read_csv(io.StringIO(text))
        estimator.predict(frame)
        estimator.predict_proba(frame)

    scored = predict_chunk(model, raw)
    assert scored.errors.isna().all()
    assert scored.predictions.tolist() == estimator.predict(typed).astype(str).tolist()
    results = {
        "floor": timed(floor, repeats),
        "pandas way": timed(pandas_way, repeats),
        "batchscore": timed(lambda: predict_chunk(model, raw), repeats),
    }
    print(f"{name}: {len(raw):,} rows, median of {repeats}")
    print(f"  {'':<12} {'wall s':>8} {'cpu s':>8}")
    for label, (wall, cpu) in results.items():
        print(f"  {label:<12} {wall:8.3f} {cpu:8.3f}")
    c, a, b = results["batchscore"][1], results["floor"][1], results["pandas way"][1]
    print(f"  c/a (batchscore / floor, cpu): {c / a:.2f}x")
    print(f"  c/b (batchscore / pandas way, cpu): {c / b:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        model_dir = Path(work) / "models"
        run(
            "numbers (8 floats, HistGradientBoosting)",
            *numbers_case(model_dir, args.rows),
            args.repeats,
        )
        run(
            "pipeline (text, empty cells, imputers)",
            *pipeline_case(model_dir, args.rows),
            args.repeats,
        )


if __name__ == "__main__":
    main()

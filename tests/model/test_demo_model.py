"""The demo iris model and its example CSV."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from batchscore.model.predict import predict_chunk
from batchscore.model.registry import list_models, load_model
from batchscore.model.train import DEMO_MODEL, train_demo_model, write_iris_csv


def test_train_demo_model_saves_iris_version_1_with_good_scores(model_dir: Path) -> None:
    info = train_demo_model(model_dir)

    assert (info.name, info.version, DEMO_MODEL) == ("iris", 1, "iris")
    assert info.task == "classification"
    assert info.features == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    assert info.target == "species"
    assert info.classes == ("setosa", "versicolor", "virginica")
    assert info.metrics["accuracy"] > 0.9
    assert info.metrics["f1_macro"] > 0.9
    assert (info.training_rows, info.evaluation_rows) == (112, 38)  # a quarter held out
    assert (model_dir / "iris" / "1" / "model.skops").is_file()
    assert load_model(model_dir, "iris").info == info


def test_train_demo_model_is_idempotent(model_dir: Path) -> None:
    first = train_demo_model(model_dir)

    second = train_demo_model(model_dir)

    assert second == first
    assert list_models(model_dir) == [first]
    assert sorted(path.name for path in (model_dir / "iris").iterdir()) == ["1", "ACTIVE"]


def test_write_iris_csv_writes_header_and_150_rows(tmp_path: Path) -> None:
    path = tmp_path / "iris.csv"

    write_iris_csv(path)

    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "sepal_length,sepal_width,petal_length,petal_width,species"
    assert lines[1] == "5.1,3.5,1.4,0.2,setosa"
    assert len(lines) == 151


def test_write_iris_csv_is_the_demo_models_training_data(
    tmp_path: Path, demo_model_dir: Path
) -> None:
    path = tmp_path / "iris.csv"

    write_iris_csv(path)

    info = load_model(demo_model_dir, "iris").info
    assert hashlib.sha256(path.read_bytes()).hexdigest() == info.training_data_sha256


def test_demo_model_scores_the_example_csv(tmp_path: Path, demo_model_dir: Path) -> None:
    path = tmp_path / "iris.csv"
    write_iris_csv(path)
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)

    scored = predict_chunk(load_model(demo_model_dir, "iris"), frame)

    assert scored.errors.isna().all()
    assert (scored.predictions == frame["species"]).mean() > 0.9

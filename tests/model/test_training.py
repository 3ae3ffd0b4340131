"""Training new versions from labelled tables: from scratch, incrementally, and every refusal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from batchscore.errors import InputError, NotFound
from batchscore.model.predict import predict_records
from batchscore.model.registry import active_version, list_versions, load_model
from batchscore.model.train import Trained, TrainPlan, train, train_demo_model

EXAMPLES = Path(__file__).parents[2] / "examples"
SHA = "f" * 64


def text_table(name: str) -> pd.DataFrame:
    """An example CSV as the scheduler hands it over: every cell text."""
    return pd.read_csv(EXAMPLES / name, dtype=str, keep_default_na=False)


def fit(model_dir: Path, name: str, table: pd.DataFrame, **plan: object) -> Trained:
    return train(model_dir, name, table, TrainPlan(**plan), data_sha256=SHA)  # type: ignore[arg-type]


def sales_for_tv_50(model_dir: Path) -> float:
    record = {"TV": 50.0, "Radio": 20.0, "Newspaper": 30.0}
    prediction = predict_records(load_model(model_dir, "sales"), [record])[0].prediction
    assert isinstance(prediction, float)
    return prediction


def test_housing_trains_a_regressor_scored_on_held_out_rows(model_dir: Path) -> None:
    trained = fit(model_dir, "housing", text_table("housing.csv"), target="MEDV")

    info = trained.info
    assert (info.version, info.task, info.target, info.classes) == (1, "regression", "MEDV", None)
    assert info.features == tuple(text_table("housing.csv").columns[:-1])
    assert 0.6 < info.metrics["r2"] < 1 and 2 < info.metrics["mae"] < 5
    # A quarter held out to measure: the saved estimator learnt the other 379 rows.
    assert (trained.rows_used, trained.rows_skipped) == (506, 0)
    assert (info.training_rows, info.evaluation, info.evaluation_rows) == (379, "holdout", 127)
    assert info.training_data_sha256 == SHA
    assert active_version(model_dir, "housing") == 1  # a first version is active at once


BOSTON_FEATURES = ("CRIM", "INDUS", "CHAS", "RM", "AGE", "DIS", "TAX", "LSTAT")


def first_housing_price(model_dir: Path) -> float:
    first = text_table("housing.csv").iloc[0]
    record = {feature: float(first[feature]) for feature in BOSTON_FEATURES}
    prediction = predict_records(load_model(model_dir, "housing"), [record])[0].prediction
    assert isinstance(prediction, float)
    return prediction


def test_holdout_0_fits_every_row_and_gives_the_tutorials_ols_answers(model_dir: Path) -> None:
    trained = fit(
        model_dir,
        "housing",
        text_table("housing.csv"),
        target="MEDV",
        features=BOSTON_FEATURES,
        holdout=0,
    )
    sales = fit(
        model_dir,
        "sales",
        text_table("advertising.csv"),
        target="Sales",
        features=("TV",),
        holdout=0,
    )

    # OLS MEDV on the 8 features over all 506 rows, as statsmodels and R give it.
    assert first_housing_price(model_dir) == pytest.approx(29.9197, abs=1e-4)
    info = trained.info
    assert (info.training_rows, info.evaluation, info.evaluation_rows, info.metrics) == (
        506,
        "none",
        0,
        {},
    )
    record = {"TV": 50.0}
    prediction = predict_records(load_model(model_dir, "sales"), [record])[0].prediction
    assert prediction == pytest.approx(9.409425570778684, abs=1e-9)  # 7.0326 + 0.047537 * 50
    assert sales.info.training_rows == 200


def test_refit_measures_on_the_holdout_then_saves_the_fit_on_every_row(model_dir: Path) -> None:
    table = text_table("housing.csv")

    trained = fit(model_dir, "housing", table, target="MEDV", features=BOSTON_FEATURES, refit=True)

    info = trained.info
    assert (info.training_rows, info.evaluation, info.evaluation_rows) == (
        506,
        "holdout_then_refit",
        127,
    )
    assert 0.5 < info.metrics["r2"] < 1  # measured on the 127 rows before the refit
    assert first_housing_price(model_dir) == pytest.approx(29.9197, abs=1e-4)


def test_an_unnamed_index_column_is_left_out_and_said_so(model_dir: Path) -> None:
    # The ISLR file as published: its first column is a row index with an empty header.
    indexed = pd.read_csv(
        Path(__file__).parents[1] / "data" / "advertising-indexed.csv",
        dtype=str,
        keep_default_na=False,
    ).rename(columns={"Unnamed: 0": "column_1"})  # what the scheduler's reader calls it
    pandas_saved = indexed.rename(columns={"column_1": "Unnamed: 0"})  # df.to_csv() re-read

    for table in (indexed, pandas_saved):
        trained = fit(model_dir, "sales", table, target="Sales")
        assert trained.info.features == ("TV", "Radio", "Newspaper")
        assert trained.left_out == (table.columns[0],)
    asked = fit(model_dir, "sales", indexed, target="Sales", features=("column_1", "TV"))
    assert asked.info.features == ("column_1", "TV") and asked.left_out == ()


@pytest.mark.parametrize(
    ("plan", "match"),
    [
        ({"holdout": 0.95}, "holdout must be a share of the rows from 0"),
        ({"holdout": -0.1}, "holdout must be a share of the rows from 0"),
        ({"holdout": 0, "refit": True}, "refit needs a holdout"),
    ],
)
def test_a_bad_holdout_is_refused(model_dir: Path, plan: dict[str, object], match: str) -> None:
    refused(model_dir, text_table("housing.csv"), match, target="MEDV", **plan)


def test_a_new_version_predicts_only_once_activated(model_dir: Path) -> None:
    train_demo_model(model_dir)
    iris = text_table("iris.csv")

    trained = fit(model_dir, "iris", iris, estimator="forest")  # target: the model's, species

    assert trained.info.version == 2 and trained.info.target == "species"
    assert trained.info.metrics["accuracy"] > 0.85
    assert active_version(model_dir, "iris") == 1
    assert fit(model_dir, "iris", iris, activate=True).info.version == 3
    assert active_version(model_dir, "iris") == 3


@pytest.mark.parametrize("estimator", ["linear", "forest", "sgd"])
def test_every_estimator_learns_iris(model_dir: Path, estimator: str) -> None:
    trained = fit(model_dir, "iris", text_table("iris.csv"), target="species", estimator=estimator)

    assert trained.info.task == "classification"
    assert trained.info.classes == ("setosa", "versicolor", "virginica")
    assert trained.info.metrics["accuracy"] > 0.8


def test_an_integer_target_with_few_values_is_a_class(model_dir: Path) -> None:
    table = text_table("iris.csv")
    table["species"] = table["species"].map({"setosa": "0", "versicolor": "1", "virginica": "2"})

    assert fit(model_dir, "coded", table, target="species").info.classes == ("0", "1", "2")
    assert fit(model_dir, "qty", table, target="species", task="regression").info.task == (
        "regression"
    )


def test_incremental_update_moves_predictions_towards_the_new_rows(model_dir: Path) -> None:
    sales = text_table("advertising.csv")
    fit(model_dir, "sales", sales, target="Sales", estimator="sgd")
    before = sales_for_tv_50(model_dir)
    higher = sales.assign(Sales=(sales["Sales"].astype(float) + 5).astype(str))

    trained = fit(model_dir, "sales", higher, incremental=True, activate=True)

    after = sales_for_tv_50(model_dir)
    assert trained.info.version == 2 and trained.rows_used == 200
    assert after > before + 1
    # Test-then-train: version 1 underestimates the new rows by about 5.
    assert 4 < trained.info.metrics["mae"] < 6
    assert (
        load_model(model_dir, "sales", 1).estimator is not load_model(model_dir, "sales").estimator
    )


def test_incremental_update_of_a_classifier_keeps_its_classes(model_dir: Path) -> None:
    iris = text_table("iris.csv")
    fit(model_dir, "iris", iris, target="species", estimator="sgd")

    trained = fit(model_dir, "iris", iris.head(60), incremental=True)

    assert trained.info.classes == ("setosa", "versicolor", "virginica")
    assert 0 < trained.info.metrics["accuracy"] <= 1


def test_rows_without_a_target_or_numbers_are_skipped_and_counted(model_dir: Path) -> None:
    table = text_table("housing.csv")
    table.loc[0, "MEDV"] = ""
    table.loc[1, "CRIM"] = "n/a"

    trained = fit(model_dir, "housing", table, target="MEDV")

    assert (trained.rows_used, trained.rows_skipped, trained.info.training_rows) == (504, 2, 378)


def test_too_many_unusable_rows_are_refused(model_dir: Path) -> None:
    table = text_table("housing.csv")
    table.loc[:99, "MEDV"] = ""

    with pytest.raises(InputError, match=r"100 of 506 rows lack a MEDV .* more than the 10%"):
        train(
            model_dir,
            "housing",
            table,
            TrainPlan(target="MEDV"),
            data_sha256=SHA,
            max_skipped_fraction=0.1,
        )
    assert not model_dir.exists() or not list(model_dir.iterdir())


def refused(model_dir: Path, table: pd.DataFrame, match: str, **plan: object) -> None:
    with pytest.raises((InputError, NotFound), match=match):
        fit(model_dir, "m", table, **plan)
    assert not (model_dir / "m").exists()


def test_a_new_model_needs_its_target_named(model_dir: Path) -> None:
    refused(model_dir, text_table("iris.csv"), "Name the target column")


def test_a_missing_target_column_is_named_with_the_files_columns(model_dir: Path) -> None:
    refused(
        model_dir,
        text_table("iris.csv"),
        "lacks the column.s. Species. Its columns: sepal_length, sepal_width, petal_length, "
        "petal_width, species",
        target="Species",
    )


def test_a_missing_feature_column_is_named(model_dir: Path) -> None:
    refused(
        model_dir,
        text_table("iris.csv"),
        "lacks the column.s. petal_area",
        target="species",
        features=("petal_length", "petal_area"),
    )


def test_a_text_column_cannot_be_a_feature(model_dir: Path) -> None:
    table = text_table("iris.csv").assign(colour="blue")
    refused(model_dir, table, "Column colour holds no numbers", target="species")


def test_the_target_cannot_be_a_feature(model_dir: Path) -> None:
    refused(
        model_dir,
        text_table("iris.csv"),
        "species is the target; it cannot be a feature too",
        target="species",
        features=("species", "petal_width"),
    )


def test_too_few_rows_are_refused(model_dir: Path) -> None:
    refused(
        model_dir,
        text_table("iris.csv").head(9),
        "at least 10 rows with a species .* the file has 9 such rows of 9",
        target="species",
    )


def test_one_class_cannot_train_a_classifier(model_dir: Path) -> None:
    refused(
        model_dir,
        text_table("iris.csv").head(40),
        r"Every row has the same class \(setosa\)",
        target="species",
    )


@pytest.mark.parametrize(
    ("plan", "match"),
    [
        (
            {"estimator": "xgboost"},
            "Unknown estimator 'xgboost'; choose one of linear, forest, sgd",
        ),
        ({"task": "clustering"}, "Unknown task 'clustering'; choose one of classification, reg"),
    ],
)
def test_unknown_estimator_or_task_is_refused(
    model_dir: Path, plan: dict[str, str], match: str
) -> None:
    refused(model_dir, text_table("iris.csv"), match, target="species", **plan)


def test_incremental_needs_an_existing_model(model_dir: Path) -> None:
    refused(
        model_dir,
        text_table("advertising.csv"),
        "Model 'm' does not exist yet, so there is nothing to update",
        incremental=True,
    )


def test_incremental_needs_a_model_that_learns_incrementally(model_dir: Path) -> None:
    train_demo_model(model_dir)

    with pytest.raises(InputError, match=r"v1 \(LogisticRegression\) cannot learn incrementally"):
        fit(model_dir, "iris", text_table("iris.csv"), incremental=True)
    assert list_versions(model_dir, "iris") == [1]


def test_incremental_rows_with_a_new_class_are_refused(model_dir: Path) -> None:
    iris = text_table("iris.csv")
    fit(model_dir, "iris", iris, target="species", estimator="sgd")
    iris.loc[:20, "species"] = "iris-nova"

    with pytest.raises(InputError, match=r"classes model iris does not know \(iris-nova\)"):
        fit(model_dir, "iris", iris, incremental=True)
    assert list_versions(model_dir, "iris") == [1]


def test_a_claim_lost_before_saving_saves_nothing(model_dir: Path) -> None:
    def lost() -> None:
        raise NotFound("claim lost")

    with pytest.raises(NotFound, match="claim lost"):
        train(
            model_dir,
            "housing",
            text_table("housing.csv"),
            TrainPlan(target="MEDV"),
            data_sha256=SHA,
            before_save=lost,
        )
    assert not any((model_dir / "housing").glob("[0-9]*"))


def test_trained_predictions_match_the_estimator(model_dir: Path) -> None:
    fit(model_dir, "housing", text_table("housing.csv"), target="MEDV")
    model = load_model(model_dir, "housing")
    first = text_table("housing.csv").drop(columns="MEDV").head(3).astype(float)

    online = [float(p.prediction) for p in predict_records(model, first.to_dict("records"))]

    np.testing.assert_allclose(online, model.estimator.predict(first.to_numpy()))


@pytest.mark.parametrize("estimator", ["linear", "forest", "sgd"])
def test_json_records_get_the_estimators_own_labels(model_dir: Path, estimator: str) -> None:
    # predict_records takes labels from the probabilities for these: they must agree.
    iris = text_table("iris.csv")
    fit(model_dir, "iris", iris, target="species", estimator=estimator)
    model = load_model(model_dir, "iris")
    features = iris.drop(columns="species").astype(float)

    online = predict_records(model, features.to_dict("records"))

    assert [p.prediction for p in online] == model.estimator.predict(features.to_numpy()).tolist()
    assert all(
        p.probabilities is not None
        and max(p.probabilities, key=p.probabilities.__getitem__) == p.prediction
        for p in online
    )

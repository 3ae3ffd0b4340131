"""Scoring chunks of raw CSV text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from batchscore.errors import InputError
from batchscore.model.predict import predict_chunk, predict_records
from batchscore.model.registry import LoadedModel, load_model, save_model

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
SETOSA = ["5.1", "3.5", "1.4", "0.2"]
VERSICOLOR = ["7.0", "3.2", "4.7", "1.4"]
VIRGINICA = ["6.3", "3.3", "6.0", "2.5"]


def _frame(*rows: list[str], index: list[int] | None = None) -> pd.DataFrame:
    """A chunk as the reader hands it over: every cell a str."""
    return pd.DataFrame(list(rows), columns=FEATURES, index=index, dtype=str)


def test_predict_chunk_predicts_good_rows_as_class_labels(iris_model: LoadedModel) -> None:
    scored = predict_chunk(iris_model, _frame(SETOSA, VERSICOLOR, VIRGINICA))

    assert scored.predictions.tolist() == ["setosa", "versicolor", "virginica"]
    assert all(type(label) is str for label in scored.predictions)
    assert scored.errors.tolist() == [None, None, None]


def test_predict_chunk_agrees_with_the_estimator(
    iris_model: LoadedModel, iris_features: pd.DataFrame
) -> None:
    frame = iris_features.astype(str)

    scored = predict_chunk(iris_model, frame)

    expected = iris_model.estimator.predict(iris_features.to_numpy())
    assert scored.predictions.tolist() == [str(label) for label in expected]


def test_predict_chunk_returns_object_series_on_the_input_index(iris_model: LoadedModel) -> None:
    scored = predict_chunk(iris_model, _frame(SETOSA, ["abc", *SETOSA[1:]], index=[500, 501]))

    assert scored.predictions.dtype == object
    assert scored.errors.dtype == object
    assert scored.predictions.index.tolist() == [500, 501]
    assert scored.errors.index.tolist() == [500, 501]


def test_predict_chunk_keeps_non_numeric_row_unscored_with_reason(iris_model: LoadedModel) -> None:
    scored = predict_chunk(iris_model, _frame(SETOSA, ["abc", *SETOSA[1:]], VIRGINICA))

    assert scored.predictions.tolist() == ["setosa", None, "virginica"]
    assert scored.errors.tolist() == [None, "sepal_length: 'abc' is not a number", None]


@pytest.mark.parametrize("cell", ["", "   "])
def test_predict_chunk_reports_empty_cell(iris_model: LoadedModel, cell: str) -> None:
    scored = predict_chunk(iris_model, _frame(["5.1", cell, "1.4", "0.2"]))

    assert scored.predictions.tolist() == [None]
    assert scored.errors.tolist() == ["sepal_width is empty"]


@pytest.mark.parametrize("cell", ["inf", "-inf", "Infinity", "NaN", "nan", "1e999"])
def test_predict_chunk_reports_non_finite_number(iris_model: LoadedModel, cell: str) -> None:
    scored = predict_chunk(iris_model, _frame(["5.1", "3.5", cell, "0.2"]))

    assert scored.predictions.tolist() == [None]
    assert scored.errors.tolist() == [f"petal_length: '{cell}' is not a finite number"]


def test_predict_chunk_joins_every_bad_feature_of_a_row(iris_model: LoadedModel) -> None:
    scored = predict_chunk(iris_model, _frame(["x", "3.5", "inf", ""]))

    assert scored.errors.tolist() == [
        "sepal_length: 'x' is not a number; "
        "petal_length: 'inf' is not a finite number; "
        "petal_width is empty"
    ]


def test_predict_chunk_cuts_long_bad_values_in_messages(iris_model: LoadedModel) -> None:
    scored = predict_chunk(iris_model, _frame(["y" * 1000, *SETOSA[1:]]))

    assert scored.errors.tolist() == [f"sepal_length: '{'y' * 40}' is not a number"]


def test_predict_chunk_parses_numbers_with_surrounding_whitespace(iris_model: LoadedModel) -> None:
    scored = predict_chunk(iris_model, _frame([" 5.1 ", "\t3.5", "1.4\u00a0", "+0.2"]))

    assert scored.predictions.tolist() == ["setosa"]
    assert scored.errors.tolist() == [None]


def test_predict_chunk_with_every_row_bad_scores_nothing(iris_model: LoadedModel) -> None:
    scored = predict_chunk(iris_model, _frame(["a", "b", "c", "d"], ["", "", "", ""]))

    assert scored.predictions.tolist() == [None, None]
    assert scored.errors.tolist() == [
        "sepal_length: 'a' is not a number; sepal_width: 'b' is not a number; "
        "petal_length: 'c' is not a number; petal_width: 'd' is not a number",
        "sepal_length is empty; sepal_width is empty; petal_length is empty; petal_width is empty",
    ]


def test_predict_chunk_of_empty_frame_is_empty(iris_model: LoadedModel) -> None:
    scored = predict_chunk(iris_model, _frame())

    assert scored.predictions.empty
    assert scored.errors.empty


def test_predict_chunk_ignores_extra_columns_and_column_order(iris_model: LoadedModel) -> None:
    frame = _frame(SETOSA, VIRGINICA)[list(reversed(FEATURES))]
    frame.insert(0, "id", ["r1", "r2"])
    frame["species"] = ["?", "?"]

    scored = predict_chunk(iris_model, frame)

    assert scored.predictions.tolist() == ["setosa", "virginica"]


def test_predict_chunk_without_a_feature_column_raises_input_error(
    iris_model: LoadedModel,
) -> None:
    frame = _frame(SETOSA).drop(columns=["petal_width"])

    with pytest.raises(InputError, match=r"Missing column\(s\) petal_width\."):
        predict_chunk(iris_model, frame)


def test_predict_chunk_returns_numeric_classes_as_strings(
    tmp_path: Path, iris_features: pd.DataFrame
) -> None:
    classifier = LogisticRegression(max_iter=1000).fit(iris_features, np.repeat([0, 1, 2], 50))
    save_model(
        tmp_path,
        "numbered",
        classifier,
        task="classification",
        features=FEATURES,
        target="kind",
        metrics={},
        training_rows=150,
        training_data_sha256="0" * 64,
    )

    scored = predict_chunk(load_model(tmp_path, "numbered"), _frame(SETOSA, VIRGINICA))

    assert scored.predictions.tolist() == ["0", "2"]


def test_predict_chunk_of_regression_model_returns_python_floats(tmp_path: Path) -> None:
    train = pd.DataFrame({"x1": [0.0, 1.0, 2.0, 3.0], "x2": [1.0, 0.0, 1.0, 0.0]})
    regressor = LinearRegression().fit(train, 2 * train["x1"] + train["x2"])
    save_model(
        tmp_path,
        "tiny",
        regressor,
        task="regression",
        features=["x1", "x2"],
        target="y",
        metrics={"r2": 1.0},
        training_rows=4,
        training_data_sha256="0" * 64,
    )
    frame = pd.DataFrame({"x1": ["1", "2", "oops"], "x2": ["0", "1", "0"]}, dtype=str)

    scored = predict_chunk(load_model(tmp_path, "tiny"), frame)

    assert scored.predictions[0] == pytest.approx(2.0)
    assert scored.predictions[1] == pytest.approx(5.0)
    assert scored.predictions[2] is None
    assert [type(value) for value in scored.predictions[:2]] == [float, float]
    assert scored.errors.tolist() == [None, None, "x1: 'oops' is not a number"]


def test_predict_chunk_of_estimator_fitted_without_names_does_not_warn(tmp_path: Path) -> None:
    # Fitted on a bare array: passing named columns would make scikit-learn warn (an error here).
    regressor = LinearRegression().fit(np.array([[0.0], [1.0], [2.0]]), [0.0, 1.0, 2.0])
    save_model(
        tmp_path,
        "bare",
        regressor,
        task="regression",
        features=["x"],
        target="y",
        metrics={},
        training_rows=3,
        training_data_sha256="0" * 64,
    )

    scored = predict_chunk(load_model(tmp_path, "bare"), pd.DataFrame({"x": ["4"]}, dtype=str))

    assert scored.predictions[0] == pytest.approx(4.0)


def test_a_result_the_models_arithmetic_overflowed_is_a_row_error(iris_model: LoadedModel) -> None:
    huge = ["1e308"] * 4  # finite, but the scaler and the logistic regression overflow
    scored = predict_chunk(iris_model, _frame(huge, SETOSA, ["-1.7976931348623157e308"] * 4))

    assert scored.predictions.tolist() == [None, "setosa", None]
    assert (
        scored.errors[0]
        == scored.errors[2]
        == (
            "the model's result for these values is not a finite number (its arithmetic "
            "overflowed): check that the features are in their usual range"
        )
    )
    assert scored.probabilities is not None
    assert scored.probabilities.iloc[1].notna().all() and scored.probabilities.iloc[0].isna().all()


def test_a_record_the_models_arithmetic_overflows_on_is_refused(iris_model: LoadedModel) -> None:
    record = dict(zip(FEATURES, [1e308] * 4, strict=True))
    with pytest.raises(InputError, match=r"^Record 2: the model's result for these values is not"):
        predict_records(iris_model, [dict(zip(FEATURES, map(float, SETOSA), strict=True)), record])

"""Checking a file's columns against the model's features."""

from __future__ import annotations

import pytest

from batchscore.errors import InputError
from batchscore.model.registry import LoadedModel
from batchscore.model.schema import check_columns, feature_columns

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def test_check_columns_missing_feature_message_names_it(iris_model: LoadedModel) -> None:
    with pytest.raises(InputError) as caught:
        check_columns(iris_model.info, ["sepal_length", "sepal_width", "petal_length", "species"])

    assert caught.value.message == (
        "Missing column(s) petal_width. "
        "Model iris v1 needs: sepal_length, sepal_width, petal_length, petal_width. "
        "The file has: sepal_length, sepal_width, petal_length, species."
    )


def test_check_columns_lists_every_missing_feature_in_model_order(
    iris_model: LoadedModel,
) -> None:
    with pytest.raises(InputError) as caught:
        check_columns(iris_model.info, ["a", "b", "c"])

    assert caught.value.message == (
        "Missing column(s) sepal_length, sepal_width, petal_length, petal_width. "
        "Model iris v1 needs: sepal_length, sepal_width, petal_length, petal_width. "
        "The file has: a, b, c."
    )


def test_check_columns_of_file_without_columns_says_so(iris_model: LoadedModel) -> None:
    with pytest.raises(InputError, match=r"The file has: no columns\.$"):
        check_columns(iris_model.info, [])


def test_check_columns_cuts_a_long_column_list(iris_model: LoadedModel) -> None:
    columns = [f"c{number}" for number in range(100)]

    with pytest.raises(InputError, match=r"The file has: c0, c1, .*, c29 and 70 more\.$"):
        check_columns(iris_model.info, columns)


@pytest.mark.parametrize(
    "columns",
    [
        FEATURES,
        list(reversed(FEATURES)),
        ["id", *FEATURES, "species", "notes"],
    ],
)
def test_check_columns_accepts_extra_columns_in_any_order(
    iris_model: LoadedModel, columns: list[str]
) -> None:
    check_columns(iris_model.info, columns)


def test_check_columns_ignores_surrounding_whitespace(iris_model: LoadedModel) -> None:
    check_columns(
        iris_model.info, [" sepal_length", "sepal_width ", "\tpetal_length", "petal_width\n"]
    )


def test_headers_match_features_ignoring_case_spaces_and_separators(
    iris_model: LoadedModel,
) -> None:
    columns = ["Sepal_Length ", "sepal width", "PETAL-LENGTH", "petal_width"]
    assert feature_columns(iris_model.info, columns) == {
        "sepal_length": "Sepal_Length ",
        "sepal_width": "sepal width",
        "petal_length": "PETAL-LENGTH",
        "petal_width": "petal_width",
    }


def test_a_loose_match_to_two_columns_is_refused_naming_them(iris_model: LoadedModel) -> None:
    columns = ["Sepal Length", "sepal-length", "sepal_width", "petal_length", "petal_width"]
    with pytest.raises(
        InputError,
        match=r"^More than one column could be sepal_length \(Sepal Length or sepal-length\?\)\.",
    ):
        feature_columns(iris_model.info, columns)
    exact = ["sepal_length", *columns]  # an exact name wins over loose ones
    assert feature_columns(iris_model.info, exact)["sepal_length"] == "sepal_length"

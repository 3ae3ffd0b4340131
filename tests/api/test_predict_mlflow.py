"""The predict route reads MLflow's scoring bodies: a client written for an MLflow model server
gets the same predictions as batchscore's own records, and a bad envelope a 422 naming it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from mlflow.models.utils import convert_input_example_to_serving_input
from sklearn.datasets import load_iris

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller

FEATURES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
ROWS = load_iris().data[::15].tolist()  # 10 flowers of the three kinds
RECORDS = [dict(zip(FEATURES, row, strict=True)) for row in ROWS]
COLUMNS = {name: [row[i] for row in ROWS] for i, name in enumerate(FEATURES)}


def predicted(caller: Caller, body: object) -> list[object]:
    response = caller.client.post("/api/models/iris/predict", json=body)
    assert response.status_code == 200, response.text
    return list(response.json()["predictions"])


# MLflow's own serializer does arithmetic on a range, which pandas 3 deprecates: theirs, not ours.
@pytest.mark.filterwarnings("ignore:Operation with range is deprecated")
def test_mlflows_own_serving_body_predicts_as_the_records_do(alice: Caller) -> None:
    """What `mlflow models predict` and MLflow's docs send: convert_input_example_to_serving_input
    of a DataFrame (dataframe_split)."""
    serving = convert_input_example_to_serving_input(pd.DataFrame(ROWS, columns=FEATURES))
    assert serving is not None
    body = json.loads(serving)
    assert set(body) == {"dataframe_split"}
    assert predicted(alice, body) == predicted(alice, RECORDS)


@pytest.mark.parametrize(
    "body",
    [
        {"dataframe_split": {"columns": FEATURES, "data": ROWS, "index": list(range(10))}},
        {"dataframe_records": RECORDS},
        {"instances": RECORDS},
        {"inputs": RECORDS},
        {"instances": COLUMNS},
        {"inputs": COLUMNS, "params": {"ignored": True}},
    ],
    ids=["split", "records", "instances", "inputs", "instances-columns", "inputs-columns"],
)
def test_every_mlflow_envelope_predicts_as_the_records_do(alice: Caller, body: object) -> None:
    expected = predicted(alice, RECORDS)
    assert len(expected) == 10
    assert predicted(alice, body) == expected


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"inputs": ROWS}, "inputs must be a list of objects (feature → value); send a list"),
        ({"dataframe_split": {"data": ROWS}}, 'dataframe_split needs "columns": the feature'),
        (
            {"dataframe_split": {"columns": FEATURES, "data": [ROWS[0][:3]]}},
            "dataframe_split row 1 has 3 values for 4 columns.",
        ),
        ({"instances": {"sepal_length": [1.0], "sepal_width": [1.0, 2.0]}}, "all as long."),
        ({"inputs": RECORDS, "instances": RECORDS}, "Send one of inputs, instances, not several."),
        ({"dataframe_records": "rows"}, "dataframe_records must be a list of objects"),
    ],
)
def test_a_bad_envelope_is_refused_naming_what_is_wrong(
    alice: Caller, body: object, message: str
) -> None:
    response = alice.client.post("/api/models/iris/predict", json=body)
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]["message"]


def test_invocations_answers_as_an_mlflow_model_server(alice: Caller) -> None:
    """POST /invocations, MLflow's route: the default model, MLflow's answer shape."""
    body = {"dataframe_split": {"columns": FEATURES, "data": ROWS}}
    response = alice.client.post("/invocations", json=body)
    assert response.status_code == 200, response.text
    ours = predicted(alice, RECORDS)
    labels = [one["prediction"] for one in ours]  # type: ignore[index]
    assert response.json() == {"predictions": labels}  # labels only, as MLflow's pyfunc gives
    assert labels[0] == "setosa" and labels[-1] == "virginica"


def test_invocations_needs_a_token(alice: Caller) -> None:
    response = alice.client.post("/invocations", json=RECORDS, headers={"Authorization": ""})
    assert response.status_code == 401


def csv_predicted(caller: Caller, body: bytes, content_type: str = "text/csv") -> list[object]:
    response = caller.client.post(
        "/api/models/iris/predict", content=body, headers={"Content-Type": content_type}
    )
    assert response.status_code == 200, response.text
    return list(response.json()["predictions"])


@pytest.mark.parametrize(
    "body",
    [
        pd.DataFrame(ROWS, columns=FEATURES).to_csv(index=False).encode(),
        pd.DataFrame(ROWS, columns=FEATURES).to_csv().encode(),  # pandas' default: the index too
        pd.DataFrame(ROWS, columns=FEATURES).to_csv(sep=";", decimal=",", index=False).encode(),
        pd.DataFrame(ROWS, columns=FEATURES).to_csv(index=False, lineterminator="\r\n").encode(),
    ],
    ids=["pandas", "pandas-with-index", "excel-decimal-comma", "crlf"],
)
def test_a_csv_body_predicts_as_the_records_do(alice: Caller, body: bytes) -> None:
    """MLflow's `text/csv` content type: the CSV is read as an uploaded file is."""
    assert csv_predicted(alice, body) == predicted(alice, RECORDS)
    assert csv_predicted(alice, body, "text/csv; charset=utf-8") == predicted(alice, RECORDS)


def test_invocations_reads_a_csv_body(alice: Caller) -> None:
    body = pd.DataFrame(ROWS, columns=FEATURES).to_csv(index=False)
    response = alice.client.post("/invocations", content=body, headers={"Content-Type": "text/csv"})
    assert response.status_code == 200, response.text
    labels = [one["prediction"] for one in predicted(alice, RECORDS)]  # type: ignore[index]
    assert response.json() == {"predictions": labels}


_HEADER = ",".join(FEATURES)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (f"{_HEADER}\n5.1,3.5,1.4,0.2\n5.1,,1.4,0.2\n", "Record 2: sepal_width is empty"),
        ("sepal_length,sepal_width\n5.1,3.5\n", "Missing column(s) petal_length, petal_width."),
        (f"{_HEADER}\n", "The CSV has a header but no data rows."),
        ("", "empty"),
        (f"{_HEADER}\n" + "5.1,3.5,1.4,0.2\n" * 10_001, "more than the 10,000 rows"),
    ],
    ids=["bad-row", "missing-feature", "header-only", "empty", "too-many-rows"],
)
def test_a_bad_csv_body_is_refused_naming_what_is_wrong(
    alice: Caller, body: str, message: str
) -> None:
    response = alice.client.post(
        "/api/models/iris/predict", content=body, headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 422, response.text
    assert message in response.json()["error"]["message"]

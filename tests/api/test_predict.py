"""POST /api/models/{name}/predict: JSON records in, predictions (and probabilities) out."""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

import httpx2
import openpyxl
import pytest
from sklearn.datasets import load_iris

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller

FEATURES = ("sepal_length", "sepal_width", "petal_length", "petal_width")
SETOSA = dict(zip(FEATURES, (5.1, 3.5, 1.4, 0.2), strict=True))
NEEDS = "Model iris v1 needs: sepal_length, sepal_width, petal_length, petal_width."


def iris_records() -> list[dict[str, float]]:
    data = load_iris().data
    return [dict(zip(FEATURES, row.tolist(), strict=True)) for row in data]


def test_one_record_gets_its_class_and_probabilities(alice: Caller) -> None:
    response = alice.client.post("/api/models/iris/predict", json=SETOSA)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["model"], body["version"], body["prediction"]) == ("iris", 1, "setosa")
    probabilities = body["probabilities"]
    assert list(probabilities) == ["setosa", "versicolor", "virginica"]
    assert sum(probabilities.values()) == pytest.approx(1.0)
    assert max(probabilities, key=probabilities.__getitem__) == "setosa"


def test_a_list_gets_the_same_predictions_as_a_batch_job(alice: Caller) -> None:
    records = iris_records()
    response = alice.client.post("/api/models/iris/predict", json=records)
    assert response.status_code == 200, response.text
    online = [p["prediction"] for p in response.json()["predictions"]]

    csv = (
        ",".join(FEATURES) + "\n" + "".join(",".join(map(str, r.values())) + "\n" for r in records)
    )
    job = alice.client.post("/api/jobs", files={"file": ("iris.csv", csv, "text/csv")}).json()
    alice.client.post(f"/process_file?id={job['id']}").raise_for_status()
    result = alice.client.get(f"/api/jobs/{job['id']}/result")
    sheet = openpyxl.load_workbook(io.BytesIO(result.content), read_only=True).active
    batch = [row[4] for row in sheet.iter_rows(min_row=2, values_only=True)]  # type: ignore[union-attr]
    assert online == batch and len(online) == 150
    assert sum(label == "setosa" for label in online) == 50


@pytest.mark.network  # concurrent calls over real connections, beyond the scoring threads
def test_many_calls_at_once_each_get_their_own_answer(alice: Caller) -> None:
    """More callers than scoring threads and database connections: they queue, none fails."""
    records = iris_records()
    expected = alice.client.post("/api/models/iris/predict", json=records).json()["predictions"]
    bad = {**SETOSA, "petal_width": "wide"}
    calls = [(i, records[i]) for i in range(0, 150, 3)] + [(-1, bad)] * 4

    def call(record: dict[str, object]) -> httpx2.Response:
        return alice.client.post("/api/models/iris/predict", json=record)

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        answers = list(pool.map(call, [record for _, record in calls]))

    for (index, _), answer in zip(calls, answers, strict=True):
        if index < 0:
            assert answer.status_code == 422, answer.text
        else:
            assert answer.status_code == 200, answer.text
            assert answer.json()["prediction"] == expected[index]["prediction"]


def test_extra_keys_and_integers_are_fine(alice: Caller) -> None:
    record = {**SETOSA, "sepal_length": 5, "id": "row-7"}
    response = alice.client.post("/api/models/iris/predict", json=record)
    assert response.json()["prediction"] == "setosa"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"sepal_length": 5.1},
            f"The record lacks sepal_width, petal_length, petal_width. {NEEDS}",
        ),
        (
            [SETOSA, {**SETOSA, "petal_width": None}],
            "Record 2: petal_width must be a number, not null: model iris cannot fill in a "
            "missing value for it.",
        ),
        ({**SETOSA, "sepal_width": "3.5"}, 'The record: sepal_width must be a number, not "3.5".'),
        ({**SETOSA, "sepal_width": True}, "The record: sepal_width must be a number, not true."),
        ([SETOSA, 7], "Record 2 is not a JSON object of feature values."),
        (
            dict.fromkeys(SETOSA, 1.7976931348623157e308),  # the largest finite double
            "The record: the model's result for these values is not a finite number (its "
            "arithmetic overflowed): check that the features are in their usual range.",
        ),
        ([], "Send a JSON object of feature values, or a non-empty list of them."),
        ("setosa", "Send a JSON object of feature values, or a non-empty list of them."),
    ],
)
def test_bad_records_are_refused_naming_the_problem(
    alice: Caller, body: object, message: str
) -> None:
    response = alice.client.post("/api/models/iris/predict", json=body)
    assert response.status_code == 422, response.text
    assert response.json() == {"error": {"code": "invalid_input", "message": message}}


def test_non_finite_and_non_json_bodies_are_refused(alice: Caller) -> None:
    nan = '{"sepal_length": NaN, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}'
    response = alice.client.post("/api/models/iris/predict", content=nan)
    assert response.status_code == 422
    assert response.json()["error"]["message"] == (
        "The record: sepal_length must be a finite number, not nan."
    )
    broken = alice.client.post("/api/models/iris/predict", content=b'{"sepal_length": 5.1')
    assert broken.status_code == 422
    assert broken.json()["error"]["message"].startswith("The body is not valid JSON: ")


@pytest.mark.parametrize("path", ["/api/models/iris/predict", "/invocations"])
def test_json_nested_thousands_deep_is_refused_not_a_server_error(alice: Caller, path: str) -> None:
    for deep in (b"[" * 100_000, b'{"a":' * 50_000):
        response = alice.client.post(path, content=deep)
        assert response.status_code == 422, response.text
        assert response.json()["error"]["message"] == (
            "The body is JSON nested too deeply: no record is shaped like that."
        )
    assert alice.client.post("/api/models/iris/predict", json=SETOSA).status_code == 200
    settings = alice.client.put("/api/webhook", content=b"[" * 8_000)  # typed: refused at once
    assert settings.status_code == 422


def test_too_many_records_go_to_a_batch_job(alice: Caller) -> None:
    response = alice.client.post("/api/models/iris/predict", json=[SETOSA] * 10_001)
    assert response.status_code == 422
    assert response.json()["error"]["message"] == (
        "10,001 records is more than the 10,000 one call takes; upload them as a CSV job "
        "(POST /api/jobs) instead."
    )


def test_body_over_8_mib_is_refused(alice: Caller) -> None:
    response = alice.client.post("/api/models/iris/predict", content=b" " * (8 * 1024 * 1024 + 1))
    assert response.status_code == 413


def test_unknown_model_is_not_found(alice: Caller) -> None:
    response = alice.client.post("/api/models/tulip/predict", json=SETOSA)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"

"""Training over HTTP: train a version as a job, read its metrics, activate it, feed an
incremental model new rows; and every refusal, which leaves no file and no job behind."""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from factories import linear_rows
from panel_client import PanelClient

from batchscore.config import Settings
from batchscore.scheduler.context import Context

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller

EXAMPLES = Path(__file__).parents[2] / "examples"
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
# The first row of the housing data, as the tutorial's Boston price API takes it.
HOUSE = dict(
    zip(
        "CRIM,ZN,INDUS,CHAS,NOX,RM,AGE,DIS,RAD,TAX,PTRATIO,B,LSTAT".split(","),
        (0.00632, 18, 2.31, 0, 0.538, 6.575, 65.2, 4.09, 1, 296, 15.3, 396.9, 4.98),
        strict=True,
    )
)
TV_50 = {"TV": 50, "Radio": 20, "Newspaper": 30}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, demo_model_dir: Path) -> Settings:
    """The test's own model folder (a copy of the demo's): these tests add versions."""
    model_dir = tmp_path / "models"
    shutil.copytree(demo_model_dir, model_dir)
    return replace(settings, model_dir=model_dir)


def example(name: str) -> bytes:
    return (EXAMPLES / name).read_bytes()


def post_training(
    caller: Caller, path: str, content: bytes, filename: str = "data.csv", **fields: str
) -> dict[str, object]:
    response = caller.client.post(path, files={"file": (filename, content)}, data=fields)
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    assert response.headers["Location"] == body["url"]
    return body


def run(caller: Caller, job_id: object) -> dict[str, object]:
    """Process the job now through the API; its JSON once finished."""
    response = caller.client.post(f"/process_file?id={job_id}")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def predict(caller: Caller, model: str, record: Mapping[str, float]) -> dict[str, object]:
    response = caller.client.post(f"/api/models/{model}/predict", json=record)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_train_iris_then_activate_and_a_batch_job_uses_the_new_version(
    admin: Caller, ctx: Context
) -> None:
    queued = post_training(
        admin, "/api/models/iris/train", example("iris.csv"), "iris.csv", estimator="forest"
    )
    assert (queued["kind"], queued["status"], queued["model"]) == ("train", "PENDING", "iris")
    assert queued["output_format"] is None and queued["metrics"] is None

    trained = run(admin, queued["id"])

    assert trained["status"] == "PROCESSED", trained
    assert (trained["model_version"], trained["rows_total"], trained["rows_failed"]) == (2, 150, 0)
    metrics = trained["metrics"]
    assert isinstance(metrics, dict) and metrics["accuracy"] > 0.85 and "f1_macro" in metrics
    assert trained["result_url"] is None
    result = admin.client.get(f"/api/jobs/{trained['id']}/result")
    assert result.status_code == 409
    assert "its result is a model version" in result.json()["error"]["message"]

    detail = admin.client.get("/api/models/iris").json()
    assert detail["active_version"] == 1
    assert [(v["version"], v["active"]) for v in detail["versions"]] == [(1, True), (2, False)]
    assert detail["versions"][1]["metrics"] == metrics
    made = detail["versions"][1]
    assert (made["created_by"], made["estimator"], made["incremental"]) == (
        admin.user.username,
        "RandomForestClassifier",
        False,
    )
    assert predict(admin, "iris", SETOSA)["version"] == 1  # not active yet

    activated = admin.client.post("/api/models/iris/versions/2/activate")

    assert activated.status_code == 200, activated.text
    assert activated.json()["active_version"] == 2
    assert predict(admin, "iris", SETOSA)["version"] == 2
    assert admin.client.get("/api/models").json()["models"][0]["version"] == 2
    upload = admin.client.post("/api/jobs", files={"file": ("x.csv", example("iris.csv"))})
    scored = run(admin, upload.json()["id"])
    assert (scored["status"], scored["kind"], scored["model_version"]) == ("PROCESSED", "score", 2)


def test_train_with_activate_makes_the_new_version_predict_at_once(admin: Caller) -> None:
    queued = post_training(admin, "/api/models/iris/train", example("iris.csv"), activate="true")

    assert run(admin, queued["id"])["model_version"] == 2
    assert predict(admin, "iris", SETOSA)["version"] == 2


def test_a_house_price_regressor_answers_json_features(admin: Caller, alice: Caller) -> None:
    queued = post_training(
        admin, "/api/models/housing/train", example("housing.csv"), target="MEDV"
    )
    trained = run(admin, queued["id"])
    assert trained["status"] == "PROCESSED", trained
    metrics = trained["metrics"]
    assert isinstance(metrics, dict) and metrics["r2"] > 0.6 and metrics["mae"] < 5

    answer = predict(alice, "housing", HOUSE)  # any user may predict; the first version is active

    assert answer["version"] == 1 and answer["probabilities"] is None
    assert isinstance(answer["prediction"], float)
    assert 20 < answer["prediction"] < 40  # the house sold for 24.0 ($1000s)


def test_new_sales_rows_move_the_sales_model_towards_them(admin: Caller) -> None:
    sales = example("advertising.csv")
    queued = post_training(admin, "/api/models/sales/train", sales, target="Sales", estimator="sgd")
    assert run(admin, queued["id"])["status"] == "PROCESSED"
    first = admin.client.get("/api/models/sales").json()["versions"][0]
    assert (first["estimator"], first["incremental"]) == ("SGDRegressor", True)
    before = predict(admin, "sales", TV_50)["prediction"]
    rows = pd.read_csv(EXAMPLES / "advertising.csv")
    rows["Sales"] += 5  # sales went up across the board
    higher = rows.to_csv(index=False).encode()

    queued = post_training(admin, "/api/models/sales/data", higher, "new.csv", activate="true")
    updated = run(admin, queued["id"])

    assert updated["status"] == "PROCESSED", updated
    assert updated["model_version"] == 2
    after = predict(admin, "sales", TV_50)
    assert after["version"] == 2
    assert isinstance(before, float) and isinstance(after["prediction"], float)
    assert after["prediction"] > before + 1
    metrics = updated["metrics"]
    assert isinstance(metrics, dict) and 4 < metrics["mae"] < 6  # v1's error on the new rows


@pytest.mark.network  # a live uvicorn on loopback
def test_a_file_of_several_chunks_trains_on_every_row_with_holdout_0(admin: Caller) -> None:
    """50,000 rows: more than two CHUNK_ROWS (20,000) chunks, joined before the fit."""
    content = linear_rows(50_000).encode()
    queued = post_training(admin, "/api/models/line/train", content, target="y", holdout="0")

    done = run(admin, queued["id"])

    assert (done["status"], done["rows_total"], done["rows_failed"]) == ("PROCESSED", 50_000, 0)
    detail = admin.client.get("/api/models/line").json()
    version = detail["versions"][0]
    assert (version["training_rows"], version["evaluation"]) == (50_000, "none")
    assert predict(admin, "line", {"x1": 10, "x2": 4})["prediction"] == pytest.approx(23.0)


def test_a_file_too_small_to_train_fails_as_a_job_with_the_reason(admin: Caller) -> None:
    few = b"sepal_length,sepal_width,petal_length,petal_width,species\n5.1,3.5,1.4,0.2,setosa\n"

    queued = post_training(admin, "/api/models/iris/train", few)
    failed = run(admin, queued["id"])

    assert failed["status"] == "FAILED"
    assert "Training needs at least 10 rows with a species" in str(failed["error"])
    assert admin.client.get("/api/models/iris").json()["versions"][-1]["version"] == 1


IRIS = example("iris.csv")


@pytest.mark.parametrize(
    ("path", "content", "fields", "status", "message"),
    [
        ("/api/models/iris/train", IRIS, {"estimator": "xgb"}, 422, "Unknown estimator 'xgb'"),
        ("/api/models/iris/train", IRIS, {"task": "ranking"}, 422, "Unknown task 'ranking'"),
        ("/api/models/iris/train", IRIS, {"target": "kind"}, 422, "lacks the column(s) kind"),
        ("/api/models/new/train", IRIS, {}, 422, "Name the target column"),
        ("/api/models/iris/train", IRIS, {"activate": "maybe"}, 422, "'activate' must be true"),
        ("/api/models/iris/train", b"\x89PNG\r\n\x1a\n", {}, 422, "a PNG image"),
        ("/api/models/iris/train", b"", {}, 422, "The file is empty"),
        ("/api/models/iris/train", b"species\n", {}, 422, "The file has a header but no data"),
        ("/api/models/b%20d/train", IRIS, {"target": "species"}, 422, "Invalid model name"),
        ("/api/models/nope/data", IRIS, {}, 404, "Model 'nope' does not exist yet"),
        ("/api/models/iris/data", IRIS, {}, 422, "cannot learn incrementally"),
    ],
)
def test_refused_training_leaves_no_file_and_no_job(
    admin: Caller,
    ctx: Context,
    path: str,
    content: bytes,
    fields: dict[str, str],
    status: int,
    message: str,
) -> None:
    response = admin.client.post(path, files={"file": ("t.csv", content)}, data=fields)

    assert response.status_code == status, response.text
    assert message in response.json()["error"]["message"]
    assert list(Path(ctx.settings.input_dir).iterdir()) == []
    assert admin.client.get("/api/jobs").json()["total"] == 0
    assert [v["version"] for v in admin.client.get("/api/models/iris").json()["versions"]] == [1]


def test_training_without_a_file_is_refused(admin: Caller) -> None:
    response = admin.client.post("/api/models/iris/train", data={"target": "species"})

    assert response.status_code == 422
    assert "Send the CSV file as the multipart form field 'file'" in response.text


@pytest.mark.parametrize(
    "path",
    ["/api/models/iris/train", "/api/models/iris/data", "/api/models/iris/versions/1/activate"],
)
def test_only_admins_change_models(alice: Caller, ctx: Context, path: str) -> None:
    response = alice.client.post(path, files={"file": ("t.csv", IRIS)})

    assert response.status_code == 403
    assert (
        "Only an admin may train, import or activate models" in response.json()["error"]["message"]
    )
    assert list(Path(ctx.settings.input_dir).iterdir()) == []


@pytest.mark.parametrize(
    ("path", "status", "message"),
    [
        ("/api/models/iris/versions/9/activate", 404, "version 9 not found. Available versions: 1"),
        ("/api/models/nope/versions/1/activate", 404, "Model 'nope' not found"),
        ("/api/models/b%20d/versions/1/activate", 422, "Invalid model name"),
    ],
)
def test_activating_what_does_not_exist_is_refused(
    admin: Caller, path: str, status: int, message: str
) -> None:
    response = admin.client.post(path)

    assert response.status_code == status, response.text
    assert message in response.json()["error"]["message"]
    assert admin.client.get("/api/models/iris").json()["active_version"] == 1


def test_unknown_model_detail_is_404(alice: Caller) -> None:
    response = alice.client.get("/api/models/nope")

    assert response.status_code == 404
    assert "Model 'nope' not found. Available models: iris." in response.json()["error"]["message"]


def test_the_job_page_of_a_train_job_shows_the_version_and_its_metrics(
    admin: Caller, panel: PanelClient
) -> None:
    queued = post_training(admin, "/api/models/iris/train", example("iris.csv"))
    run(admin, queued["id"])
    panel.sign_in("root")

    page = panel.http.get(f"/jobs/{queued['id']}")

    assert page.status_code == 200
    assert "<dt>Trains</dt><dd>iris: made v2</dd>" in page.text
    assert re.search(r"<dt>Metrics</dt><dd>accuracy 0\.\d{3}, f1_macro 0\.\d{3}</dd>", page.text)
    assert "Result format" not in page.text
    assert "Download result" not in page.text and "/result" not in page.text  # a version, no file
    assert '<a class="button" href="/models/iris">See iris v2</a>' in page.text


@pytest.mark.network  # a live uvicorn on loopback
def test_the_tutorials_ols_answers_over_http_with_holdout_0(admin: Caller) -> None:
    boston = "CRIM,INDUS,CHAS,RM,AGE,DIS,TAX,LSTAT"
    for name, content, target, features in (
        ("housing", example("housing.csv"), "MEDV", boston),
        ("sales", example("advertising.csv"), "Sales", "TV"),
    ):
        queued = post_training(
            admin,
            f"/api/models/{name}/train",
            content,
            target=target,
            features=features,
            holdout="0",
        )
        assert run(admin, queued["id"])["status"] == "PROCESSED"

    house = {f: HOUSE[f] for f in boston.split(",")}
    assert predict(admin, "housing", house)["prediction"] == pytest.approx(29.9197, abs=1e-4)
    tv = predict(admin, "sales", {"TV": 50})["prediction"]
    assert tv == pytest.approx(9.409425570778684, abs=1e-9)
    version = admin.client.get("/api/models/housing").json()["versions"][0]
    assert (version["training_rows"], version["evaluation"]) == (506, "none")

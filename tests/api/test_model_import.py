"""Importing a model over HTTP (POST /api/models/{name}/versions) against a live server, then
scoring files with it: text columns, empty cells and probabilities, as the pipeline itself
would. Every refusal leaves MODEL_DIR and the input folder as they were."""

from __future__ import annotations

import io
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import joblib
import numpy as np
import openpyxl
import pandas as pd
import pytest
import skops.io
from owned_models import CHURN_FEATURES, churn_frame, churn_pipeline, save_mlflow, write_csv
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from batchscore.config import Settings

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller

OLD_MODEL = Path(__file__).parents[1] / "data" / "models" / "churn-sklearn-1.8.0.skops"
pytestmark = pytest.mark.network  # a live uvicorn on loopback


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, demo_model_dir: Path) -> Settings:
    """The test's own model folder (a copy of the demo's): these tests add models."""
    model_dir = tmp_path / "models"
    shutil.copytree(demo_model_dir, model_dir)
    return replace(settings, model_dir=model_dir)


@pytest.fixture(scope="module")
def churn() -> tuple[pd.DataFrame, Pipeline]:
    frame = churn_frame()
    return frame, churn_pipeline(frame)


def tree(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def upload_model(caller: Caller, content: bytes, filename: str, **fields: str) -> dict[str, object]:
    response = caller.client.post(
        "/api/models/churn/versions", files={"file": (filename, content)}, data=fields
    )
    assert response.status_code == 201, response.text
    assert response.headers["Location"].endswith("/api/models/churn")
    body: dict[str, object] = response.json()
    return body


def score(caller: Caller, frame: pd.DataFrame, tmp_path: Path, **fields: str) -> pd.DataFrame:
    """Upload the customers as pandas writes them, process the job, read the xlsx result."""
    content = write_csv(frame, tmp_path / "customers.csv").read_bytes()
    created = caller.client.post(
        "/api/jobs", files={"file": ("customers.csv", content)}, data={"model": "churn", **fields}
    )
    assert created.status_code == 201, created.text
    done = caller.client.post("/process_file", params={"id": created.json()["id"]}).json()
    assert (done["status"], done["rows_total"], done["rows_failed"]) == ("PROCESSED", 2000, 0)
    result = caller.client.get(done["result_url"])
    sheet = openpyxl.load_workbook(io.BytesIO(result.content), read_only=True).active
    assert sheet is not None
    header, *rows = list(sheet.iter_rows(values_only=True))
    return pd.DataFrame(rows, columns=header)


def test_a_skops_pipeline_imports_and_scores_every_row_as_the_pipeline_does(
    admin: Caller, alice: Caller, churn: tuple[pd.DataFrame, Pipeline], tmp_path: Path
) -> None:
    frame, pipeline = churn
    path = tmp_path / "churn.skops"
    skops.io.dump(pipeline, path)

    detail = upload_model(admin, path.read_bytes(), "churn.skops", note="Q3 churn", activate="true")
    result = score(alice, frame, tmp_path)

    version = detail["versions"][0]  # type: ignore[index]
    assert (detail["name"], detail["active_version"], version["version"]) == ("churn", 1, 1)
    assert version["feature_kinds"] == {
        "age": "number",
        "income": "number",
        "region": "text",
        "plan": "text",
    }
    assert version["missing_allowed"] == list(CHURN_FEATURES)
    assert (version["source"], version["note"], version["warning"]) == (
        "imported from churn.skops",
        "Q3 churn",
        None,
    )
    assert (version["created_by"], version["estimator"]) == (
        admin.user.username,
        "HistGradientBoostingClassifier",
    )
    features = frame[list(CHURN_FEATURES)]
    assert list(result.columns)[-3:] == ["prediction", "probability", "error"]
    assert result["prediction"].tolist() == pipeline.predict(features).tolist()
    np.testing.assert_array_equal(
        result["probability"], pipeline.predict_proba(features).max(axis=1)
    )
    assert result["error"].isna().all()


@pytest.mark.slow  # MLflow saves the model: seconds each
def test_an_mlflow_zip_imports_and_gives_every_class_probability(
    admin: Caller, churn: tuple[pd.DataFrame, Pipeline], tmp_path: Path
) -> None:
    frame, pipeline = churn
    folder = save_mlflow(pipeline, frame, tmp_path / "churn_model")
    archive = Path(shutil.make_archive(str(folder), "zip", tmp_path, folder.name))

    upload_model(admin, archive.read_bytes(), "churn_model.zip")
    result = score(admin, frame, tmp_path, probabilities="all")

    expected = pipeline.predict_proba(frame[list(CHURN_FEATURES)])
    assert list(result.columns)[-4:] == ["prediction", "probability_no", "probability_yes", "error"]
    np.testing.assert_array_equal(result[["probability_no", "probability_yes"]], expected)


def test_predict_takes_text_and_null_for_an_imported_pipeline(
    admin: Caller, alice: Caller, churn: tuple[pd.DataFrame, Pipeline], tmp_path: Path
) -> None:
    pipeline = churn[1]
    upload_model(admin, skops.io.dumps(pipeline), "churn.skops")
    record = {"age": 61, "income": None, "region": "south", "plan": "pro"}

    answer = alice.client.post("/api/models/churn/predict", json=record)
    wrong = alice.client.post("/api/models/churn/predict", json={**record, "plan": 2})

    expected = pd.DataFrame([record]).astype({"income": float})
    assert answer.status_code == 200, answer.text
    assert answer.json()["prediction"] == pipeline.predict(expected)[0]
    assert answer.json()["probabilities"]["yes"] == pipeline.predict_proba(expected)[0][1]
    assert wrong.status_code == 422
    assert wrong.json()["error"]["message"] == "The record: plan must be a string, not 2."


def test_a_model_from_an_older_scikit_learn_shows_the_mismatch_and_scores(
    admin: Caller, alice: Caller
) -> None:
    upload_model(admin, OLD_MODEL.read_bytes(), OLD_MODEL.name)
    then = pd.read_csv(OLD_MODEL.with_name("churn-sklearn-1.8.0-scored.csv"))

    model = alice.client.get("/api/models/churn").json()["versions"][0]
    first = then.iloc[0]
    record = {f: None if pd.isna(first[f]) else first[f] for f in CHURN_FEATURES}
    answer = alice.client.post("/api/models/churn/predict", json=record).json()

    assert model["sklearn_version"] == "1.8.0"
    assert model["warning"].startswith("Saved with scikit-learn 1.8.0; this server runs")
    assert answer["prediction"] == first["prediction"]
    assert answer["probabilities"][answer["prediction"]] == pytest.approx(
        first["probability"], rel=1e-12
    )


def test_a_pickle_is_refused_over_http_and_changes_nothing(
    admin: Caller, churn: tuple[pd.DataFrame, Pipeline], settings: Settings, tmp_path: Path
) -> None:
    joblib.dump(churn[1], tmp_path / "churn.pkl")
    before_models, before_inputs = tree(settings.model_dir), tree(Path(settings.input_dir))

    response = admin.client.post(
        "/api/models/churn/versions",
        files={"file": ("churn.pkl", (tmp_path / "churn.pkl").read_bytes())},
    )

    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert message.startswith("churn.pkl is a pickle: loading it runs whatever code it holds")
    assert "skops.io.dump(model, 'model.skops')" in message
    assert (tree(settings.model_dir), tree(Path(settings.input_dir))) == (
        before_models,
        before_inputs,
    )


def test_a_type_outside_the_allow_list_is_refused_naming_it(
    admin: Caller, settings: Settings
) -> None:
    custom = make_pipeline(FunctionTransformer(eval), LogisticRegression())
    before = tree(settings.model_dir)

    response = admin.client.post(
        "/api/models/churn/versions", files={"file": ("custom.skops", skops.io.dumps(custom))}
    )

    assert response.status_code == 422, response.text
    assert (
        "It holds the type builtins.eval, which batchscore does not trust"
        in (response.json()["error"]["message"])
    )
    assert tree(settings.model_dir) == before


def test_only_an_admin_imports(
    alice: Caller, churn: tuple[pd.DataFrame, Pipeline], settings: Settings
) -> None:
    before = tree(settings.model_dir), tree(Path(settings.input_dir))

    response = alice.client.post(
        "/api/models/churn/versions", files={"file": ("churn.skops", skops.io.dumps(churn[1]))}
    )

    assert response.status_code == 403
    assert (
        "Only an admin may train, import or activate models" in response.json()["error"]["message"]
    )
    assert (tree(settings.model_dir), tree(Path(settings.input_dir))) == before

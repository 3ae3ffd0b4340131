"""A score job sums up its predictions (class counts or a histogram, how sure the classifier
was) and, when the file holds the model's target column, how right they were: the same figures
as scikit-learn computes from the result, in the job's JSON and the workbook's about sheet."""

from __future__ import annotations

import io
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pytest
from results import about_sheet
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    r2_score,
)

from batchscore.config import Settings
from batchscore.model.train import TrainPlan, train

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, demo_model_dir: Path) -> Settings:
    """The demo's iris model and a regressor trained on examples/housing.csv; chunks of 40 rows,
    so the figures add up across chunks."""
    model_dir = tmp_path / "models"
    shutil.copytree(demo_model_dir, model_dir)
    table = pd.read_csv(EXAMPLES / "housing.csv", dtype=str, keep_default_na=False)
    train(model_dir, "housing", table, TrainPlan(target="MEDV"), data_sha256="0" * 64)
    return replace(settings, model_dir=model_dir, chunk_rows=40)


def scored(
    caller: Caller, jobs: Jobs, content: bytes, result_format: str = "xlsx", **fields: str
) -> tuple[dict[str, Any], pd.DataFrame, bytes]:
    """Upload the CSV, process it, and read the result back."""
    created = jobs.upload(caller, content, filename="data.csv", format=result_format, **fields)
    assert created.status_code == 201, created.text
    done = caller.client.post("/process_file", params={"id": created.json()["id"]}).json()
    assert done["status"] == "PROCESSED", done
    assert caller.client.get(done["url"]).json()["summary"] == done["summary"]  # it is kept
    result = caller.client.get(done["result_url"]).content
    if result_format == "csv":
        table = pd.read_csv(io.BytesIO(result))
    else:
        table = pd.read_excel(io.BytesIO(result), sheet_name="predictions", engine="openpyxl")
    return done, table, result


def test_iris_with_its_species_shows_accuracy_f1_confusion_and_counts(
    alice: Caller, jobs: Jobs
) -> None:
    done, result, workbook = scored(alice, jobs, (EXAMPLES / "iris.csv").read_bytes())

    summary = done["summary"]
    truth, predicted = result["species"], result["prediction"]
    classes = ["setosa", "versicolor", "virginica"]
    assert summary["rows"] == 150
    assert summary["class_counts"] == predicted.value_counts().reindex(classes).to_dict()
    evaluation = summary["evaluation"]
    assert (evaluation["target"], evaluation["rows"]) == ("species", 150)
    assert evaluation["accuracy"] == pytest.approx(accuracy_score(truth, predicted), abs=1e-12)
    f1 = f1_score(truth, predicted, average="macro")
    assert evaluation["f1_macro"] == pytest.approx(f1, abs=1e-12)
    assert evaluation["confusion"] == {
        "labels": classes,
        "counts": confusion_matrix(truth, predicted, labels=classes).tolist(),
    }
    top = summary["top_probability"]
    expected, _ = np.histogram(result["probability"], bins=top["edges"])
    assert top["counts"] == expected.tolist() and top["edges"][0] == 0 and top["edges"][-1] == 1
    about = about_sheet(workbook)
    assert about["Rows with a known species"] == 150
    assert about["Accuracy"] == pytest.approx(evaluation["accuracy"])
    assert about["Macro F1"] == pytest.approx(f1)


def test_housing_with_its_prices_shows_r2_mae_and_the_points_of_a_scatter(
    alice: Caller, jobs: Jobs
) -> None:
    content = (EXAMPLES / "housing.csv").read_bytes()
    done, result, _ = scored(alice, jobs, content, "csv", model="housing")

    summary = done["summary"]
    truth, predicted = result["MEDV"], result["prediction"]
    evaluation = summary["evaluation"]
    assert (evaluation["target"], evaluation["rows"]) == ("MEDV", len(result))
    assert evaluation["r2"] == pytest.approx(r2_score(truth, predicted), abs=1e-9)
    assert evaluation["mae"] == pytest.approx(mean_absolute_error(truth, predicted), abs=1e-9)
    pairs = set(zip(truth, predicted, strict=True))
    assert len(evaluation["points"]) == min(len(result), 400)
    assert {tuple(p) for p in evaluation["points"]} <= pairs
    histogram = summary["predictions"]
    assert summary["sampled"] == len(result) and sum(histogram["counts"]) == len(result)
    assert histogram["edges"][0] == predicted.min() and histogram["edges"][-1] == predicted.max()
    assert "class_counts" not in summary and "top_probability" not in summary


def test_a_file_without_the_target_gets_counts_but_no_evaluation(alice: Caller, jobs: Jobs) -> None:
    iris = pd.read_csv(EXAMPLES / "iris.csv").drop(columns="species")
    done, _, workbook = scored(alice, jobs, iris.to_csv(index=False).encode())

    assert "evaluation" not in done["summary"]
    assert sum(done["summary"]["class_counts"].values()) == 150
    assert not any(str(item).startswith("Rows with a known") for item in about_sheet(workbook))


def test_answers_that_are_empty_or_no_class_count_as_unknown_and_as_wrong(
    alice: Caller, jobs: Jobs
) -> None:
    iris = pd.read_csv(EXAMPLES / "iris.csv")
    iris.loc[:9, "species"] = ""  # not known: left out of the evaluation
    iris.loc[10:14, "species"] = "Setosa?"  # no class of the model: never right
    done, result, _ = scored(alice, jobs, iris.to_csv(index=False).encode(), "csv")

    evaluation = done["summary"]["evaluation"]
    known = result.iloc[10:]
    assert evaluation["rows"] == 140
    right = (known["species"] == known["prediction"]).sum()
    assert evaluation["accuracy"] == pytest.approx(right / 140)
    assert evaluation["confusion"]["labels"][-1] == "(not a class)"
    assert sum(evaluation["confusion"]["counts"][-1]) == 5
    assert done["summary"]["rows"] == 150  # every row was scored and counted


def test_rows_with_errors_are_left_out_of_every_figure(alice: Caller, jobs: Jobs) -> None:
    iris = pd.read_csv(EXAMPLES / "iris.csv", dtype=str)
    iris.loc[:4, "sepal_width"] = "n/a"
    done, _, _ = scored(alice, jobs, iris.to_csv(index=False).encode(), "csv")

    summary = done["summary"]
    assert done["rows_failed"] == 5
    assert summary["rows"] == 145 == sum(summary["class_counts"].values())
    assert summary["evaluation"]["rows"] == 145
    assert sum(summary["top_probability"]["counts"]) == 145


def test_a_file_far_from_the_training_data_shows_its_drifted_features(
    alice: Caller, jobs: Jobs
) -> None:
    iris = pd.read_csv(EXAMPLES / "iris.csv")
    iris.loc[:99, "petal_length"] += 8  # two thirds of the flowers far beyond any trained on
    done, result, _ = scored(alice, jobs, iris.to_csv(index=False).encode(), "csv")

    drift = done["summary"]["drift"]
    worst = drift["features"][0]
    assert (worst["feature"], worst["shifted"], worst["outside"]) == ("petal_length", True, 100)
    assert worst["psi"] > drift["threshold"] == 0.25
    assert {f["feature"] for f in drift["features"] if f["shifted"]} == {"petal_length"}
    assert drift["rows_outside"] == 100
    flagged = result["warning"].notna()
    assert flagged.sum() == 100 and flagged.iloc[:100].all()
    assert result["warning"].iloc[0].startswith("petal_length 9.4 (training: 1 to 6.9)")
    assert result["prediction"].notna().all()  # a warning, not an error: every row scored


def test_a_job_may_leave_out_the_warning_column_and_still_see_the_drift(
    alice: Caller, jobs: Jobs
) -> None:
    iris = pd.read_csv(EXAMPLES / "iris.csv")
    iris["sepal_width"] *= 3
    done, result, _ = scored(
        alice, jobs, iris.to_csv(index=False).encode(), "csv", warnings="false"
    )

    assert "warning" not in result.columns and list(result.columns)[-1] == "error"
    assert done["summary"]["drift"]["features"][0]["feature"] == "sepal_width"
    assert done["summary"]["drift"]["rows_outside"] == 150


def test_a_listing_leaves_summaries_out_unless_asked(alice: Caller, jobs: Jobs) -> None:
    done, _, _ = scored(alice, jobs, (EXAMPLES / "iris.csv").read_bytes(), "csv")

    [listed] = alice.client.get("/api/jobs").json()["jobs"]
    assert listed["summary"] is None  # a panel's poll decodes no histograms
    [full] = alice.client.get("/api/jobs", params={"summaries": "true"}).json()["jobs"]
    assert full["summary"] == done["summary"] and full["summary"]["evaluation"]["rows"] == 150


def test_an_unreadable_warnings_choice_is_refused_leaving_no_job_and_no_file(
    alice: Caller, jobs: Jobs, settings: Settings
) -> None:
    refused = jobs.upload(alice, (EXAMPLES / "iris.csv").read_bytes(), warnings="perhaps")

    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == (
        "The form field 'warnings' must be true or false, not 'perhaps'."
    )
    assert alice.client.get("/api/jobs").json()["total"] == 0
    assert list(Path(settings.input_dir).iterdir()) == []


@pytest.mark.libreoffice
def test_a_libreoffice_workbook_and_a_pandas_parquet_file_sum_up_as_their_csv_does(
    alice: Caller, jobs: Jobs, tmp_path: Path
) -> None:
    """The files analysts and programs really send: iris saved by LibreOffice Calc and by
    pandas.to_parquet, with a shifted column, against the CSV they came from."""
    iris = pd.read_csv(EXAMPLES / "iris.csv")
    iris.loc[:29, "sepal_width"] += 3
    source = tmp_path / "iris.csv"
    iris.to_csv(source, index=False)
    iris.to_parquet(tmp_path / "iris.parquet", index=False)
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is not installed (scripts/system-packages)"
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--headless",
            "--infilter=CSV:44,34,76",
            "--convert-to",
            "xlsx",
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )

    def summary_of(name: str) -> dict[str, Any]:
        created = jobs.upload(alice, (tmp_path / name).read_bytes(), filename=name)
        assert created.status_code == 201, created.text
        done = alice.client.post("/process_file", params={"id": created.json()["id"]}).json()
        assert done["status"] == "PROCESSED", done
        summary: dict[str, Any] = done["summary"]
        return summary

    expected = summary_of("iris.csv")
    assert expected["drift"]["rows_outside"] == 30 and expected["evaluation"]["rows"] == 150
    assert summary_of("iris.xlsx") == expected
    assert summary_of("iris.parquet") == expected

"""A job's page in a real browser: the predictions drawn, how right they were when the file
held the answers (the figures scikit-learn computes from the result), and the columns far from
the training data."""

from __future__ import annotations

import io
import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from browser import sign_in
from playwright.sync_api import Page, expect
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    mean_absolute_error,
    r2_score,
)

from batchscore.config import Settings
from batchscore.model.train import TrainPlan, train
from batchscore.scheduler.processor import process_one

pytestmark = [pytest.mark.browser, pytest.mark.network]

if TYPE_CHECKING:
    from api.conftest import Caller, Jobs

EXAMPLES = Path(__file__).parents[3] / "examples"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, demo_model_dir: Path) -> Settings:
    """The demo's iris model and a regressor trained on examples/housing.csv."""
    model_dir = tmp_path / "models"
    shutil.copytree(demo_model_dir, model_dir)
    table = pd.read_csv(EXAMPLES / "housing.csv", dtype=str, keep_default_na=False)
    train(model_dir, "housing", table, TrainPlan(target="MEDV"), data_sha256="0" * 64)
    return replace(settings, model_dir=model_dir)


def processed(
    caller: Caller, jobs: Jobs, content: bytes, **fields: str
) -> tuple[int, pd.DataFrame]:
    """Upload a CSV, process it; the job's id and its result as a table."""
    job = jobs.upload(caller, content, filename="data.csv", format="csv", **fields).json()
    process_one(jobs.ctx, job_id=job["id"])
    result = caller.client.get(f"/api/jobs/{job['id']}/result").content
    return job["id"], pd.read_csv(io.BytesIO(result))


def test_iris_with_its_species_shows_accuracy_the_confusion_matrix_and_the_class_counts(
    page: Page, alice: Caller, jobs: Jobs
) -> None:
    job_id, result = processed(alice, jobs, (EXAMPLES / "iris.csv").read_bytes())
    truth, predicted = result["species"], result["prediction"]
    sign_in(page, alice)
    page.goto(f"/jobs/{job_id}")

    scores = page.locator("#evaluation .scores")
    expect(scores).to_contain_text(f"{accuracy_score(truth, predicted) * 100:.1f}%")
    expect(scores).to_contain_text(f"{f1_score(truth, predicted, average='macro'):.3f}")
    classes = ["setosa", "versicolor", "virginica"]
    matrix = confusion_matrix(truth, predicted, labels=classes)
    for row, counts in zip(page.locator("#confusion tbody tr").all(), matrix, strict=True):
        expect(row.locator("td")).to_have_text([str(n) for n in counts])
    bars = page.locator("figure", has_text="Rows per predicted class").locator("rect title")
    counted = predicted.value_counts()
    expect(bars).to_have_text([f"{label}: {n}" for label, n in counted.items()])


def test_housing_with_its_prices_shows_r2_mae_and_the_scatter(
    page: Page, alice: Caller, jobs: Jobs
) -> None:
    content = (EXAMPLES / "housing.csv").read_bytes()
    job_id, result = processed(alice, jobs, content, model="housing")
    truth, predicted = result["MEDV"], result["prediction"]
    sign_in(page, alice)
    page.goto(f"/jobs/{job_id}")

    scores = page.locator("#evaluation .scores")
    expect(scores).to_contain_text(f"{r2_score(truth, predicted):.3f}")
    expect(scores).to_contain_text(f"{mean_absolute_error(truth, predicted):,.3g}")
    scatter = page.locator("figure", has_text="Predicted against actual MEDV")
    expect(scatter.locator("circle.dot")).to_have_count(min(len(result), 400))
    expect(page.locator("figure", has_text="Predictions").locator("rect.bar")).to_have_count(20)


def test_a_file_far_from_the_training_data_shows_the_shifted_column_and_warnings(
    page: Page, alice: Caller, jobs: Jobs
) -> None:
    iris = pd.read_csv(EXAMPLES / "iris.csv")
    iris.loc[:59, "petal_width"] += 5
    job_id, result = processed(alice, jobs, iris.to_csv(index=False).encode())
    sign_in(page, alice)
    page.goto(f"/jobs/{job_id}")

    card = page.locator("#drift")
    expect(card).to_contain_text("60 rows hold a value outside anything training saw")
    shifted = card.locator('tr[data-feature="petal_width"]')
    expect(shifted.locator(".badge")).to_have_text("shifted")
    expect(shifted.locator("td").last).to_have_text("60")
    expect(card.locator(".badge", has_text="shifted")).to_have_count(1)
    expect(card.locator("figure figcaption")).to_have_text([re.compile("^petal_width: training")])
    assert result["warning"].notna().sum() == 60
    first = page.locator("section[aria-labelledby=first-rows] tbody tr").first
    expect(first).to_contain_text(re.compile(r"petal_width 5\.2 \(training: 0\.1 to 2\.5\)"))


def test_a_job_without_a_summary_shows_no_figures(page: Page, alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice, "FAILED")
    sign_in(page, alice)
    page.goto(f"/jobs/{job.id}")

    expect(page.locator("h1")).to_be_visible()
    expect(page.locator("#evaluation, #predictions, #drift, svg.chart")).to_have_count(0)

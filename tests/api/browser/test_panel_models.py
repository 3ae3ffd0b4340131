"""The models pages in a real browser: an admin imports, trains and activates from the panel
and sees the metrics across versions; anyone tries a record and gets what the API answers."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import skops.io
from browser import sign_in
from owned_models import churn_frame, churn_pipeline
from playwright.sync_api import Page, expect

from batchscore.config import Settings
from batchscore.scheduler.context import Context
from batchscore.scheduler.processor import process_one

pytestmark = [pytest.mark.browser, pytest.mark.network]

if TYPE_CHECKING:
    from api.conftest import Caller

IRIS = Path(__file__).parents[3] / "examples" / "iris.csv"
RECORD = {"sepal_length": "5.9", "sepal_width": "3", "petal_length": "4.2", "petal_width": "1.5"}


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, demo_model_dir: Path) -> Settings:
    """The test's own model folder (a copy of the demo's): these tests add versions."""
    model_dir = tmp_path / "models"
    shutil.copytree(demo_model_dir, model_dir)
    return replace(settings, model_dir=model_dir)


@pytest.fixture
def churn_skops(tmp_path: Path) -> Path:
    """A data scientist's pipeline (text columns, imputers), saved with skops."""
    path = tmp_path / "churn.skops"
    skops.io.dump(churn_pipeline(churn_frame(400)), path)
    return path


def follow_job(page: Page, form: str, ctx: Context) -> None:
    """The job the form queued runs now (as a processor would); the page follows it."""
    link = page.locator(f'form[aria-label="{form}"] [data-form-message] a')
    expect(link).to_have_text(re.compile(r"Job #\d+"))
    process_one(ctx, job_id=int(link.inner_text().removeprefix("Job #")))


def test_an_admin_imports_trains_and_activates_then_sees_two_points_per_metric(
    page: Page, admin: Caller, ctx: Context, churn_skops: Path
) -> None:
    sign_in(page, admin)
    page.get_by_role("link", name="Models").click()
    expect(page.locator("#models-table tbody tr")).to_have_count(1)

    importing = page.get_by_role("form", name="Import")
    importing.get_by_label("Model name").fill("churn")
    importing.get_by_label("Model file").set_input_files(churn_skops)
    importing.get_by_label("Note").fill("from the notebook")
    importing.get_by_role("button", name="Import").click()

    page.wait_for_url("**/models/churn")
    expect(page.locator("#toasts")).to_contain_text("churn v1 imported.")
    expect(page.locator("#features-table tbody tr")).to_have_count(4)
    expect(page.locator("#features-table")).to_contain_text("filled in by the model")
    version = page.locator('#versions-table tr[data-version="1"]')
    expect(version).to_contain_text("imported from churn.skops")
    expect(version).to_contain_text(f"by {admin.user.username}")
    expect(version).to_contain_text("from the notebook")

    page.goto("/models/iris")
    training = page.get_by_role("form", name="Train")
    expect(training.get_by_label("Target column")).to_have_value("species")
    training.get_by_label("Labelled data").set_input_files(IRIS)
    training.get_by_label("Estimator").select_option("forest")
    training.get_by_role("button", name="Train").click()
    follow_job(page, "Train", ctx)

    expect(page.locator("#toasts")).to_contain_text("iris v2 is ready")
    new = page.locator('#versions-table tr[data-version="2"]')
    expect(new).to_contain_text(re.compile(r"Accuracy 0\.9\d+, Macro F1 0\.9"))
    expect(new).to_contain_text("RandomForestClassifier")
    expect(new.locator(".badge")).to_have_count(0)  # not active yet
    new.get_by_role("button", name="Activate").click()

    expect(page.locator("#toasts")).to_contain_text("iris v2 now predicts.")
    expect(new.locator(".badge")).to_have_text("active")
    expect(page.locator("#model-title + .badge")).to_have_text("v2 active")
    accuracy = page.locator("figure", has_text="Accuracy by version")
    expect(accuracy.locator("circle.point")).to_have_count(2)
    expect(accuracy.locator("circle.point title")).to_have_text(
        [re.compile(r"v1: "), re.compile(r"v2: ")]
    )
    assert admin.client.get("/api/models/iris").json()["active_version"] == 2


def test_a_plain_user_sees_no_model_changes_and_their_routes_refuse_her(
    page: Page, alice: Caller
) -> None:
    sign_in(page, alice)
    for path in ("/models", "/models/iris"):
        page.goto(path)
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        expect(page.locator("form[data-api-form]")).to_have_count(0)
        expect(page.get_by_role("button", name="Activate")).to_have_count(0)
    expect(page.locator("#try-form")).to_be_visible()  # trying is for everyone
    for route in ("train", "data", "versions"):
        refused = alice.client.post(
            f"/api/models/iris/{route}", files={"file": ("x.csv", b"a\n1\n")}
        )
        assert refused.status_code == 403, route
    assert alice.client.post("/api/models/iris/versions/1/activate").status_code == 403


def test_try_it_shows_what_the_api_predicts_with_each_class_probability(
    page: Page, alice: Caller
) -> None:
    sign_in(page, alice)
    page.goto("/models/iris")
    form = page.locator("#try-form")
    for feature, value in RECORD.items():
        form.get_by_label(feature).fill(value)
    form.get_by_role("button", name="Predict").click()

    answer = alice.client.post(
        "/api/models/iris/predict", json={k: float(v) for k, v in RECORD.items()}
    ).json()
    expect(page.locator("#try-prediction")).to_have_text(answer["prediction"])
    chart = page.locator("#try-result svg.chart")
    ranked = sorted(answer["probabilities"].items(), key=lambda item: -item[1])
    expect(chart.locator("text.label")).to_have_text([label for label, _ in ranked])
    expect(chart.locator("text.value")).to_have_text([f"{p * 100:.1f}%" for _, p in ranked])


def test_try_it_takes_text_and_empty_cells_for_an_imported_pipeline(
    page: Page, admin: Caller, alice: Caller, churn_skops: Path
) -> None:
    imported = admin.client.post(
        "/api/models/churn/versions", files={"file": ("churn.skops", churn_skops.read_bytes())}
    )
    assert imported.status_code == 201, imported.text
    record = {"age": 61, "income": None, "region": "south", "plan": "pro"}
    sign_in(page, alice)
    page.goto("/models/churn")
    form = page.locator("#try-form")
    form.get_by_label("age").fill("61")
    form.get_by_label("region").fill("south")
    form.get_by_label("plan").fill("pro")
    form.get_by_role("button", name="Predict").click()

    answer = alice.client.post("/api/models/churn/predict", json=record).json()
    expect(page.locator("#try-prediction")).to_have_text(answer["prediction"])
    expect(page.locator("#try-result text.value")).to_have_count(2)


def test_a_record_the_model_cannot_take_is_refused_in_the_apis_words(
    page: Page, alice: Caller
) -> None:
    sign_in(page, alice)
    page.goto("/models/iris")
    page.locator("#try-form").get_by_role("button", name="Predict").click()

    expect(page.locator("#try-result .alert-error")).to_contain_text("sepal_length")
    expect(page.locator("#try-prediction")).to_have_count(0)


def test_an_incremental_model_learns_new_rows_from_its_page(
    page: Page, admin: Caller, ctx: Context
) -> None:
    sales = (IRIS.parent / "advertising.csv").read_bytes()
    queued = admin.client.post(
        "/api/models/sales/train",
        files={"file": ("advertising.csv", sales)},
        data={"target": "Sales", "estimator": "sgd"},
    )
    process_one(ctx, job_id=queued.json()["id"])
    sign_in(page, admin)
    page.goto("/models/iris")
    expect(page.get_by_role("form", name="Feed new rows")).to_have_count(0)  # cannot learn

    page.goto("/models/sales")
    expect(page.locator(".meta")).to_contain_text("SGDRegressor")
    feeding = page.get_by_role("form", name="Feed new rows")
    feeding.get_by_label("Labelled rows").set_input_files(IRIS.parent / "advertising.csv")
    feeding.get_by_role("button", name="Learn").click()
    follow_job(page, "Feed new rows", ctx)

    expect(page.locator("#toasts")).to_contain_text("sales v2 is ready")
    learnt = page.locator('#versions-table tr[data-version="2"]')
    expect(learnt).to_contain_text(f"by {admin.user.username}")
    expect(learnt).to_contain_text(re.compile(r"R² 0\.\d+, MAE \d"))


def test_a_training_file_without_the_target_is_refused_in_the_form(
    page: Page, admin: Caller, tmp_path: Path
) -> None:
    (tmp_path / "unlabelled.csv").write_text("sepal_length,sepal_width\n5.1,3.5\n")
    sign_in(page, admin)
    page.goto("/models/iris")
    training = page.get_by_role("form", name="Train")
    training.get_by_label("Labelled data").set_input_files(tmp_path / "unlabelled.csv")
    training.get_by_role("button", name="Train").click()

    message = training.locator("[data-form-message]")
    expect(message).to_have_class(re.compile("alert-error"))
    expect(message).to_contain_text("lacks the column(s) species")
    assert admin.client.get("/api/jobs").json()["total"] == 0

"""The panel's main pages at a phone's and a laptop's width: nothing runs off the screen, and
the screenshots the README shows (docs/screens/) are taken of what a user sees."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
import skops.io
from browser import DESKTOP, PHONE, sign_in
from factories import iris_csv
from owned_models import churn_frame, churn_pipeline
from playwright.sync_api import Page, ViewportSize, expect

from batchscore.config import Settings
from batchscore.model.train import TrainPlan, train
from batchscore.scheduler.processor import process_one

pytestmark = [pytest.mark.browser, pytest.mark.network]

if TYPE_CHECKING:
    from api.conftest import Caller, Jobs

ROOT = Path(__file__).parents[3]
EXAMPLES = ROOT / "examples"
SCREENS = ROOT / "docs" / "screens"
# Elements past the right edge, but for the previews of a result's rows (they hold the user's
# columns, as many as the file has, so they scroll sideways on purpose) and what only screen
# readers get (a phone's card tables keep their header for them); and tables that need
# scrolling sideways to be seen whole.
OVERFLOWING = """() => [
  ...[...document.querySelectorAll('body *')]
    .filter(e => !e.closest('.table-scroll, .visually-hidden, table.cards thead'))
    .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5),
  ...[...document.querySelectorAll('.table-wrap')].filter(e => e.scrollWidth > e.clientWidth + 1),
].map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + '.' + e.className)"""


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, demo_model_dir: Path) -> Settings:
    """The demo's iris model, a housing regressor trained here, and a churn pipeline imported."""
    model_dir = tmp_path / "models"
    shutil.copytree(demo_model_dir, model_dir)
    table = pd.read_csv(EXAMPLES / "housing.csv", dtype=str, keep_default_na=False)
    train(model_dir, "housing", table, TrainPlan(target="MEDV"), data_sha256="0" * 64)
    return replace(settings, model_dir=model_dir)


@pytest.fixture
def scored(admin: Caller, jobs: Jobs, tmp_path: Path) -> int:
    """A working day's jobs; the id of examples/iris.csv's, which holds the species."""
    path = tmp_path / "churn.skops"
    skops.io.dump(churn_pipeline(churn_frame(400)), path)
    imported = admin.client.post(
        "/api/models/churn/versions",
        files={"file": ("churn.skops", path.read_bytes())},
        data={"note": "from the notebook"},
    )
    assert imported.status_code == 201, imported.text
    for name, content, model in (
        ("housing-2026-11.csv", (EXAMPLES / "housing.csv").read_bytes(), "housing"),
        ("customers-q3.csv", iris_csv(1200).encode(), "iris"),
    ):
        job = jobs.upload(admin, content, filename=name, model=model).json()
        process_one(jobs.ctx, job_id=job["id"])
    jobs.make(admin, "FAILED", filename="export-from-crm.csv")
    iris = jobs.upload(admin, (EXAMPLES / "iris.csv").read_bytes(), filename="iris.csv").json()
    process_one(jobs.ctx, job_id=iris["id"])
    jobs.make(admin, filename="Quarterly_Sales_Report_With_A_Long_Name_2026-12.csv")
    return int(iris["id"])


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["390", "1280"])
@pytest.mark.parametrize(
    ("screen", "path"),
    [("jobs", "/"), ("job", "/jobs/{iris}"), ("models", "/models"), ("model", "/models/iris")],
)
def test_nothing_overflows_the_screen_and_the_screenshot_is_saved(
    page: Page, admin: Caller, scored: int, viewport: ViewportSize, screen: str, path: str
) -> None:
    page.set_viewport_size(viewport)
    sign_in(page, admin)
    page.goto(path.format(iris=scored))
    expect(page.locator("main h1, main h2").first).to_be_visible()
    if screen == "jobs":
        expect(page.locator("#jobs-body tr[data-id]")).to_have_count(5)
    if screen == "job":
        expect(page.locator("#evaluation")).to_be_visible()

    assert page.evaluate(OVERFLOWING) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    SCREENS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate("document.documentElement.scrollHeight")
    page.screenshot(
        path=str(SCREENS / f"{screen}-{viewport['width']}.png"),
        full_page=True,
        clip={"x": 0, "y": 0, "width": viewport["width"], "height": min(height, 1800)},
    )

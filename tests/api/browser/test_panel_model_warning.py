"""The panel warns, in a real browser, when the chosen model was saved with another
scikit-learn than the server runs."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from browser import sign_in
from playwright.sync_api import Page, expect

from batchscore.config import Settings
from batchscore.model.importing import ImportPlan, import_model

pytestmark = [pytest.mark.browser, pytest.mark.network]

if TYPE_CHECKING:
    from api.conftest import Caller

OLD_MODEL = Path(__file__).parents[2] / "data" / "models" / "churn-sklearn-1.8.0.skops"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, demo_model_dir: Path) -> Settings:
    """The demo model, and a churn model saved by scikit-learn 1.8.0."""
    model_dir = tmp_path / "models"
    shutil.copytree(demo_model_dir, model_dir)
    import_model(model_dir, "churn", OLD_MODEL, ImportPlan())
    return replace(settings, model_dir=model_dir)


def test_choosing_a_model_from_another_scikit_learn_shows_a_warning(
    page: Page, alice: Caller
) -> None:
    sign_in(page, alice)
    warning = page.locator("#model-warning")
    expect(warning).to_be_hidden()  # iris, the default, was saved by this scikit-learn

    page.get_by_label("Model").select_option("churn")

    expect(warning).to_be_visible()
    expect(warning).to_contain_text("Saved with scikit-learn 1.8.0; this server runs")
    expect(page.locator("#model-features")).to_have_text("Needs columns: age income region plan")
    page.get_by_label("Model").select_option("iris")
    expect(warning).to_be_hidden()

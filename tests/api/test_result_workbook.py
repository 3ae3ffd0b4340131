"""The result workbook an Excel user gets: fitted columns, a filter, percentages, sensible
decimals, and an 'about' sheet saying what made it; LibreOffice shows it the same way."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from dataclasses import replace
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openpyxl
import pandas as pd
import pytest
from factories import IRIS_ROW, csv_text
from results import about_sheet

from batchscore.config import Settings
from batchscore.model.train import TrainPlan, train

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture
def settings(settings: Settings, tmp_path: Path, demo_model_dir: Path) -> Settings:
    """The test's own model folder: the demo's, and a regressor trained on examples/housing.csv."""
    model_dir = tmp_path / "models"
    shutil.copytree(demo_model_dir, model_dir)
    table = pd.read_csv(EXAMPLES / "housing.csv", dtype=str, keep_default_na=False)
    train(model_dir, "housing", table, TrainPlan(target="MEDV"), data_sha256="0" * 64)
    return replace(settings, model_dir=model_dir)


def scored(alice: Caller, jobs: Jobs, content: str, **fields: str) -> tuple[dict[str, Any], bytes]:
    created = jobs.upload(alice, content, filename="flowers.csv", **fields)
    assert created.status_code == 201, created.text
    done = alice.client.post("/process_file", params={"id": created.json()["id"]}).json()
    assert done["status"] == "PROCESSED", done
    return done, alice.client.get(done["result_url"]).content


def test_the_about_sheet_says_what_made_the_result(alice: Caller, jobs: Jobs) -> None:
    content = csv_text([IRIS_ROW] * 9 + [("6.7", "3.0", "5.2", "x")])  # 10 % errors: allowed
    done, result = scored(alice, jobs, content)

    about = about_sheet(result)
    assert {key: about[key] for key in list(about)[:7]} == {
        "Job": done["id"],
        "File": "flowers.csv",
        "Model": "iris, version 1",
        "Rows": 10,
        "Rows scored": 9,
        "Rows with errors": 1,
        "Read as": "CSV, UTF-8, comma-separated, decimal point",
    }
    started = done["started_at"][:19].replace("T", " ")
    assert about["Started"] == f"{started} UTC"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", str(about["Written"]))
    assert about["Written by"] == f"batchscore {version('batchscore')}"


def test_probabilities_show_as_percentages_over_a_filtered_fitted_header(
    alice: Caller, jobs: Jobs
) -> None:
    _, result = scored(alice, jobs, csv_text([IRIS_ROW]), probabilities="all")
    sheet = openpyxl.load_workbook(io.BytesIO(result))["predictions"]

    header = [str(cell.value) for cell in sheet[1]]
    assert header[4:] == [
        "prediction",
        "probability_setosa",
        "probability_versicolor",
        "probability_virginica",
        "warning",
        "error",
    ]
    assert {sheet.cell(2, n).number_format for n in (6, 7, 8)} == {"0.0%"}
    assert 0.5 < sheet.cell(2, 6).value <= 1  # type: ignore[operator]  # the whole probability
    assert sheet.auto_filter.ref == "A1:J2"
    widths = [sheet.column_dimensions[letter].width for letter in "ABCDEFGHIJ"]
    assert all(width >= len(name) + 3 for width, name in zip(widths, header, strict=True))


@pytest.mark.libreoffice
def test_libreoffice_shows_the_result_as_excel_would(
    alice: Caller, jobs: Jobs, tmp_path: Path
) -> None:
    """Regression prices to two decimals and class probabilities as percentages, in the text
    LibreOffice displays (its CSV export writes cells as shown)."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is not installed (scripts/system-packages)"
    rows = (EXAMPLES / "housing.csv").read_text().splitlines()[:3]
    _, prices = scored(alice, jobs, "\n".join(rows) + "\n", model="housing")
    _, flowers = scored(alice, jobs, csv_text([IRIS_ROW]))
    (tmp_path / "prices.xlsx").write_bytes(prices)
    (tmp_path / "flowers.xlsx").write_bytes(flowers)

    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--headless",
            "--convert-to",
            # UTF-8, and "save cell contents as shown" (the 9th option): the text on screen
            "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,true",
            "--outdir",
            str(tmp_path / "shown"),
            str(tmp_path / "prices.xlsx"),
            str(tmp_path / "flowers.xlsx"),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )

    price_rows = (tmp_path / "shown" / "prices.csv").read_text().splitlines()
    exact = openpyxl.load_workbook(io.BytesIO(prices))["predictions"]
    assert price_rows[0].split(",")[-3:] == ["prediction", "warning", "error"]
    shown_price = price_rows[1].split(",")[-3]
    assert re.fullmatch(r"\d+\.\d\d", shown_price), price_rows[1]
    assert float(shown_price) == round(exact.cell(2, exact.max_column - 2).value, 2)  # type: ignore[arg-type]
    flower = (tmp_path / "shown" / "flowers.csv").read_text().splitlines()[1].split(",")
    assert flower[4] == "setosa"
    assert re.fullmatch(r"\d{1,3}\.\d%", flower[5]), flower

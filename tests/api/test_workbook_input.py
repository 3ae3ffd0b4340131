"""Workbooks as input: an xlsx made by openpyxl, and an xlsx and an ods made by LibreOffice from
a CSV, each scoring exactly as its CSV twin does."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import openpyxl
import pytest
from factories import IRIS_HEADER, IRIS_ROW, csv_text

from batchscore.config import Settings
from batchscore.scheduler import sheets

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs

ROWS = [(*IRIS_ROW, "Köln", "007"), ("6.7", "3.0", "5.2", "2.3", "", "12")]
HEADER = (*IRIS_HEADER, "city", "code")


def scored(alice: Caller, jobs: Jobs, content: bytes, name: str) -> list[tuple[object, ...]]:
    created = jobs.upload(alice, content, filename=name)
    assert created.status_code == 201, created.text
    done = alice.client.post("/process_file", params={"id": created.json()["id"]}).json()
    assert (done["status"], done["rows_total"], done["rows_failed"]) == ("PROCESSED", 2, 0), done
    book = openpyxl.load_workbook(io.BytesIO(alice.client.get(done["result_url"]).content))
    return [tuple(c.value for c in row) for row in book.active.iter_rows()]  # type: ignore[union-attr]


def test_an_xlsx_made_by_openpyxl_scores_like_its_csv_twin(
    alice: Caller, jobs: Jobs, tmp_path: Path
) -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    sheet.append([5.1, 3.5, 1.4, 0.2, "Köln", "007"])  # numbers as numbers, a code as text
    sheet.append([6.7, 3, 5.2, 2.3, None, 12])
    book.save(tmp_path / "flowers.xlsx")

    from_xlsx = scored(alice, jobs, (tmp_path / "flowers.xlsx").read_bytes(), "flowers.xlsx")
    from_csv = scored(alice, jobs, csv_text(ROWS, HEADER).encode(), "flowers.csv")

    assert from_xlsx == from_csv
    assert from_xlsx[1][:7] == (5.1, 3.5, 1.4, 0.2, "Köln", "007", "setosa")


@pytest.mark.libreoffice
@pytest.mark.parametrize("extension", ["xlsx", "ods", "xls"])
def test_a_workbook_libreoffice_made_from_a_csv_scores_like_it(
    alice: Caller, jobs: Jobs, tmp_path: Path, extension: str
) -> None:
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    assert soffice, "LibreOffice is not installed (scripts/system-packages)"
    rows = [row[:5] for row in ROWS]  # LibreOffice would read "007" as the number 7
    source = tmp_path / "flowers.csv"
    source.write_text(csv_text(rows, HEADER[:5]), encoding="utf-8")
    subprocess.run(
        [
            soffice,
            f"-env:UserInstallation=file://{tmp_path}/lo",
            "--headless",
            "--infilter=CSV:44,34,76",  # comma, double quote, UTF-8
            "--convert-to",
            extension,
            "--outdir",
            str(tmp_path),
            str(source),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )

    converted = (tmp_path / f"flowers.{extension}").read_bytes()
    assert scored(alice, jobs, converted, f"flowers.{extension}") == scored(
        alice, jobs, source.read_bytes(), "flowers.csv"
    )


def test_a_workbook_too_big_to_read_in_memory_is_refused_pointing_to_csv(
    alice: Caller,
    jobs: Jobs,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: Settings,
) -> None:
    """The limit stands for 1 GB of sheet XML; lowered here so a small file crosses it."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER[:4])
    for _ in range(8_000):  # about 1.3 MB of sheet XML
        sheet.append([5.1, 3.5, 1.4, 0.2])
    book.save(tmp_path / "flowers.xlsx")
    monkeypatch.setattr(sheets, "MAX_SHEET_XML_BYTES", 1024**2)

    response = jobs.upload(alice, (tmp_path / "flowers.xlsx").read_bytes(), filename="f.xlsx")

    assert response.status_code == 422
    message = response.json()["error"]["message"]
    assert re.match(
        r"The workbook's sheet is \d MB of data once unpacked, more than the 1 MB", message
    )
    assert "Save it as CSV" in message
    assert list(Path(settings.input_dir).iterdir()) == []  # nothing of it is kept

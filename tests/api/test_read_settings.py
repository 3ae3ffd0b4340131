"""How a file is read, set per job where detection can't know (encoding, decimal mark, sheet),
and shown on the job either way."""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openpyxl
import pytest
from factories import IRIS_HEADER, IRIS_ROW, csv_text, iris_csv

from batchscore.config import Settings

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs


def processed(alice: Caller, job: dict[str, Any]) -> dict[str, Any]:
    done: dict[str, Any] = alice.client.post("/process_file", params={"id": job["id"]}).json()
    return done


def result_rows(alice: Caller, done: dict[str, Any]) -> list[tuple[object, ...]]:
    book = openpyxl.load_workbook(io.BytesIO(alice.client.get(done["result_url"]).content))
    return [tuple(c.value for c in row) for row in book["predictions"].iter_rows()]


def test_every_job_says_how_its_file_was_read(alice: Caller, jobs: Jobs) -> None:
    spanish = ";".join((*IRIS_HEADER, "ciudad")) + "\r\n5,1;3,5;1,4;0,2;Málaga\r\n"
    created = jobs.upload(alice, spanish.encode("cp1252"))
    assert created.status_code == 201, created.text

    assert created.json()["read_as"] == {
        "kind": "csv",
        "encoding": "cp1252",
        "delimiter": ";",
        "decimal": ",",
        "text": "CSV, Windows-1252, semicolon-separated, decimal comma",
    }
    page = alice.client.get(f"/jobs/{created.json()['id']}").text
    assert "CSV, Windows-1252, semicolon-separated, decimal comma" in page


def test_the_encoding_asked_for_is_the_one_used(alice: Caller, jobs: Jobs) -> None:
    """A DOS-era file (code page 437): 'ü' is byte 0x81, which Windows-1252 does not have."""
    content = csv_text([(*IRIS_ROW, "Zürich")], (*IRIS_HEADER, "city")).encode("cp437")
    created = jobs.upload(alice, content, encoding="cp437")
    assert created.status_code == 201, created.text
    assert created.json()["read_as"]["encoding"] == "cp437"

    done = processed(alice, created.json())
    assert result_rows(alice, done)[1][4:6] == ("Zürich", "setosa")


def test_a_file_that_is_not_in_the_encoding_asked_for_is_refused_naming_the_line(
    alice: Caller, jobs: Jobs, settings: Settings
) -> None:
    content = csv_text([IRIS_ROW, (*IRIS_ROW[:3], "0.2é")]).encode("cp1252")
    response = jobs.upload(alice, content, encoding="utf-8")
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith(
        "Line 3 is not valid UTF-8 text (byte 0xe9)"
    )
    assert list(Path(settings.input_dir).iterdir()) == []


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"encoding": "klingon"}, "Unknown encoding 'klingon'"),
        ({"decimal": ";"}, "Unknown decimal mark ';'"),
        ({"sheet": "Data"}, "A sheet ('Data') was chosen, but this file is a CSV file"),
    ],
)
def test_a_reading_setting_that_cannot_apply_is_refused(
    alice: Caller, jobs: Jobs, settings: Settings, fields: dict[str, str], message: str
) -> None:
    response = jobs.upload(alice, iris_csv(2), **fields)
    assert response.status_code == 422
    assert response.json()["error"]["message"].startswith(message)
    assert list(Path(settings.input_dir).iterdir()) == []


def test_the_decimal_mark_asked_for_reads_quoted_decimal_commas(alice: Caller, jobs: Jobs) -> None:
    """Comma-separated with "5,1" quoted: detection keeps the decimal point (the comma
    separates fields), so every row fails until the job says the decimal mark is a comma."""
    content = csv_text([[f'"{v.replace(".", ",")}"' for v in IRIS_ROW]] * 2)

    guessed = processed(alice, jobs.upload(alice, content).json())
    told = jobs.upload(alice, content, decimal=",")
    assert told.json()["read_as"]["decimal"] == ","
    done = processed(alice, told.json())

    assert guessed["status"] == "FAILED"
    assert "'5,1' is not a number" in guessed["error"]
    assert (done["status"], done["rows_failed"]) == ("PROCESSED", 0)
    assert result_rows(alice, done)[1][:5] == (5.1, 3.5, 1.4, 0.2, "setosa")


def test_a_cell_in_another_number_format_is_a_row_error_not_a_guess(
    alice: Caller, jobs: Jobs
) -> None:
    """A decimal-comma file (Excel, German locale) where someone typed one value the English
    way: '5.1' there could be 51 or 5.1, so its row is not scored."""
    rows = [["5,1", "3,5", "1,4", "0,2"]] * 19 + [["5.1", "3,5", "1,4", "0,2"]]
    german = "\r\n".join(";".join(row) for row in [list(IRIS_HEADER), *rows]) + "\r\n"
    created = jobs.upload(alice, german.encode("cp1252"))
    assert created.json()["read_as"]["decimal"] == ","

    done = processed(alice, created.json())
    assert (done["status"], done["rows_failed"]) == ("PROCESSED", 1)
    last = result_rows(alice, done)[20]
    assert last[:5] == ("5.1", 3.5, 1.4, 0.2, None)  # kept as written, not scored
    assert last[5:] == (
        None,
        None,
        (
            "sepal_length: '5.1' has a decimal point, but this file writes numbers with a decimal "
            "comma (5,1)"
        ),
    )


def test_a_workbook_sheet_can_be_chosen_by_name(
    alice: Caller, jobs: Jobs, tmp_path: Path, settings: Settings
) -> None:
    book = openpyxl.Workbook()
    notes = book.active
    assert notes is not None
    notes.title = "Read me"
    notes.append(["These flowers were measured in May."])
    data = book.create_sheet("Flowers")
    data.append(IRIS_HEADER)
    data.append([6.7, 3.0, 5.2, 2.3])
    book.save(tmp_path / "two-sheets.xlsx")
    content = (tmp_path / "two-sheets.xlsx").read_bytes()

    first = jobs.upload(alice, content, filename="two-sheets.xlsx")
    missing = jobs.upload(alice, content, filename="two-sheets.xlsx", sheet="Data")
    chosen = jobs.upload(alice, content, filename="two-sheets.xlsx", sheet="flowers")

    assert first.status_code == 422  # the first sheet has no model columns
    assert missing.status_code == 422
    assert missing.json()["error"]["message"] == (
        "The workbook has no sheet named 'Data'; its sheets are 'Read me', 'Flowers'."
    )
    assert chosen.status_code == 201, chosen.text
    assert chosen.json()["read_as"]["text"] == "workbook, sheet 'Flowers', decimal point"
    done = processed(alice, chosen.json())
    assert result_rows(alice, done)[1][:5] == (6.7, 3.0, 5.2, 2.3, "virginica")
    assert len(list(Path(settings.input_dir).iterdir())) == 1  # only the job's file is kept

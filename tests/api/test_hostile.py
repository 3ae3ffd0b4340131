"""The hostile input corpus (tests/data/hostile): each file uploaded and processed over HTTP.

Whatever the file, the answer is a clear refusal or a job that ends PROCESSED or FAILED with a
reason — never a 500 — and nothing is written outside the data folders.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Any

import openpyxl
import pytest
import yaml

from batchscore.config import Settings

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller

CORPUS = Path(__file__).parents[1] / "data" / "hostile"
CASES: dict[str, dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text())
UPLOAD_NAMES = {"LONG_NAME": "n" * 296 + ".csv"}


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


SLOW_CASES = {"columns_10000.csv"}  # seconds of work: the full suite only


def test_the_corpus_has_a_case_for_every_file_and_at_least_40() -> None:
    on_disk = {path.name for path in CORPUS.glob("*.csv")}
    assert on_disk == set(CASES)
    assert len(CASES) >= 40


@pytest.mark.parametrize(
    "name",
    [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_CASES else n for n in sorted(CASES)],
)
@pytest.mark.network  # the bytes as a client sends them, through a real server
def test_hostile_file(name: str, alice: Caller, settings: Settings, tmp_path: Path) -> None:
    case = CASES[name]
    upload_as = UPLOAD_NAMES.get(case.get("upload_as", ""), case.get("upload_as", name))
    content = (CORPUS / name).read_bytes()
    before = set(files_under(tmp_path)) - set(files_under(Path(settings.input_dir)))

    response = alice.client.post(
        "/api/jobs", files={"file": (upload_as, content, "text/csv")}, timeout=120
    )

    if case["outcome"] == "refused":
        assert response.status_code == case["status"], response.text
        assert case["message"] in response.json()["error"]["message"]
        assert files_under(Path(settings.input_dir)) == []
        return
    assert response.status_code == 201, response.text
    kept = upload_as if len(upload_as) <= 255 else upload_as[:251] + ".csv"  # the column's size
    assert response.json()["filename"] == kept
    job = alice.client.post(
        "/process_file", params={"id": response.json()["id"]}, timeout=120
    ).json()
    (stored,) = files_under(Path(settings.input_dir))
    assert stored.read_bytes() == content  # the upload is kept as sent, whatever happens
    if case["outcome"] == "failed":
        assert job["status"] == "FAILED", job
        assert case["message"] in job["error"]
    else:
        assert (job["status"], job["rows_total"], job["rows_failed"]) == (
            "PROCESSED",
            case["rows"],
            case["failed"],
        ), job
        check_result_is_plain_cells(alice, job)
    # Nothing outside the input and output folders: a traversal name stays a name.
    written = set(files_under(tmp_path)) - before
    outside = [
        path
        for path in written
        if path.parent not in (Path(settings.input_dir), Path(settings.output_dir))
        and not path.name.startswith(("test.db", "batchscore.db"))
    ]
    assert outside == []


def check_result_is_plain_cells(alice: Caller, job: dict[str, Any]) -> None:
    """The result downloads, opens, and holds values: no formula anywhere."""
    result = alice.client.get(job["result_url"])
    assert result.status_code == 200
    assert "/" not in result.headers["content-disposition"].split("filename=")[1]
    workbook = openpyxl.load_workbook(io.BytesIO(result.content), read_only=True)
    try:
        kinds = {cell.data_type for sheet in workbook for row in sheet.iter_rows() for cell in row}
    finally:
        workbook.close()
    assert kinds <= {"s", "n", "b"}, kinds

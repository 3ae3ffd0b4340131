"""The result preview on real files written by write_result, as the processor writes them."""

from __future__ import annotations

import zipfile
import zlib
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import pandas as pd
import pytest

from batchscore.config import OUTPUT_FORMATS
from batchscore.errors import InputError
from batchscore.scheduler import writing
from batchscore.service.preview import Preview, ResultRow, preview_result

COLUMNS = ("id", "name", "prediction", "error")


def chunk(start: int, count: int, errors: dict[int, str] | None = None) -> pd.DataFrame:
    """Rows start..start+count-1 as the processor hands them over; `errors` by row number."""
    numbers = range(start, start + count)
    errors = errors or {}
    return pd.DataFrame(
        {
            "id": pd.Series([str(n) for n in numbers], dtype="str"),
            "name": pd.Series([f"row {n}" for n in numbers], dtype="str"),
            "prediction": pd.Series(
                [None if n in errors else n + 0.5 for n in numbers], dtype=object
            ),
            "error": pd.Series([errors.get(n) for n in numbers], dtype=object),
        }
    )


def cells(number: int, error: str = "") -> tuple[str, ...]:
    """The display cells of row `number` of a result built from chunk()."""
    return (str(number), f"row {number}", "" if error else f"{number}.5", error)


def write_result(path: Path, output_format: str, *frames: pd.DataFrame, **kwargs: Any) -> Path:
    columns = list(frames[0].columns) if frames else list(COLUMNS)
    kwargs.setdefault("numeric", ("prediction",))  # chunk()'s predictions are numbers
    kwargs.setdefault("expected_rows", sum(len(frame) for frame in frames))
    writing.write_result(path, output_format, columns, frames, **kwargs)
    return path


def ten_rows(tmp_path: Path, output_format: str, errors: dict[int, str]) -> Path:
    """A result of rows 1..10 written in two chunks, with error text on the rows in `errors`."""
    frames = chunk(1, 4, errors), chunk(5, 6, errors)
    return write_result(tmp_path / f"result.{output_format}", output_format, *frames)


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_preview_shows_the_header_and_first_rows_as_written(
    tmp_path: Path, output_format: str
) -> None:
    path = write_result(tmp_path / f"result.{output_format}", output_format, chunk(1, 3))
    assert preview_result(path, output_format) == Preview(
        header=COLUMNS,
        first_rows=tuple(ResultRow(n, cells(n)) for n in (1, 2, 3)),
        error_rows=(),
        rows_scanned=3,
        complete=True,
    )


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_preview_error_rows_are_exactly_the_rows_with_error_text(
    tmp_path: Path, output_format: str
) -> None:
    errors = {3: "age: not a number", 5: "name: missing", 10: "age: below 0"}
    preview = preview_result(ten_rows(tmp_path, output_format, errors), output_format)
    assert preview.error_rows == tuple(ResultRow(n, cells(n, text)) for n, text in errors.items())
    assert (preview.rows_scanned, preview.complete) == (10, True)


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_preview_stops_once_both_caps_are_reached(tmp_path: Path, output_format: str) -> None:
    errors = {n: f"bad {n}" for n in (2, 4, 6, 8)}
    path = ten_rows(tmp_path, output_format, errors)
    preview = preview_result(path, output_format, rows=3, error_rows=2)
    assert [row.number for row in preview.first_rows] == [1, 2, 3]
    assert preview.error_rows == (ResultRow(2, cells(2, "bad 2")), ResultRow(4, cells(4, "bad 4")))
    assert (preview.rows_scanned, preview.complete) == (4, False)


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_preview_keeps_reading_for_first_rows_after_the_error_cap(
    tmp_path: Path, output_format: str
) -> None:
    path = ten_rows(tmp_path, output_format, {1: "bad 1", 2: "bad 2", 3: "bad 3"})
    preview = preview_result(path, output_format, rows=5, error_rows=1)
    assert [row.number for row in preview.first_rows] == [1, 2, 3, 4, 5]
    assert [row.number for row in preview.error_rows] == [1]
    assert (preview.rows_scanned, preview.complete) == (5, False)


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_preview_stops_looking_for_errors_after_scan_rows(
    tmp_path: Path, output_format: str
) -> None:
    path = ten_rows(tmp_path, output_format, {3: "bad 3", 8: "bad 8"})
    preview = preview_result(path, output_format, rows=2, scan_rows=5)
    assert [row.number for row in preview.first_rows] == [1, 2]
    assert [row.number for row in preview.error_rows] == [3]
    assert (preview.rows_scanned, preview.complete) == (5, False)


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
@pytest.mark.parametrize("scan_rows", [10, 100_000])
def test_preview_is_complete_when_the_scan_reaches_the_end(
    tmp_path: Path, output_format: str, scan_rows: int
) -> None:
    path = ten_rows(tmp_path, output_format, {9: "bad 9"})
    preview = preview_result(path, output_format, rows=2, scan_rows=scan_rows)
    assert [row.number for row in preview.error_rows] == [9]
    assert (preview.rows_scanned, preview.complete) == (10, True)


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_preview_is_complete_when_the_error_cap_is_reached_on_the_last_row(
    tmp_path: Path, output_format: str
) -> None:
    path = ten_rows(tmp_path, output_format, {10: "bad 10"})
    preview = preview_result(path, output_format, rows=2, error_rows=1)
    assert [row.number for row in preview.error_rows] == [10]
    assert (preview.rows_scanned, preview.complete) == (10, True)


def test_preview_numbers_rows_across_xlsx_sheets_without_repeating_the_header(
    tmp_path: Path,
) -> None:
    errors = {4: "bad 4", 9: "bad 9"}
    frames = chunk(1, 2, errors), chunk(3, 8, errors)
    path = write_result(tmp_path / "result.xlsx", "xlsx", *frames, max_rows_per_sheet=4)
    preview = preview_result(path, "xlsx")
    expected = tuple(ResultRow(n, cells(n, errors.get(n, ""))) for n in range(1, 11))
    assert preview.first_rows == expected
    assert [row.number for row in preview.error_rows] == [4, 9]
    assert (preview.rows_scanned, preview.complete) == (10, True)


def test_preview_reads_an_xlsx_file_whatever_its_name(tmp_path: Path) -> None:
    path = write_result(tmp_path / ".job-1-abcdef12.xlsx.part", "xlsx", chunk(1, 1))
    assert preview_result(path, "xlsx").first_rows == (ResultRow(1, cells(1)),)


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_preview_of_a_header_only_result_is_empty_and_complete(
    tmp_path: Path, output_format: str
) -> None:
    path = write_result(tmp_path / f"result.{output_format}", output_format)
    assert preview_result(path, output_format) == Preview(COLUMNS, (), (), 0, True)


@pytest.mark.parametrize(
    ("output_format", "expected"),
    [
        ("xlsx", [("a\x01b", "TRUE"), ("007", "3"), ("_x0041_", "1e-07"), ("<r>a & b</r>", "")]),
        ("csv", [("a\x01b", "True"), ("007", "3"), ("_x0041_", "1e-07"), ("<r>a & b</r>", "")]),
    ],
)
def test_preview_shows_cells_as_display_text(
    tmp_path: Path, output_format: str, expected: list[tuple[str, str]]
) -> None:
    frame = pd.DataFrame(
        {
            "raw": pd.Series(["a\x01b", "007", "_x0041_", "<r>a & b</r>"], dtype="str"),
            "prediction": pd.Series([True, 3, 1e-7, None], dtype=object),
            "error": pd.Series([None] * 4, dtype=object),
        }
    )
    path = write_result(tmp_path / f"result.{output_format}", output_format, frame)
    rows = preview_result(path, output_format).first_rows
    assert [row.cells for row in rows] == [(raw, prediction, "") for raw, prediction in expected]


def test_preview_shows_whole_xlsx_numbers_without_a_decimal_point(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "raw": pd.Series(["3", "2.50", "1e20"], dtype="str"),
            "prediction": pd.Series([1.0, 0.1, 123456789012345.0], dtype=object),
            "error": pd.Series([None] * 3, dtype=object),
        }
    )
    path = write_result(tmp_path / "result.xlsx", "xlsx", frame)
    rows = preview_result(path, "xlsx").first_rows
    assert [row.cells[:2] for row in rows] == [
        ("3", "1"),
        ("2.50", "0.1"),  # stays the text it was, like 1e20: a number would read otherwise
        ("1e20", "123456789012345"),
    ]


def test_preview_counts_a_csv_record_with_a_line_break_as_one_row(tmp_path: Path) -> None:
    frame = chunk(1, 3, {2: "line one\nline two"})
    frame.loc[0, "name"] = "first\nsecond"
    path = write_result(tmp_path / "result.csv", "csv", frame)
    preview = preview_result(path, "csv")
    assert [row.cells[1] for row in preview.first_rows] == ["first\nsecond", "row 2", "row 3"]
    assert preview.error_rows == (ResultRow(2, cells(2, "line one\nline two")),)


def test_preview_pads_short_rows_of_an_edited_csv_to_the_header(tmp_path: Path) -> None:
    path = tmp_path / "result.csv"
    path.write_text("id,prediction,error\n1\n2,0.5,bad\n", encoding="utf-8")
    preview = preview_result(path, "csv")
    assert preview.first_rows == (ResultRow(1, ("1", "", "")), ResultRow(2, ("2", "0.5", "bad")))
    assert [row.number for row in preview.error_rows] == [2]


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_preview_uses_the_suffixed_error_column_when_the_input_had_one(
    tmp_path: Path, output_format: str
) -> None:
    # The processor names its column "error_2" when the input already has an "error" column.
    frame = pd.DataFrame(
        {
            "error": pd.Series(["input text", ""], dtype="str"),
            "prediction": pd.Series([None, 0.5], dtype=object),
            "error_2": pd.Series(["bad value", None], dtype=object),
        }
    )
    path = write_result(tmp_path / f"result.{output_format}", output_format, frame)
    preview = preview_result(path, output_format)
    assert preview.error_rows == (ResultRow(1, ("input text", "", "bad value")),)


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_preview_without_an_error_column_has_no_error_rows(
    tmp_path: Path, output_format: str
) -> None:
    frame = chunk(1, 2, {1: "bad 1"}).rename(columns={"error": "note"})
    path = write_result(tmp_path / f"result.{output_format}", output_format, frame)
    preview = preview_result(path, output_format)
    assert (len(preview.first_rows), preview.error_rows) == (2, ())


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_preview_of_a_missing_file_raises_oserror(tmp_path: Path, output_format: str) -> None:
    with pytest.raises(FileNotFoundError):
        preview_result(tmp_path / f"gone.{output_format}", output_format)


def damaged_xlsx(tmp_path: Path, kind: str) -> bytes:
    good = write_result(tmp_path / "good.xlsx", "xlsx", chunk(1, 50)).read_bytes()
    if kind == "garbage":
        return b"this is not a zip file"
    if kind == "empty":
        return b""
    if kind == "truncated":
        return good[: len(good) // 2]
    if kind == "scrambled":  # the sheet's compressed bytes, the zip's directory intact
        with zipfile.ZipFile(tmp_path / "good.xlsx") as source:
            member = source.getinfo("xl/worksheets/sheet1.xml")
        middle = member.header_offset + 30 + len(member.filename) + member.compress_size // 2
        return (
            good[:middle]
            + bytes(byte ^ 0xFF for byte in good[middle : middle + 40])
            + good[middle + 40 :]
        )
    with zipfile.ZipFile(tmp_path / "good.xlsx") as source:
        parts = {name: source.read(name) for name in source.namelist()}
    if kind == "not a workbook":
        parts = {"notes.txt": b"hello"}
    else:  # the sheet's XML is cut in half
        sheet = parts["xl/worksheets/sheet1.xml"]
        parts["xl/worksheets/sheet1.xml"] = sheet[: len(sheet) // 2]
    with zipfile.ZipFile(tmp_path / "rezipped.zip", "w") as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return (tmp_path / "rezipped.zip").read_bytes()


@pytest.mark.parametrize(
    ("kind", "cause"),
    [
        ("garbage", zipfile.BadZipFile),
        ("empty", zipfile.BadZipFile),
        ("truncated", zipfile.BadZipFile),
        ("scrambled", zlib.error),
        ("not a workbook", KeyError),
        ("cut sheet", ParseError),
    ],
)
def test_preview_of_a_damaged_xlsx_raises_input_error(
    tmp_path: Path, kind: str, cause: type[Exception]
) -> None:
    path = tmp_path / "job-7-scores.xlsx"
    path.write_bytes(damaged_xlsx(tmp_path, kind))
    with pytest.raises(InputError, match=r"result file job-7-scores\.xlsx cannot be read") as info:
        preview_result(path, "xlsx")
    assert "damaged or not a valid xlsx file" in info.value.message
    assert isinstance(info.value.__cause__, cause)


def test_preview_of_a_csv_that_is_not_utf8_raises_input_error(tmp_path: Path) -> None:
    path = tmp_path / "job-7-scores.csv"
    path.write_bytes("id,prediction,error\nœuf,1,\n".encode("cp1252"))
    with pytest.raises(InputError, match=r"job-7-scores\.csv cannot be read") as info:
        preview_result(path, "csv")
    assert isinstance(info.value.__cause__, UnicodeDecodeError)


def test_preview_rejects_an_unknown_format_naming_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=", ".join(OUTPUT_FORMATS)):
        preview_result(tmp_path / "result.pdf", "pdf")

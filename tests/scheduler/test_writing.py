"""The result writers on real files, read back with openpyxl and the csv module."""

from __future__ import annotations

import csv
import gc
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl.utils.escape import unescape

from batchscore.config import OUTPUT_FORMATS
from batchscore.errors import InputError
from batchscore.scheduler.writing import (
    EXCEL_MAX_CHARS,
    EXCEL_MAX_COLUMNS,
    text_types,
    write_result,
)

COLUMNS = ["raw", "prediction", "error"]
FORMULAS = ['=HYPERLINK("http://x","y")', "+1+2", "-2+3", "@SUM(A1)", "\t=1", "{=SUM(A1)}"]
# Text shaped like rich-string markup, which XlsxWriter once copied into the sheet unescaped.
MARKUP = ["<r>a & b</r>", "<r><t>a</t></r></is><f>1+1</f><is><r><t>b</t></r>"]


def frame_of(
    raw: list[str], predictions: list[object] | None = None, errors: list[str | None] | None = None
) -> pd.DataFrame:
    """A chunk as the processor hands it over: raw text, then prediction and error."""
    return pd.DataFrame(
        {
            "raw": pd.Series(raw, dtype="str"),
            "prediction": pd.Series(predictions or [None] * len(raw), dtype=object),
            "error": pd.Series(errors or [None] * len(raw), dtype=object),
        }
    )


def write_xlsx(path: Path, *frames: pd.DataFrame, **kwargs: Any) -> int:
    kwargs.setdefault("expected_rows", sum(len(frame) for frame in frames))
    return write_result(path, "xlsx", list(frames[0].columns), frames, **kwargs)


def read_sheets(path: Path) -> dict[str, list[list[tuple[object, str]]]]:
    """Every sheet's rows as (value, data_type) pairs."""
    workbook = openpyxl.load_workbook(path, read_only=True)
    try:
        return {
            sheet.title: [[(cell.value, cell.data_type) for cell in row] for row in sheet.rows]
            for sheet in workbook.worksheets
        }
    finally:
        workbook.close()


def read_column(path: Path, col: int = 0) -> list[tuple[object, str]]:
    """The data cells of one column of the first sheet; blank cells come back as (None, 'n')."""
    (rows, *_) = read_sheets(path).values()
    return [row[col] if col < len(row) else (None, "n") for row in rows[1:]]


def sheet_xml(path: Path) -> str:
    with zipfile.ZipFile(path) as archive:
        return "".join(
            archive.read(name).decode()
            for name in archive.namelist()
            if name.startswith("xl/worksheets/")
        )


@pytest.mark.parametrize("dtype", ["str", "object"])
@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("3", 3),
        ("-2.5", -2.5),
        ("0", 0),
        ("0.5", 0.5),
        ("-0", 0),
        ("5.0", 5),  # pandas writes whole floats so
        (" 4 ", 4),
        ("0.000123456789012345", 0.000123456789012345),  # 15 significant digits
        ("123456789012345", 123456789012345),
    ],
)
def test_xlsx_numeric_text_becomes_number(
    tmp_path: Path, dtype: str, text: str, number: float
) -> None:
    frame = frame_of([text]).astype({"raw": dtype})
    write_xlsx(tmp_path / "out.xlsx", frame)
    [(value, data_type)] = read_column(tmp_path / "out.xlsx")
    assert (value, data_type) == (number, "n")


def test_xlsx_integer_text_reads_back_as_the_same_number(tmp_path: Path) -> None:
    write_xlsx(tmp_path / "out.xlsx", frame_of(["3", "2.5", "123456789012345"]))
    assert read_column(tmp_path / "out.xlsx") == [(3, "n"), (2.5, "n"), (123456789012345, "n")]


@pytest.mark.parametrize(
    "text",
    [
        *("007", "-01", "00", "0012.5"),  # leading zero
        *("inf", "-inf", "Infinity", "nan", "NaN", "1E400"),  # not finite
        *("1234567890123456", "98765432109876543210"),  # more digits than Excel keeps
        *("1,5", "0x10", "1_000", "12ab", "abc", "٣"),  # not a plain number
        # Numbers Excel would show as other text: a phone number, a part code, a version,
        # a decimal with more digits than Excel shows.
        *("+14155551234", "+7", "1E5", "1e3", "1.10", "2.50", "0.12345678901234567"),
    ],
)
def test_xlsx_text_that_is_not_a_plain_number_stays_text(tmp_path: Path, text: str) -> None:
    write_xlsx(tmp_path / "out.xlsx", frame_of([text, "1"]))
    assert read_column(tmp_path / "out.xlsx") == [(text, "s"), (1, "n")]


def test_xlsx_column_of_only_long_integers_stays_text(tmp_path: Path) -> None:
    ids = ["12345678901234567", "99999999999999999999"]
    write_xlsx(tmp_path / "out.xlsx", frame_of(ids))
    assert read_column(tmp_path / "out.xlsx") == [(ids[0], "s"), (ids[1], "s")]


def test_xlsx_empty_and_missing_cells_are_blank(tmp_path: Path) -> None:
    frame = frame_of(["", "x", ""], predictions=[None, 1.5, float("nan")], errors=[None, "", "bad"])
    frame["raw"] = pd.Series(["", "x", None], dtype=object)
    write_xlsx(tmp_path / "out.xlsx", frame)
    (rows,) = read_sheets(tmp_path / "out.xlsx").values()
    values = [[value for value, _ in row] for row in rows[1:]]
    assert values == [[None, None, None], ["x", 1.5, None], [None, None, "bad"]]


def test_xlsx_predictions_keep_their_type(tmp_path: Path) -> None:
    frame = frame_of(["a"] * 4, predictions=[0.25, 3, "setosa", "007"])
    write_xlsx(tmp_path / "out.xlsx", frame)
    predictions = read_column(tmp_path / "out.xlsx", col=1)
    assert predictions == [(0.25, "n"), (3, "n"), ("setosa", "s"), ("007", "s")]


def test_xlsx_numpy_and_mixed_predictions_are_written_by_value(tmp_path: Path) -> None:
    predictions = [np.float64(0.5), np.int64(2), np.str_("setosa"), True, float("inf"), None]
    write_xlsx(tmp_path / "out.xlsx", frame_of(["a"] * 6, predictions=predictions))
    assert read_column(tmp_path / "out.xlsx", col=1) == [
        (0.5, "n"),
        (2, "n"),
        ("setosa", "s"),
        (True, "b"),
        ("inf", "s"),
        (None, "n"),
    ]


def test_xlsx_control_characters_keep_the_file_valid(tmp_path: Path) -> None:
    texts = ["a\x01b", "nul\x00", "_x0041_", "\ufffe"]
    write_xlsx(tmp_path / "out.xlsx", frame_of(texts))
    # Excel escapes control characters as _xHHHH_ in the XML; openpyxl hands them back escaped.
    assert [unescape(str(value)) for value, _ in read_column(tmp_path / "out.xlsx")] == texts


@pytest.mark.parametrize("payload", FORMULAS + MARKUP)
def test_xlsx_formula_and_markup_payloads_stay_text(tmp_path: Path, payload: str) -> None:
    frame = pd.DataFrame(
        {payload: [payload], "prediction": [payload], "error": [payload]}, dtype=object
    )
    write_xlsx(tmp_path / "out.xlsx", frame)
    (rows,) = read_sheets(tmp_path / "out.xlsx").values()
    assert rows == [[(payload, "s"), ("prediction", "s"), ("error", "s")], [(payload, "s")] * 3]
    assert "<f>" not in sheet_xml(tmp_path / "out.xlsx").replace("&lt;f&gt;", "")


def test_xlsx_text_over_cell_limit_is_truncated(tmp_path: Path) -> None:
    long = "ab" * EXCEL_MAX_CHARS
    markup = "<r>" + "x" * EXCEL_MAX_CHARS + "</r>"
    write_xlsx(tmp_path / "out.xlsx", frame_of([long, markup, "short"]))
    values = [value for value, _ in read_column(tmp_path / "out.xlsx")]
    assert values == [long[:EXCEL_MAX_CHARS], markup[:EXCEL_MAX_CHARS], "short"]


def test_xlsx_cell_limit_counts_utf16_units(tmp_path: Path) -> None:
    emoji = "\N{GRINNING FACE}" * EXCEL_MAX_CHARS  # two UTF-16 units each
    write_xlsx(tmp_path / "out.xlsx", frame_of([emoji]))
    [(value, _)] = read_column(tmp_path / "out.xlsx")
    # 32,767 units would split the last emoji in half, so it is dropped whole.
    assert value == emoji[: EXCEL_MAX_CHARS // 2]


def test_xlsx_rolls_over_to_new_sheets_with_the_header(tmp_path: Path) -> None:
    raw = [f"row {n}" for n in range(12)]
    frames = [frame_of(raw[:5]), frame_of(raw[5:7]), frame_of(raw[7:])]
    sheets = write_xlsx(tmp_path / "out.xlsx", *frames, max_rows_per_sheet=5)
    written = read_sheets(tmp_path / "out.xlsx")
    assert sheets == 3
    assert list(written) == ["predictions", "predictions 2", "predictions 3"]
    header = [(name, "s") for name in COLUMNS]
    assert all(rows[0] == header and len(rows) == 5 for rows in written.values())
    assert [row[0] for rows in written.values() for row in rows[1:]] == [
        (text, "s") for text in raw
    ]


@pytest.mark.parametrize(("rows", "sheets"), [(0, 1), (4, 1), (5, 2), (8, 2), (9, 3)])
def test_xlsx_adds_a_sheet_only_for_rows_that_need_it(
    tmp_path: Path, rows: int, sheets: int
) -> None:
    written = write_xlsx(tmp_path / "out.xlsx", frame_of(["x"] * rows), max_rows_per_sheet=5)
    assert written == sheets == len(read_sheets(tmp_path / "out.xlsx"))


def test_xlsx_header_is_bold_and_frozen(tmp_path: Path) -> None:
    write_xlsx(tmp_path / "out.xlsx", frame_of(["x"]))
    workbook = openpyxl.load_workbook(tmp_path / "out.xlsx")
    sheet = workbook["predictions"]
    assert sheet.freeze_panes == "A2"
    assert [cell.font.b for cell in sheet[1]] == [True] * 3
    assert sheet["A2"].font.b is False
    # Printed: landscape, one page wide (fitToWidth's default is 1), the header on every page.
    assert (sheet.page_setup.orientation, sheet.page_setup.fitToHeight) == ("landscape", 0)
    assert sheet.sheet_properties.pageSetUpPr.fitToPage is True  # type: ignore[union-attr]
    assert sheet.print_title_rows == "$1:$1"


def test_xlsx_columns_are_as_wide_as_their_header_and_cells_within_bounds(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "id": pd.Series(["7", "8"], dtype="str"),
            "customer_reference_code": pd.Series(["a", "b"], dtype="str"),
            "comment": pd.Series(["x" * 200, "short"], dtype="str"),
            "prediction": pd.Series(["yes", "no"], dtype=object),
            "error": pd.Series([None, None], dtype=object),
        }
    )
    write_xlsx(tmp_path / "out.xlsx", frame, computed=2)
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx")["predictions"]
    widths = [round(sheet.column_dimensions[c].width) for c in "ABCDE"]  # + Excel's padding
    assert widths == [9, 27, 51, 14, 9]  # minimum 8; the header and its filter button; at most 50
    assert sheet.auto_filter.ref == "A1:E3"


def test_xlsx_probabilities_show_as_percentages_and_numbers_to_four_digits(
    tmp_path: Path,
) -> None:
    frame = pd.DataFrame(
        {
            "raw": pd.Series(["1", "2"], dtype="str"),
            "price": pd.Series([24.123456789, 31.5], dtype=np.float64),
            "dose": pd.Series([0.0031234, 0.0042], dtype=np.float64),
            "probability": pd.Series([0.875, 0.5], dtype=np.float64),
            "error": pd.Series([None, None], dtype=object),
        }
    )
    write_xlsx(
        tmp_path / "out.xlsx",
        frame,
        computed=4,
        numeric={"price", "dose", "probability"},
        percent={"probability"},
    )
    sheet = openpyxl.load_workbook(tmp_path / "out.xlsx")["predictions"]
    shown = [(cell.value, cell.number_format) for cell in sheet[2]]
    assert shown == [
        (1, "General"),  # an uploaded number stays as it was written
        (24.123456789, "#,##0.00"),  # the full value, shown to about four significant digits
        (0.0031234, "#,##0.000000"),
        (0.875, "0.0%"),
        (None, "General"),
    ]
    assert sheet["B1"].number_format == "General"  # the header is not a number


def test_xlsx_about_sheet_comes_last_and_is_asked_for_after_the_rows(tmp_path: Path) -> None:
    pulled = []

    def frames() -> Iterator[pd.DataFrame]:
        for n in range(3):
            pulled.append(n)
            yield frame_of(["x", "y"])

    sheets = write_result(
        tmp_path / "out.xlsx",
        "xlsx",
        COLUMNS,
        frames(),
        expected_rows=6,
        about=lambda: [("Rows", 2 * len(pulled)), ("Model", "iris, version 1")],
    )
    workbook = openpyxl.load_workbook(tmp_path / "out.xlsx")
    assert sheets == 1
    assert workbook.sheetnames == ["predictions", "about"]
    rows = list(workbook["about"].iter_rows(values_only=True))
    assert rows == [("Item", "Value"), ("Rows", 6), ("Model", "iris, version 1")]
    assert workbook["predictions"].max_row == 7


def test_xlsx_rejects_more_columns_than_a_sheet_holds(tmp_path: Path) -> None:
    columns = [f"c{n}" for n in range(EXCEL_MAX_COLUMNS - 1)] + ["prediction", "error"]
    with pytest.raises(InputError, match="CSV"):
        write_result(tmp_path / "out.xlsx", "xlsx", columns, [])


@pytest.mark.parametrize(
    ("cell", "written"),
    [
        *[(f, "'" + f) for f in ("=1+2", '=HYPERLINK("http://x")', "+1+1", "-2+3", "@SUM(A1)")],
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        *[(n, n) for n in ("-5.1", "+7", "-1e3", "-.5", "x=1", "5-3", "")],  # plain or harmless
    ],
)
def test_csv_puts_a_quote_before_cells_a_spreadsheet_would_run(
    tmp_path: Path, cell: str, written: str
) -> None:
    columns = ["=header", "prediction", "error"]
    frame = pd.DataFrame(
        {"=header": [cell], "prediction": ["=pred"], "error": [None]}, dtype=object
    )
    for keep, expected in (
        (False, [["'=header", "prediction", "error"], [written, "'=pred", ""]]),
        (True, [columns, [cell, "=pred", ""]]),
    ):
        write_result(tmp_path / "out.csv", "csv", columns, [frame], keep_formulas=keep)
        with open(tmp_path / "out.csv", encoding="utf-8", newline="") as file:
            assert list(csv.reader(file)) == expected


def test_csv_round_trips_raw_text_and_predictions(tmp_path: Path) -> None:
    raw = ["007", "=1+2", "", 'say "hi", twice', "line\nbreak", "ünï 😀", "3.0"]
    predictions: list[object] = [0.25, 3, "setosa", None, None, float("nan"), 1e-7]
    errors: list[str | None] = [None, None, None, "bad value", None, None, None]
    frames = [
        frame_of(raw[:3], predictions[:3], errors[:3]),
        frame_of(raw[3:], predictions[3:], errors[3:]),
    ]
    assert write_result(tmp_path / "out.csv", "csv", COLUMNS, frames) == 1
    assert not (tmp_path / "out.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    with open(tmp_path / "out.csv", encoding="utf-8", newline="") as file:
        rows = list(csv.reader(file))
    assert rows == [
        COLUMNS,
        ["007", "0.25", ""],
        ["'=1+2", "3", ""],  # a spreadsheet would run it: see the next test
        ["", "setosa", ""],
        ['say "hi", twice', "", "bad value"],
        ["line\nbreak", "", ""],
        ["ünï 😀", "", ""],
        ["3.0", "1e-07", ""],
    ]


def write_parquet(path: Path, *frames: pd.DataFrame, numeric_prediction: bool) -> pa.Table:
    numeric = ("prediction",) if numeric_prediction else ()
    columns = list(frames[0].columns)
    sheets = write_result(path, "parquet", columns, frames, numeric=numeric)
    assert sheets == 1
    return pq.read_table(path)


def test_parquet_keeps_raw_text_and_types_the_prediction(tmp_path: Path) -> None:
    raw = ["007", "=1+2", "", 'say "hi", twice', "line\nbreak", "ünï 😀", "3.0"]
    predictions: list[object] = [0.25, 3, 1e300, None, None, float("nan"), 1e-7]
    errors: list[str | None] = [None, None, None, "bad value", None, None, None]
    table = write_parquet(
        tmp_path / "out.parquet",
        frame_of(raw[:3], predictions[:3], errors[:3]),
        frame_of(raw[3:], predictions[3:], errors[3:]),
        numeric_prediction=True,
    )
    assert table.schema.names == COLUMNS
    assert table.schema.types == [pa.string(), pa.float64(), pa.string()]
    assert table.column("raw").to_pylist() == [r or None for r in raw]
    assert table.column("prediction").to_pylist() == [0.25, 3.0, 1e300, None, None, None, 1e-7]
    assert table.column("error").to_pylist() == errors
    assert pq.ParquetFile(tmp_path / "out.parquet").metadata.num_row_groups == 2


def test_parquet_class_labels_are_text_even_when_a_chunk_has_none(tmp_path: Path) -> None:
    table = write_parquet(
        tmp_path / "out.parquet",
        frame_of(["a", "b"], [None, None], ["x is empty", "x is empty"]),
        frame_of(["c"], ["setosa"]),
        numeric_prediction=False,
    )
    assert table.schema.field("prediction").type == pa.string()
    assert table.column("prediction").to_pylist() == [None, None, "setosa"]
    assert pd.read_parquet(tmp_path / "out.parquet")["raw"].tolist() == ["a", "b", "c"]


def test_text_types_are_what_every_chunk_of_a_column_fits(tmp_path: Path) -> None:
    def chunk(*columns: list[str]) -> pd.DataFrame:
        return pd.DataFrame({f"c{i}": pd.Series(c, dtype="str") for i, c in enumerate(columns)})

    first = chunk(["1", ""], ["1.5", "2"], ["7", "8"], ["", ""], ["5,1", "6"], ["3", "4"])
    later = chunk(["-20", "0"], ["3", "1e5"], ["00123", "9"], ["", ""], ["1", "2"], ["12%", "1"])
    assert text_types([first, later]) == [
        pa.int64(),
        pa.string(),  # 1e5 is not written as Excel shows it
        pa.string(),  # a leading zero: an id
        pa.string(),  # only empty cells
        pa.string(),  # a decimal comma in a decimal-point file
        pa.string(),
    ]
    assert text_types([first], decimal=",")[4] == pa.float64()


def test_write_result_rejects_unknown_format_naming_the_known_ones(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=", ".join(OUTPUT_FORMATS)):
        write_result(tmp_path / "out.pdf", "pdf", COLUMNS, [])


def failing_frames() -> Iterator[pd.DataFrame]:
    yield frame_of(["1", "2"])
    raise LookupError("boom")


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_write_result_passes_on_the_frames_exception(tmp_path: Path, output_format: str) -> None:
    path = tmp_path / f"out.{output_format}"
    with pytest.raises(LookupError, match="boom"):
        write_result(path, output_format, COLUMNS, failing_frames(), expected_rows=3)
    path.unlink(missing_ok=True)
    gc.collect()
    assert not path.exists()  # nothing left open recreates the file the caller deleted


def test_xlsx_failure_leaves_no_temp_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The writer buffers rows in a temp file under $TMPDIR: point it at an empty folder.
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    with pytest.raises(LookupError):
        write_result(tmp_path / "out.xlsx", "xlsx", COLUMNS, failing_frames(), expected_rows=3)
    assert list((tmp_path / "tmp").iterdir()) == []


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_write_result_fails_at_once_when_the_folder_is_unwritable(
    tmp_path: Path, output_format: str
) -> None:
    (tmp_path / "output").write_text("not a folder")

    def frames() -> Iterator[pd.DataFrame]:
        pytest.fail("no frame may be scored")
        yield frame_of(["1"])

    with pytest.raises(NotADirectoryError):
        write_result(tmp_path / "output" / "out.part", output_format, COLUMNS, frames())


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_write_result_rejects_frame_with_other_columns(tmp_path: Path, output_format: str) -> None:
    frame = frame_of(["1"]).rename(columns={"raw": "other"})
    with pytest.raises(ValueError, match="Expected columns"):
        write_result(tmp_path / f"out.{output_format}", output_format, COLUMNS, [frame])


def test_xlsx_refuses_more_rows_than_expected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="More rows than the 4 expected"):
        write_xlsx(
            tmp_path / "out.xlsx", frame_of(["x"] * 6), expected_rows=4, max_rows_per_sheet=5
        )

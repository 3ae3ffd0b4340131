"""Streaming result writers (xlsx, csv, parquet): constant memory, sheet rollover, safe cells.

Untrusted text always becomes a string cell, never a formula or markup. Knows nothing of jobs.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import chain, islice, repeat
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import rustpy_xlsxwriter
from rustpy_xlsxwriter import Format

from batchscore.config import OUTPUT_FORMATS
from batchscore.errors import InputError
from batchscore.numbers import matches, parse_floats

EXCEL_MAX_ROWS = 1_048_576  # rows per sheet including the header row
EXCEL_MAX_COLUMNS = 16_384
EXCEL_MAX_CHARS = 32_767  # per cell, counted in UTF-16 code units

_SHEET_NAME = "predictions"
ABOUT_SHEET = "about"  #: the sheet after the predictions that says what made them
_ABOUT_HEADER = ("Item", "Value")
# Column widths, in characters, fitted to the header and the first chunk's cells.
_MIN_WIDTH, _MAX_WIDTH = 8, 50
_FILTER_BUTTON = 3  # the autofilter's drop-down covers the end of a header
_PERCENT = "0.0%"
_PRINTED = {"landscape": True, "fit_to_pages": (1, 0), "repeat_rows": 0, "print_gridlines": True}
# A str of at most this many code points has at most EXCEL_MAX_CHARS UTF-16 units.
_SURELY_SHORT = EXCEL_MAX_CHARS // 2
# A cell becomes a number only when Excel shows the number as the same text: a plain decimal
# (no "+", exponent, leading zero or trailing fraction zero; "5.0" as pandas writes whole
# floats is allowed) of at most 15 significant digits, what Excel displays. Anything else that
# parses ("+14155551234", "1E5", "1.10", "007", a 20-digit id) stays the text it is.
_AS_WRITTEN = {
    mark: rf"^\s*-?(?:0|[1-9][0-9]*)(?:\{mark}[0-9]*[1-9]|\{mark}0)?\s*$" for mark in ".,"
}
_MAX_DIGITS = 15
# A CSV cell a spreadsheet would run as a formula (OWASP's CSV injection list), unless it is a
# plain number such as -5.1; such a cell gets a leading ' so Excel and LibreOffice show it as text.
_FORMULA_START = r"^[=+\-@\t\r]"
_PLAIN_NUMBER = r"^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$"

_Cell = str | float | int | bool | None


def write_result(
    path: Path,
    output_format: str,
    columns: Sequence[str],
    frames: Iterable[pd.DataFrame],
    *,
    expected_rows: int | None = None,
    computed: int = 2,
    numeric: Collection[str] = (),
    keep_formulas: bool = False,
    decimal: str = ".",
    percent: Collection[str] = (),
    about: Callable[[], Sequence[tuple[str, _Cell]]] | None = None,
    typed: Sequence[pa.DataType] | None = None,
    max_rows_per_sheet: int = EXCEL_MAX_ROWS,
) -> int:
    """Write every frame to `path` (created or overwritten), fsync it, return its sheet count
    (of rows; an `about` sheet is not counted).

    The frames are pulled one at a time, so memory holds one frame. Their columns are exactly
    `columns`: the uploaded ones (raw text), then the last `computed` made by the model
    (prediction, probabilities, error last), written as the values they are; those named in
    `numeric` are float64 in a parquet file (else text), whose input columns take the types
    in `typed` (text_types; None: all text). A CSV result neutralises cells a spreadsheet would
    run as formulas, unless `keep_formulas` (for programs reading it).

    An xlsx result plans its sheets from `expected_rows` (an upper bound, e.g. the file's line
    count; None = one sheet); `decimal` is the uploaded text's decimal mark, so "5,1" from a
    decimal-comma file is the number 5.1 in a workbook. Its columns are as wide as the header
    and first frame need (bounded), with a filter on the header; the computed `numeric` ones
    show about four significant digits and those in `percent` show as percentages (the cells
    keep full precision). `about`, called once the rows are written, gives the (item, value)
    rows of a last sheet, 'about'.

    Exceptions from the frames pass through unchanged; the caller then deletes the unfinished
    file. Raises ValueError for an unknown format and InputError when an xlsx sheet can't hold
    that many columns.
    """
    if output_format == "xlsx":
        look = _Look(computed, decimal, numeric, percent, about)
        sheets = _write_xlsx(path, list(columns), frames, expected_rows, max_rows_per_sheet, look)
    elif output_format == "csv":
        sheets = _write_csv(path, list(columns), frames, keep_formulas)
    elif output_format == "parquet":
        sheets = _write_parquet(path, list(columns), frames, computed, numeric, typed, decimal)
    else:
        raise ValueError(
            f"Unknown output format {output_format!r}; expected one of {', '.join(OUTPUT_FORMATS)}."
        )
    with open(path, "rb") as written:
        os.fsync(written.fileno())
    return sheets


def too_long_for_excel(frame: pd.DataFrame) -> pd.Series:
    """Per row, why it cannot go whole into an xlsx sheet (a cell over Excel's 32,767
    characters), or None: such a row is a row error rather than a silently cut cell."""
    reasons = np.full(len(frame), None, dtype=object)
    for name in frame.columns:
        column = frame[name]
        if not (column.dtype == object or isinstance(column.dtype, pd.StringDtype)):
            continue
        text = pa.array(column, type=pa.string(), from_pandas=True)
        long = pc.utf8_length(text).fill_null(0).to_numpy(zero_copy_only=False) > _SURELY_SHORT
        for position in np.flatnonzero(long):
            units = len(str(column.iloc[position]).encode("utf-16-le", "surrogatepass")) // 2
            if units > EXCEL_MAX_CHARS and reasons[position] is None:
                reasons[position] = (
                    f"{name} holds {units:,} characters, more than the {EXCEL_MAX_CHARS:,} an "
                    "Excel cell can: choose CSV or parquet output for this file"
                )
    return pd.Series(reasons, index=frame.index, dtype=object)


def _check_columns(frame: pd.DataFrame, columns: list[str]) -> None:
    if list(frame.columns) != columns:
        raise ValueError(f"Expected columns {columns}, got {list(frame.columns)}.")


@dataclass(frozen=True)
class _Look:
    """How an xlsx result shows its cells (see write_result)."""

    computed: int
    decimal: str
    numeric: Collection[str]
    percent: Collection[str]
    about: Callable[[], Sequence[tuple[str, _Cell]]] | None


def _write_xlsx(
    path: Path,
    columns: list[str],
    frames: Iterable[pd.DataFrame],
    expected_rows: int | None,
    max_rows_per_sheet: int,
    look: _Look,
) -> int:
    """rust_xlsxwriter (rustpy-xlsxwriter) in constant-memory mode, pulling rows as it writes.

    Its API takes the list of sheets up front, so the sheets are planned from `expected_rows`;
    each takes the next rows of one shared stream, the header repeated on each. A plan larger
    than the rows (quoted values spanning lines) leaves header-only sheets at the end; the
    count returned is of the sheets that hold rows. Rows wait in an unlinked temp file (in
    $TMPDIR, ~5x the CSV) until their sheet is zipped: memory stays flat, a crash leaves nothing.
    Widths and number formats are set up front too, from the first frame.
    """
    if len(columns) > EXCEL_MAX_COLUMNS:
        raise InputError(
            f"The result has {len(columns):,} columns, more than the {EXCEL_MAX_COLUMNS:,} "
            "an Excel sheet can hold. Choose CSV output for this file."
        )
    if not 2 <= max_rows_per_sheet <= EXCEL_MAX_ROWS:
        raise ValueError(f"max_rows_per_sheet must be 2..{EXCEL_MAX_ROWS}.")
    # Create the file now, so that an unwritable folder fails the job before its rows are scored.
    path.write_bytes(b"")
    per_sheet = max_rows_per_sheet - 1
    planned = max(1, math.ceil((expected_rows or 0) / per_sheet))
    header = [_guard_text(name) for name in columns]
    pending = iter(frames)
    first = next(pending, None)
    written = [0]
    chunks = pending if first is None else chain([first], pending)
    rows = _xlsx_rows(chunks, columns, header, written, look.computed, look.decimal)

    def sheet_rows() -> Iterator[dict[str, _Cell]]:
        empty = True
        for row in islice(rows, per_sheet):
            empty = False
            yield row
        if empty:  # the header still: a row of empty cells writes the header and nothing else
            yield dict.fromkeys(header)

    names = [_SHEET_NAME] + [f"{_SHEET_NAME} {n}" for n in range(2, planned + 1)]
    shown = _number_formats(columns, first, look)
    formats = {header[i]: Format().set_num_format(code) for i, code in shown.items()}
    widths = _widths(header, first, shown)
    sheets: list[tuple[str, Iterator[dict[str, _Cell]]]] = [(n, sheet_rows()) for n in names]
    if look.about is not None:
        sheets.append((ABOUT_SHEET, _about_rows(look.about)))
    try:
        rustpy_xlsxwriter.write_worksheets(
            sheets,  # type: ignore[arg-type]  # the stub wants a list of dicts, not an iterator
            str(path),
            bold_headers=True,
            freeze_panes={"general": {"row": 1, "col": 0}},
            column_widths={**dict.fromkeys(names, widths), ABOUT_SHEET: [20.0, 60.0]},
            column_formats=dict.fromkeys(names, formats),
            autofilter=dict.fromkeys(names, True),
            # Printed or saved as PDF: landscape, one page wide, gridlines, the header on each.
            page_setup=dict.fromkeys(names, _PRINTED),
        )
    except BaseException as exc:
        # An I/O error on the writer's temp file (disk full) is a Rust panic, which pyo3 raises
        # as PanicException, a BaseException: make it the OSError it is, for the caller.
        if type(exc).__name__ != "PanicException":
            raise
        raise _os_error(str(exc)) from exc
    if next(rows, None) is not None:
        raise ValueError(f"More rows than the {expected_rows} expected.")
    return max(1, math.ceil(written[0] / per_sheet))


def _about_rows(about: Callable[[], Sequence[tuple[str, _Cell]]]) -> Iterator[dict[str, _Cell]]:
    """The about sheet's rows; `about` is called when the writer reaches the sheet, after the
    predictions, so it can count them."""
    item, value = _ABOUT_HEADER
    for name, cell in about():
        yield {item: name, value: _guard_text(cell) if isinstance(cell, str) else cell}


def _number_formats(columns: list[str], first: pd.DataFrame | None, look: _Look) -> dict[int, str]:
    """Excel number formats of the computed columns, by position: percentages, and numbers
    shown to about four significant digits of the first frame's typical value."""
    shown = {}
    for i in range(len(columns) - look.computed, len(columns)):
        name = columns[i]
        if name in look.percent:
            shown[i] = _PERCENT
        elif name in look.numeric:
            values = np.array([], dtype=np.float64)
            if first is not None:
                values = pd.to_numeric(first.iloc[:, i], errors="coerce").to_numpy(np.float64)
            shown[i] = _decimals_format(values)
    return shown


def _decimals_format(values: npt.NDArray[np.float64]) -> str:
    """'#,##0.00' for values around 24, '0.000000' around 0.003, '#,##0' around 15,000."""
    typical = np.abs(values[np.isfinite(values) & (values != 0)])
    if typical.size == 0:
        return "#,##0.00"
    decimals = int(np.clip(3 - math.floor(math.log10(float(np.median(typical)))), 0, 6))
    return "#,##0" + ("." + "0" * decimals if decimals else "")


def _widths(header: list[str], first: pd.DataFrame | None, shown: dict[int, str]) -> list[float]:
    """Each column wide enough for its header (and filter button) and the first frame's
    longest cell, between _MIN_WIDTH and _MAX_WIDTH characters."""
    widths = []
    for i, name in enumerate(header):
        needed = len(name) + _FILTER_BUTTON
        if first is not None and len(first):
            column = first.iloc[:, i]
            if i in shown:
                numbers = pd.to_numeric(column, errors="coerce").abs().max()
                if pd.notna(numbers):
                    code = shown[i]
                    decimals = len(code.partition(".")[2].rstrip("%"))
                    scale = 100 if code.endswith("%") else 1
                    needed = max(needed, len(f"{numbers * scale:,.{decimals}f}") + 2)
            else:
                longest = column.astype(str).str.len().max()
                needed = max(needed, int(longest) + 1 if pd.notna(longest) else 0)
        widths.append(float(min(max(needed, _MIN_WIDTH), _MAX_WIDTH)))
    return widths


def _os_error(panic: str) -> OSError:
    """OSError(errno, message) from a panic text such as 'Os { code: 28, …, message: "…" }'."""
    code, message = re.search(r"code: (\d+)", panic), re.search(r'message: "([^"]*)"', panic)
    if code and message:
        return OSError(int(code.group(1)), message.group(1))
    return OSError(panic)


def _xlsx_rows(
    frames: Iterable[pd.DataFrame],
    columns: list[str],
    keys: list[str],
    written: list[int],
    computed: int,
    decimal: str,
) -> Iterator[dict[str, _Cell]]:
    """Each row as {header: cell}, the cells prepared a whole column at a time."""
    uploaded = len(columns) - computed
    for frame in frames:
        _check_columns(frame, columns)
        cells = [_text_cells(frame.iloc[:, i], decimal) for i in range(uploaded)]
        cells += [_value_cells(frame.iloc[:, i]) for i in range(uploaded, len(columns))]
        # map() builds the dicts in C: a Python loop here cost ~3 µs a row.
        yield from map(dict, map(zip, repeat(keys), zip(*cells, strict=True)))
        written[0] += len(frame)


def _guard_text(text: str) -> str:
    """Cut a string to Excel's cell limit, which the writer would refuse."""
    if len(text) > _SURELY_SHORT:
        # Excel refuses cells over 32,767 characters (so does the writer), so keep the first
        # 32,767 UTF-16 units, with no marker appended; errors="ignore" drops half of a split
        # surrogate pair.
        units = text.encode("utf-16-le", errors="surrogatepass")
        text = units[: 2 * EXCEL_MAX_CHARS].decode("utf-16-le", errors="ignore")
    return text


def _guard_texts(cells: np.ndarray, positions: np.ndarray, texts: pd.Series) -> None:
    """Guard the text cells at `positions` (whose values are `texts`) in place."""
    risky = texts.str.len() > _SURELY_SHORT
    for position in positions[risky.to_numpy(dtype=bool, na_value=False)]:
        cells[position] = _guard_text(str(cells[position]))


def _text_cells(column: pd.Series, decimal: str = ".") -> list[_Cell]:
    """Raw CSV text → cells: a number where Excel would show it as the same text (with the
    file's decimal mark), None when empty."""
    if not (column.dtype == object or isinstance(column.dtype, pd.StringDtype)):
        return _value_cells(column)
    cells = column.to_numpy(dtype=object, copy=True)
    blank = (column.isna() | (column == "")).to_numpy(dtype=bool)
    numbers = parse_floats(column, decimal)
    numeric = np.isfinite(numbers)
    if numeric.any():
        numeric &= matches(column, _AS_WRITTEN[decimal])
        numeric &= _significant_digits(column) <= _MAX_DIGITS
        # Floats throughout: integers of up to 15 digits are exact in a float, and Excel shows
        # 3.0 as 3. + 0.0 turns -0 into 0.
        cells[numeric] = (numbers[numeric] + 0.0).tolist()
    text = np.flatnonzero(~numeric & ~blank)
    if text.size:
        _guard_texts(cells, text, column.iloc[text])
    cells[blank] = None
    return _listed(cells)


def _significant_digits(column: pd.Series) -> npt.NDArray[np.int64]:
    """Digits after any leading zeros (sign and point not counted), per cell; 0 if missing."""
    text = pa.array(column, type=pa.string(), from_pandas=True)
    digits = pc.utf8_ltrim(pc.replace_substring_regex(text, r"[^0-9]", ""), characters="0")
    counted: npt.NDArray[np.int64] = (
        pc.utf8_length(digits).fill_null(0).to_numpy(zero_copy_only=False).astype(np.int64)
    )
    return counted


def _value_cells(column: pd.Series) -> list[_Cell]:
    """Prediction or error values (str, float, int, None) → cells."""
    kind = pd.api.types.infer_dtype(column, skipna=True)
    if kind == "empty":
        return [None] * len(column)
    if kind in ("floating", "integer", "mixed-integer-float"):
        numbers = column.to_numpy(dtype=np.float64, na_value=np.nan)
        cells = np.asarray(numbers.tolist(), dtype=object)
        cells[np.isinf(numbers)] = [str(x) for x in numbers[np.isinf(numbers)]]
        cells[np.isnan(numbers)] = None
        return _listed(cells)
    if kind == "string":
        cells = column.to_numpy(dtype=object, copy=True)
        blank = (column.isna() | (column == "")).to_numpy(dtype=bool)
        text = np.flatnonzero(~blank)
        _guard_texts(cells, text, column.iloc[text].astype(str))
        cells[blank] = None
        return _listed(cells)
    return [_plain_cell(value) for value in column.tolist()]


def _listed(cells: np.ndarray) -> list[_Cell]:
    listed: list[_Cell] = cells.tolist()
    return listed


def _plain_cell(value: object) -> _Cell:
    """One value of a mixed column → a cell; numpy scalars become Python ones."""
    if isinstance(value, str):
        return _guard_text(str(value)) if value else None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        if math.isnan(number):
            return None
        return number if math.isfinite(number) else str(number)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    return _guard_text(str(value))


def _write_csv(
    path: Path, columns: list[str], frames: Iterable[pd.DataFrame], keep_formulas: bool
) -> int:
    """UTF-8 (no BOM) CSV: the header once, raw text written back unchanged but for cells a
    spreadsheet would run as formulas (a ' put before them), unless `keep_formulas`."""
    with open(path, "w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        header = pd.Series(columns, dtype=object)
        writer.writerow(header.tolist() if keep_formulas else neutralised(header).tolist())
        for frame in frames:
            _check_columns(frame, columns)
            cells = []
            for i in range(len(columns)):
                column = frame.iloc[:, i]
                values = column.to_numpy(dtype=object, copy=True)
                values[column.isna().to_numpy(dtype=bool)] = None
                if not keep_formulas and column.dtype != np.float64:
                    values = neutralised(pd.Series(values, dtype=object)).to_numpy(dtype=object)
                cells.append(values.tolist())
            writer.writerows(zip(*cells, strict=True))
    return 1


def neutralised(column: pd.Series) -> pd.Series:
    """The column with a ' before every text cell that a spreadsheet would take as a formula."""
    text = column.astype(str)  # numbers' text starts with a digit or a sign: plain numbers
    risky = matches(text, _FORMULA_START) & ~matches(text, _PLAIN_NUMBER)
    if not risky.any():
        return column
    guarded = column.copy()
    guarded[risky] = "'" + text[risky]
    return guarded


def _write_parquet(
    path: Path,
    columns: list[str],
    frames: Iterable[pd.DataFrame],
    computed: int,
    numeric: Collection[str],
    typed: Sequence[pa.DataType] | None,
    decimal: str,
) -> int:
    """Parquet (zstd), a row group per frame: input columns in the types `typed` gives them
    (see text_types; all text if None), null when empty; the model's columns as float64 where
    numeric, else text."""
    uploaded = len(columns) - computed
    inputs = list(typed) if typed is not None else [pa.string()] * uploaded
    types = inputs + [
        pa.float64() if name in numeric else pa.string() for name in columns[uploaded:]
    ]
    schema = pa.schema(list(zip(columns, types, strict=True)))
    with pq.ParquetWriter(path, schema, compression="zstd") as writer:
        for frame in frames:
            _check_columns(frame, columns)
            arrays = []
            for i, field in enumerate(schema):
                values = frame.iloc[:, i].to_numpy(dtype=object)
                empty = pd.isna(values) | (values == "")
                if i < uploaded and field.type != pa.string():
                    arrays.append(_typed(frame.iloc[:, i], field.type, empty, decimal))
                else:
                    arrays.append(pa.array(values, type=field.type, mask=empty))
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
    return 1


def text_types(frames: Iterable[pd.DataFrame], decimal: str = ".") -> list[pa.DataType]:
    """The parquet type each column's text fits whole, over every frame: int64 when each
    filled cell is a plain whole number of at most 18 digits, float64 when each is a number
    that a float keeps as written (the xlsx rule: 15 digits, no leading zero or '+'), else
    string. '00123', '12%', dates and 20-digit ids stay text, exactly as written."""
    kinds: list[str] | None = None
    for frame in frames:
        if kinds is None:
            kinds = ["empty"] * len(frame.columns)
        for i in range(len(frame.columns)):
            if kinds[i] != "string":
                kinds[i] = _widest(kinds[i], _text_kind(frame.iloc[:, i], decimal))
    names: dict[str, pa.DataType] = {"int": pa.int64(), "float": pa.float64()}
    return [names.get(kind, pa.string()) for kind in kinds or []]


_ORDER = ("empty", "int", "float", "string")
_PLAIN_INTEGER = r"^\s*-?(?:0|[1-9][0-9]{0,17})\s*$"


def _widest(a: str, b: str) -> str:
    return max(a, b, key=_ORDER.index)


def _text_kind(column: pd.Series, decimal: str) -> str:
    filled = column[(column.notna() & (column != "")).to_numpy(dtype=bool)]
    if filled.empty:
        return "empty"
    if matches(filled, _PLAIN_INTEGER).all():
        return "int"
    numeric = matches(filled, _AS_WRITTEN[decimal]) & (_significant_digits(filled) <= _MAX_DIGITS)
    return "float" if numeric.all() else "string"


def _typed(
    column: pd.Series, kind: pa.DataType, empty: npt.NDArray[np.bool_], decimal: str
) -> pa.Array[Any]:
    """A text column as `kind`: a number parsed with the file's decimal mark; any other type
    (a parquet input's date, timestamp, bool…) cast back from the text Arrow wrote it as."""
    if pa.types.is_floating(kind):
        return pa.array(parse_floats(column, decimal), type=kind, mask=empty)
    text = pa.array(column.to_numpy(dtype=object), type=pa.string(), mask=empty)
    return pc.cast(pc.utf8_trim_whitespace(text), kind)

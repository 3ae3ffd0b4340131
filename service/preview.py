"""A bounded look into a result file for the job page: its header, first rows and error rows.

Reads at most a fixed number of rows, so a huge result costs no more than a small one.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
import zlib
from collections.abc import Generator, Iterator
from contextlib import closing, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from xml.etree.ElementTree import ParseError

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from openpyxl import load_workbook
from openpyxl.utils.escape import unescape

from batchscore.config import OUTPUT_FORMATS
from batchscore.errors import InputError
from batchscore.scheduler.writing import ABOUT_SHEET, neutralised

# The processor always puts its error column last and names it "error", or "error_2"… when the
# input has an "error" column of its own (processor._result_columns).
_ERROR_COLUMN = re.compile(r"error(?:_[0-9]+)?")
# What a damaged or foreign file raises while it is read; OSError (missing file) is not here.
_DAMAGED_XLSX = (zipfile.BadZipFile, zlib.error, EOFError, KeyError, ParseError)
_DAMAGED_CSV = (csv.Error, UnicodeDecodeError)


@dataclass(frozen=True)
class ResultRow:
    number: int  #: 1-based data row number (the header is not counted)
    cells: tuple[str, ...]  #: every cell as display text ("" for empty), one per header column


@dataclass(frozen=True)
class Preview:
    header: tuple[str, ...]
    first_rows: tuple[ResultRow, ...]  #: up to `rows` rows from the top
    error_rows: tuple[ResultRow, ...]  #: up to `error_rows` rows with error text, in file order
    rows_scanned: int  #: data rows read, each checked for error text
    complete: bool  #: the whole file was read: no error rows beyond these unless capped


def preview_result(
    source: Path | BinaryIO,
    output_format: str,
    *,
    rows: int = 20,
    error_rows: int = 50,
    scan_rows: int = 10_000,  # about 1 s for a 10-column xlsx (openpyxl), 0.03 s for csv
) -> Preview:
    """Read the header, the first `rows` rows and up to `error_rows` error rows of a result file
    (a local path, or a file opened from storage: only the bytes needed are read).

    Stops once the first rows are in and either `error_rows` error rows were found or
    `scan_rows` data rows were read. Raises OSError when the file can't be opened, InputError
    when it isn't a readable `output_format` file, ValueError for an unknown format.
    """
    read = _READERS.get(output_format)
    if read is None:
        raise ValueError(
            f"Unknown output format {output_format!r}; expected one of {', '.join(OUTPUT_FORMATS)}."
        )
    name = Path(str(getattr(source, "path", getattr(source, "name", "")))).name
    # An open file rather than the path: openpyxl refuses names not ending in .xlsx (a .part).
    opened = open(source, "rb") if isinstance(source, Path) else nullcontext(source)
    try:
        with opened as file, closing(read(file)) as lines:
            return _scan(lines, rows, error_rows, scan_rows)
    except (*_DAMAGED_XLSX, *_DAMAGED_CSV, pa.ArrowInvalid) as exc:
        raise InputError(
            f"The result file {name} cannot be read: it is damaged or not a valid "
            f"{output_format} file ({exc}). Ask the operator to check the output folder, "
            "or upload the input again to score it anew."
        ) from exc


def error_rows_csv(file: BinaryIO, output_format: str) -> Iterator[bytes]:
    """The result's rows with an error, as CSV text in blocks: a 'row' column first (the row
    as a spreadsheet numbers the file), then the result's columns. Reads the whole result once,
    keeping one block of rows in memory; cells a spreadsheet would run are defused as in a CSV
    result."""
    read = _READERS[output_format]
    with closing(read(file)) as lines:
        header = next(lines, ())
        error_at = _error_at(header)
        yield _csv_block([("row", *header)])
        if error_at is None:
            return
        block: list[tuple[str, ...]] = []
        for number, cells in enumerate(lines, start=2):  # the header is row 1
            if len(cells) > error_at and cells[error_at]:
                block.append((str(number), *cells))
            if len(block) >= _EXPORT_BLOCK:
                yield _csv_block(block, defuse=True)
                block = []
        if block:
            yield _csv_block(block, defuse=True)


_EXPORT_BLOCK = 1000  # error rows per CSV block sent


def _csv_block(rows: list[tuple[str, ...]], *, defuse: bool = False) -> bytes:
    if defuse:
        table = pd.DataFrame(rows, dtype=object)
        rows = list(table.apply(neutralised).itertuples(index=False, name=None))
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerows(rows)
    return out.getvalue().encode("utf-8")


def _scan(lines: Iterator[tuple[str, ...]], rows: int, error_rows: int, scan_rows: int) -> Preview:
    header = next(lines, ())
    error_at = _error_at(header)
    first: list[ResultRow] = []
    errors: list[ResultRow] = []
    scanned = 0
    for number, cells in enumerate(lines, start=1):
        # Checked before the row is used, so reaching the end proves the file complete.
        if len(first) >= rows and (len(errors) >= error_rows or scanned >= scan_rows):
            return Preview(header, tuple(first), tuple(errors), scanned, complete=False)
        scanned = number
        row = ResultRow(number, cells + ("",) * (len(header) - len(cells)))
        if len(first) < rows:
            first.append(row)
        if error_at is not None and row.cells[error_at] and len(errors) < error_rows:
            errors.append(row)
    return Preview(header, tuple(first), tuple(errors), scanned, complete=True)


def _xlsx_lines(file: BinaryIO) -> Generator[tuple[str, ...], None, None]:
    """Every row of every sheet as display text, the header only once."""
    workbook = load_workbook(file, read_only=True, data_only=True)
    try:
        rows = [sheet for sheet in workbook.worksheets if sheet.title != ABOUT_SHEET]
        for index, sheet in enumerate(rows):
            # Sheets after the first ("predictions 2", …) repeat the header row: skip it.
            for values in sheet.iter_rows(min_row=1 if index == 0 else 2, values_only=True):
                yield tuple(_display(value) for value in values)
    finally:
        workbook.close()


def _csv_lines(file: BinaryIO) -> Generator[tuple[str, ...], None, None]:
    """Every record as it stands in the file; the writer writes UTF-8 without a BOM."""
    text = io.TextIOWrapper(file, encoding="utf-8", newline="")
    try:
        yield from map(tuple, csv.reader(text))
    finally:
        text.detach()  # the caller closes the file


def _parquet_lines(source: BinaryIO) -> Generator[tuple[str, ...], None, None]:
    """The schema's names, then every row, read one bounded batch at a time."""
    with pq.ParquetFile(source) as file:
        yield tuple(file.schema_arrow.names)
        for batch in file.iter_batches(batch_size=1_000):
            for row in zip(*(column.to_pylist() for column in batch.columns), strict=True):
                yield tuple("" if value is None else str(value) for value in row)


def _display(value: object) -> str:
    """One xlsx cell value as text: typed values shown the way Excel would, text unchanged."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))  # the writer stores 3 as <v>3.0</v>; Excel shows 3
    if isinstance(value, str):
        # The writer stores control characters (and text like "_x0041_") as _xHHHH_ escapes.
        return unescape(value)
    # A float's str() is the shortest text that reads back as the same number: 0.1, 1e-07.
    return str(value)


_READERS = {"xlsx": _xlsx_lines, "csv": _csv_lines, "parquet": _parquet_lines}  # result → lines


def _error_at(header: tuple[str, ...]) -> int | None:
    """Where the processor's error column is: last (see the note on _ERROR_COLUMN)."""
    return len(header) - 1 if header and _ERROR_COLUMN.fullmatch(header[-1]) else None

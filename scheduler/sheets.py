"""Spreadsheets as tables: one sheet (the first, or one named) of an .xlsx, .xlsm, .xls or .ods
file, read with python-calamine (Rust; it reads all four) into chunks of text like a CSV's.

calamine loads a whole sheet at once, so a workbook costs memory in proportion to its sheet
(the README says so; MAX_SHEET_XML_BYTES caps it); the rows are then turned into Python values
and handed on a chunk at a time.
"""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import pandas as pd
import python_calamine

from batchscore.errors import InputError

_XLS = b"\xd0\xcf\x11\xe0"
_ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"


def is_workbook(path: Path) -> bool:
    """An Excel (xlsx, xlsm, xls) or OpenDocument (ods) workbook, by its content."""
    with path.open("rb") as f:
        head = f.read(4)
    if head == _XLS:
        return True
    if head != b"PK\x03\x04" or not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        if "xl/workbook.xml" in names:
            return True
        return "mimetype" in names and archive.read("mimetype").strip() == _ODS_MIMETYPE


@dataclass(frozen=True)
class Sheet:
    name: str
    header: list[str]  #: the first row's cells, as text
    rows: int  #: data rows (blank rows not counted)


# calamine holds a sheet's cells while it is read: about 2.2x the sheet's XML, uncompressed
# (820 MB for 1,000,000 rows x 10 columns, 366 MB of XML). Past this, a CSV is the way.
MAX_SHEET_XML_BYTES = 1024**3


def inspect_sheet(path: Path, name: str | None = None) -> Sheet:
    """The sheet called `name` (None: the first): its name, header and row count. InputError
    for a damaged or protected workbook, a sheet it does not have, or an empty one."""
    with _opened(path, name) as (found, rows):
        header = next(rows, None)
        if header is None:
            raise InputError(
                f"The sheet {found!r} of the workbook is empty. Put the table on the first "
                "sheet (or choose its sheet), its header in the first row."
            )
        return Sheet(found, [cell_text(cell) for cell in header], sum(1 for _ in rows))


def sheet_chunks(path: Path, name: str, width: int, chunk_rows: int) -> Iterator[list[list[str]]]:
    """The sheet's data rows as text, `chunk_rows` at a time, each padded or cut to `width`."""
    with _opened(path, name) as (_, rows):
        next(rows, None)  # the header
        while chunk := list(islice(rows, chunk_rows)):
            yield [[cell_text(cell) for cell in (row + [""] * width)[:width]] for row in chunk]


@contextmanager
def _opened(path: Path, name: str | None) -> Iterator[tuple[str, Iterator[list[Any]]]]:
    """The sheet's name and its rows that hold something, read from calamine a row at a time
    (the cells stay in calamine's compact form until then)."""
    _check_size(path)
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        found = _sheet_name(workbook.sheet_names, name)
        sheet = workbook.get_sheet_by_name(found)
    except InputError:
        raise
    except python_calamine.PasswordError as exc:
        raise InputError(
            "The workbook is protected by a password; save a copy without one."
        ) from exc
    except Exception as exc:  # calamine raises several types for damaged files
        raise InputError(
            f"The workbook could not be read ({exc}): it is damaged or not a workbook. Save it "
            "again from Excel or LibreOffice, or as CSV."
        ) from exc
    try:
        rows: Iterator[list[Any]] = (
            row for row in sheet.iter_rows() if any(c not in ("", None) for c in row)
        )
        yield found, rows
    finally:
        workbook.close()


def _check_size(path: Path) -> None:
    """Refuse a workbook whose largest sheet would not fit in MAX_SHEET_XML_BYTES of XML."""
    if not zipfile.is_zipfile(path):
        return  # an .xls: at most 65,536 rows of 256 columns
    with zipfile.ZipFile(path) as archive:
        sheets = [i for i in archive.infolist() if _is_sheet_part(i.filename)]
    largest = max((i.file_size for i in sheets), default=0)
    if largest > MAX_SHEET_XML_BYTES:
        raise InputError(
            f"The workbook's sheet is {largest / 1024**2:,.0f} MB of data once unpacked, more "
            f"than the {MAX_SHEET_XML_BYTES / 1024**2:,.0f} MB batchscore reads from a workbook. "
            "Save it as CSV (in Excel: File → Save As → 'CSV UTF-8') and upload that file: a "
            "CSV of any size is read a block at a time."
        )


def _is_sheet_part(name: str) -> bool:
    return name.startswith("xl/worksheets/") or name == "content.xml"  # xlsx/xlsm, ods


def _sheet_name(names: list[str], wanted: str | None) -> str:
    """The sheet to read: `wanted` (matched ignoring case and surrounding spaces if not exact),
    else the first."""
    if not names:
        raise InputError("The workbook has no sheets.")
    if wanted is None:
        return names[0]
    if wanted in names:
        return wanted
    loose = [name for name in names if name.strip().casefold() == wanted.strip().casefold()]
    if len(loose) == 1:
        return loose[0]
    listed = ", ".join(repr(name) for name in names)
    raise InputError(f"The workbook has no sheet named {wanted!r}; its sheets are {listed}.")


def cell_text(value: object) -> str:
    """A cell as the text a CSV of the sheet would hold: whole numbers without '.0', dates in
    ISO 8601, booleans as true/false, empty as ''."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return str(value)
    return str(value)


def frame(chunk: list[list[str]], columns: tuple[str, ...], first: int) -> pd.DataFrame:
    table = pd.DataFrame(chunk, columns=list(columns), dtype=str)
    table.index = pd.RangeIndex(first, first + len(table))
    return table

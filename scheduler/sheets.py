"""Spreadsheets as tables: one sheet (the first, or one named) of an .xlsx, .xlsm, .xls or .ods
file, read with python-calamine (Rust; it reads all four) into chunks of text like a CSV's.

calamine loads a whole sheet at once, so a workbook costs memory in proportion to its sheet
(the README says so); the rows are then handed on a chunk at a time.
"""

from __future__ import annotations

import datetime as dt
import math
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
    rows: list[list[object]]  #: the data rows, values as calamine gives them


def read_sheet(path: Path, name: str | None = None) -> Sheet:
    """The sheet called `name` (None: the first); InputError for a damaged or protected
    workbook, a sheet it does not have, or an empty sheet."""
    try:
        workbook = python_calamine.CalamineWorkbook.from_path(str(path))
        name = _sheet_name(workbook.sheet_names, name)
        found = workbook.get_sheet_by_name(name).to_python(skip_empty_area=True)
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
    rows: list[list[object]] = [
        list(row) for row in found if any(cell not in ("", None) for cell in row)
    ]
    if not rows:
        raise InputError(
            f"The sheet {name!r} of the workbook is empty. Put the table on the first sheet "
            "(or choose its sheet), its header in the first row."
        )
    return Sheet(name, [cell_text(cell) for cell in rows[0]], rows[1:])


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


def sheet_chunks(
    rows: list[list[object]], width: int, chunk_rows: int
) -> Iterator[list[list[str]]]:
    """The rows as text, `chunk_rows` at a time, each padded or cut to `width` cells."""
    for start in range(0, len(rows), chunk_rows):
        yield [
            [cell_text(cell) for cell in (row + [""] * width)[:width]]
            for row in rows[start : start + chunk_rows]
        ]


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

"""An xlsx result read back: the rows of its prediction sheets, and its about sheet."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl

from batchscore.scheduler.writing import ABOUT_SHEET


def xlsx_rows(source: Path | bytes) -> list[tuple[object, ...]]:
    """Every row of every prediction sheet, each sheet's header included."""
    workbook = openpyxl.load_workbook(
        io.BytesIO(source) if isinstance(source, bytes) else source, read_only=True
    )
    try:
        return [
            row
            for sheet in workbook.worksheets
            if sheet.title != ABOUT_SHEET
            for row in sheet.iter_rows(values_only=True)
        ]
    finally:
        workbook.close()


def about_sheet(source: Path | bytes) -> dict[str, object]:
    """The about sheet as item → value."""
    workbook = openpyxl.load_workbook(
        io.BytesIO(source) if isinstance(source, bytes) else source, read_only=True
    )
    try:
        rows = list(workbook[ABOUT_SHEET].iter_rows(values_only=True))
    finally:
        workbook.close()
    assert rows[0] == ("Item", "Value")
    return {str(item): value for item, value in rows[1:]}

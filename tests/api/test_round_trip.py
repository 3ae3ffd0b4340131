"""Every uploaded cell comes back as the user wrote it, in each result format: leading zeros,
20-digit ids, dates, percentages and any script stay themselves; a parquet result types the
numbers (and keeps a parquet input's own types)."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from factories import IRIS_HEADER, csv_text
from results import xlsx_rows

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs

HEADER = (*IRIS_HEADER, "id", "account", "signed_up", "rate", "note", "visits", "amount")
ROWS = [
    ("5.1", "3.5", "1.4", "0.2", "00123", "12345678901234567890", "2026-12-02", "12%",
     "Zürich \u2013 東京 ✓", "3", "5.1"),
    ("6.7", "3", "5.2", "2.3", "00007", "98765432109876543210", "1999-01-31", "7.5%",
     "naïve café «ok»", "12", "-0.25"),
    ("5.9", "3.0", "4.2", "1.5", "", "1", "", "100%", "", "0", ""),
]  # fmt: skip
UPLOADED = len(HEADER)


def result(alice: Caller, jobs: Jobs, content: bytes, name: str, output: str) -> bytes:
    created = jobs.upload(alice, content, filename=name, format=output)
    assert created.status_code == 201, created.text
    done = alice.client.post("/process_file", params={"id": created.json()["id"]}).json()
    assert (done["status"], done["rows_failed"]) == ("PROCESSED", 0), done
    return alice.client.get(done["result_url"]).content


def same(cell: object, text: str) -> bool:
    """Whether a cell read back is what was uploaded: the same text, or the same number (the
    xlsx and parquet results make '3.0' the number 3, as Excel opening the CSV would)."""
    if isinstance(cell, int | float) and not isinstance(cell, bool):
        return float(text) == cell
    return ("" if cell is None else cell) == text


def assert_as_uploaded(rows: list[tuple[object, ...]]) -> None:
    assert len(rows) == len(ROWS)
    for row, uploaded in zip(rows, ROWS, strict=True):
        assert all(same(c, t) for c, t in zip(row, uploaded, strict=True)), (row, uploaded)


def test_a_csv_comes_back_cell_for_cell_in_xlsx_csv_and_parquet(alice: Caller, jobs: Jobs) -> None:
    content = csv_text(ROWS, HEADER).encode()

    workbook = xlsx_rows(result(alice, jobs, content, "people.csv", "xlsx"))
    text = list(csv.reader(io.StringIO(result(alice, jobs, content, "people.csv", "csv").decode())))
    table = pq.read_table(io.BytesIO(result(alice, jobs, content, "people.csv", "parquet")))

    assert_as_uploaded([row[:UPLOADED] for row in workbook[1:]])
    assert [tuple(row[:UPLOADED]) for row in text[1:]] == ROWS  # CSV: the very text
    assert_as_uploaded([tuple(r[name] for name in HEADER) for r in table.to_pylist()])
    assert workbook[1][4] == "00123" and workbook[1][10] == 5.1  # text stays text, numbers are
    types = dict(zip(table.schema.names, table.schema.types, strict=True))
    assert {name: str(types[name]) for name in HEADER} == {
        **dict.fromkeys(IRIS_HEADER, "double"),
        "id": "string",
        "account": "string",
        "signed_up": "string",
        "rate": "string",
        "note": "string",
        "visits": "int64",
        "amount": "double",
    }
    assert (str(types["prediction"]), str(types["probability"])) == ("string", "double")
    assert table.column("amount").to_pylist() == [5.1, -0.25, None]


@pytest.mark.parametrize("output", ["parquet", "csv"])
def test_a_parquet_file_keeps_its_types_and_values(
    alice: Caller, jobs: Jobs, tmp_path: Path, output: str
) -> None:
    frame = pd.DataFrame(
        {
            "sepal_length": [5.1, 6.7],
            "sepal_width": [3.5, 3.0],
            "petal_length": [1.4, 5.2],
            "petal_width": [0.2, 2.3],
            "customer": pd.array([1234567890123, None], dtype="Int64"),
            "member": [True, False],
            "joined": [dt.date(2026, 12, 2), dt.date(1999, 1, 31)],
            "seen": pd.to_datetime(
                ["2026-12-02 08:30:00", "2001-02-03 04:05:06.789"], format="ISO8601"
            ),
            "note": ["Köln", None],
        }
    )
    frame.to_parquet(tmp_path / "people.parquet", index=False)

    content = (tmp_path / "people.parquet").read_bytes()
    scored = result(alice, jobs, content, "people.parquet", output)

    if output == "parquet":
        table = pq.read_table(io.BytesIO(scored))
        source = pq.read_table(tmp_path / "people.parquet")
        assert table.select(source.schema.names).schema.types == source.schema.types
        assert table.select(source.schema.names).to_pylist() == source.to_pylist()
        assert table.column("prediction").to_pylist() == ["setosa", "virginica"]
        assert table.schema.field("probability").type == pa.float64()
    else:
        rows = list(csv.reader(io.StringIO(scored.decode())))
        assert rows[1][4:9] == [
            "1234567890123",
            "true",
            "2026-12-02",
            "2026-12-02 08:30:00.000000",
            "Köln",
        ]

"""A result longer than an Excel sheet continues on a second sheet, and the job says so."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from processes import Cli

from batchscore.config import Settings
from batchscore.db.engine import in_transaction
from batchscore.db.jobs import JobStatus, list_jobs
from batchscore.scheduler.context import Context

pytestmark = pytest.mark.slow
SHEET_ROWS = 1_048_575  # data rows per sheet under the header
EXTRA = 10


def test_result_past_one_sheet_continues_on_the_next(
    cli: Cli, ctx: Context, settings: Settings, tmp_path: Path
) -> None:
    big = tmp_path / "long.csv"
    with big.open("w") as f:
        f.write("sepal_length,sepal_width,petal_length,petal_width,n\n")
        f.writelines(f"5.1,3.5,1.4,0.2,{n}\n" for n in range(1, SHEET_ROWS + EXTRA + 1))
    cli.run("submit", str(big))
    cli.run("process")
    (job,) = in_transaction(ctx.engine, lambda c: list_jobs(c))
    assert (job.status, job.rows_total, job.result_sheets) == (
        JobStatus.PROCESSED,
        SHEET_ROWS + EXTRA,
        2,
    )
    assert job.output_name is not None
    workbook = openpyxl.load_workbook(Path(settings.output_dir) / job.output_name, read_only=True)
    try:
        assert workbook.sheetnames == ["predictions", "predictions 2", "about"]
        first, second, _ = workbook.worksheets
        assert first.max_row == SHEET_ROWS + 1
        rows = list(second.iter_rows(values_only=True))
    finally:
        workbook.close()
    header = ("sepal_length", "sepal_width", "petal_length", "petal_width", "n")
    assert rows[0] == (*header, "prediction", "probability", "warning", "error")
    assert [row[4] for row in rows[1:]] == list(range(SHEET_ROWS + 1, SHEET_ROWS + EXTRA + 1))
    assert all(row[5] == "setosa" and row[7] is None and row[8] is None for row in rows[1:])

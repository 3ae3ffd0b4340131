"""process_one end to end on real files, a real database and the real demo model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import openpyxl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from factories import IRIS_HEADER, IRIS_ROW, add_job, csv_text, iris_csv, submit
from results import xlsx_rows

from batchscore.config import Settings
from batchscore.db.engine import in_transaction
from batchscore.db.jobs import JobRecord, JobStatus, list_attempts
from batchscore.model.registry import load_model
from batchscore.scheduler.context import Context
from batchscore.scheduler.processor import process_one
from batchscore.scheduler.score_options import ScoreOptions

rows_of = xlsx_rows


def probability(ctx: Context, *rows: tuple[str, ...]) -> list[float]:
    """The demo model's probability of the class it predicts for each row, from the estimator."""
    estimator = load_model(ctx.settings.model_dir, "iris").estimator
    matrix = np.array([[float(v) for v in row[:4]] for row in rows])
    return [float(p) for p in estimator.predict_proba(matrix).max(axis=1)]


def run_one(ctx: Context) -> JobRecord:
    job = process_one(ctx)
    assert job is not None
    return job


def result_path(ctx: Context, job: JobRecord) -> Path:
    assert job.output_name is not None
    return Path(ctx.settings.output_dir, job.output_name)


def test_process_one_returns_none_when_queue_is_empty(ctx: Context) -> None:
    assert process_one(ctx) is None


def test_processed_xlsx_is_input_table_plus_prediction(ctx: Context) -> None:
    text = csv_text(
        [("5.1", "3.5", "1.4", "0.2", "a"), ("6.7", "3.0", "5.2", "2.3", "b")],
        header=(*IRIS_HEADER, "note"),
    )
    job = run_one(ctx) if submit(ctx, text, "flowers.csv") else None
    assert job is not None and job.status is JobStatus.PROCESSED, job
    assert (job.rows_total, job.rows_done, job.rows_failed, job.model_version) == (2, 2, 0, 1)
    assert job.output_name == f"job-{job.id}-flowers.xlsx"
    rows = rows_of(result_path(ctx, job))
    setosa, virginica = probability(ctx, ("5.1", "3.5", "1.4", "0.2"), ("6.7", "3.0", "5.2", "2.3"))
    assert rows[0] == (*IRIS_HEADER, "note", "prediction", "probability", "warning", "error")
    assert rows[1] == (5.1, 3.5, 1.4, 0.2, "a", "setosa", setosa, None, None)
    assert rows[2] == (6.7, 3.0, 5.2, 2.3, "b", "virginica", virginica, None, None)
    assert 0.5 < virginica < setosa < 1


def test_processed_job_records_one_attempt(ctx: Context) -> None:
    submit(ctx, iris_csv(3))
    job = run_one(ctx)
    attempts = in_transaction(ctx.engine, lambda c: list_attempts(c, job.id))
    assert [(a.outcome, a.claim_token) for a in attempts] == [("PROCESSED", job.claim_token)]


def test_many_chunks_keep_every_row_in_order(ctx: Context) -> None:
    rows = [(f"{4 + i % 40 / 10:.1f}", "3.0", f"{1 + i % 50 / 10:.1f}", "1.0") for i in range(2500)]
    submit(ctx, csv_text(rows))  # chunk_rows is 1000 in tests: three chunks
    job = run_one(ctx)
    out = rows_of(result_path(ctx, job))
    assert job.rows_total == 2500 and len(out) == 2501
    assert [r[:4] for r in out[1:]] == [tuple(float(v) for v in row) for row in rows]


def test_csv_output_format(ctx: Context) -> None:
    submit(ctx, iris_csv(2), output_format="csv")
    job = run_one(ctx)
    text = result_path(ctx, job).read_text()
    (setosa,) = probability(ctx, IRIS_ROW)
    assert text.splitlines() == [
        "sepal_length,sepal_width,petal_length,petal_width,prediction,probability,warning,error",
        f"5.1,3.5,1.4,0.2,setosa,{setosa!r},,",
        f"5.1,3.5,1.4,0.2,setosa,{setosa!r},,",
    ]


def test_probabilities_all_gives_a_column_per_class(ctx: Context) -> None:
    options = ScoreOptions(probabilities="all")
    submit(ctx, iris_csv(9) + "5.1,x,1.4,0.2\n", output_format="parquet", options=options)
    job = run_one(ctx)
    table = pq.read_table(result_path(ctx, job))
    names = [f"probability_{c}" for c in ("setosa", "versicolor", "virginica")]
    assert table.column_names[-6:] == ["prediction", *names, "warning", "error"]
    estimator = load_model(ctx.settings.model_dir, "iris").estimator
    expected = estimator.predict_proba(np.array([[5.1, 3.5, 1.4, 0.2]]))[0].tolist()
    for name, value in zip(names, expected, strict=True):
        assert table.schema.field(name).type == pa.float64()
        found = table.column(name).to_pylist()
        assert found[9] is None  # none for the bad row
        # Equal to the last bits only for the same batch: BLAS may sum a batch of 9 differently.
        assert found[:9] == [pytest.approx(value, rel=1e-12)] * 9


def test_parquet_output_format(ctx: Context) -> None:
    submit(ctx, iris_csv(19) + ",,,\n", output_format="parquet")  # 1 bad row in 20: allowed
    job = run_one(ctx)
    assert (job.status, job.rows_total, job.rows_failed, job.result_sheets) == (
        JobStatus.PROCESSED,
        20,
        1,
        1,
    )
    table = pq.read_table(result_path(ctx, job))
    assert table.column("sepal_length").to_pylist() == [5.1] * 19 + [None]
    assert table.column("prediction").to_pylist() == ["setosa"] * 19 + [None]
    assert str(table.column("error")[19]).startswith("sepal_length is empty")


def test_unscorable_row_is_kept_with_its_error(ctx: Context) -> None:
    rows = [IRIS_ROW] * 9 + [("5.1", "abc", "1.4", "0.2")]
    submit(ctx, csv_text(rows))
    job = run_one(ctx)
    assert job.status is JobStatus.PROCESSED
    assert job.rows_failed == 1
    last = rows_of(result_path(ctx, job))[-1]
    assert last == (5.1, "abc", 1.4, 0.2, None, None, None, "sepal_width: 'abc' is not a number")


def test_job_fails_when_too_many_rows_cannot_be_scored(ctx: Context) -> None:
    rows = [IRIS_ROW] * 8 + [("x", "3.5", "1.4", "0.2"), ("5.1", "", "1.4", "0.2")]
    submit(ctx, csv_text(rows))
    job = run_one(ctx)
    assert job.status is JobStatus.FAILED
    assert job.error_message == (
        "2 of 10 rows (20.0%) could not be scored, more than the 10% a job may leave unscored. "
        "First problems: row 10: sepal_length: 'x' is not a number; row 11: sepal_width is "
        "empty. Fix those rows and upload the file again."
    )
    assert (job.rows_total, job.rows_done, job.rows_failed) == (10, 10, 2)  # as it says
    # Its result is kept, under a name of its own, for its bad rows (GET /api/jobs/{id}/errors).
    assert job.output_name == f"job-{job.id}-data-failed.xlsx"
    assert [p.name for p in Path(ctx.settings.output_dir).iterdir()] == [job.output_name]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            b"",
            "The file is empty. A CSV file needs a header line naming its columns, then one line "
            "per row.",
        ),
        (
            b"sepal_length,sepal_width,petal_length,petal_width\n",
            "The file has a header but no data rows.",
        ),
        (
            b"sepal_length,sepal_width,petal_length\n5.1,3.5,1.4\n",
            "Missing column(s) petal_width. Model iris v1 needs: sepal_length, sepal_width, "
            "petal_length, petal_width. The file has: sepal_length, sepal_width, petal_length.",
        ),
        (
            (
                "sepal_length,sepal_width,petal_length,petal_width,city\n5.1,3.5,1.4,0.2,Köln\n" * 1
            ).encode()
            + b"x" * 1_100_000
            + b"\n5.1,3.5,1.4,0.2,K\xf6ln\n",
            "Line 4 is not valid UTF-8 text (byte 0xf6): the file mixes encodings. Save it as "
            "'CSV UTF-8' and upload it again.",
        ),
        (
            b"PK\x03\x04\x14\x00\x06\x00\x08\x00\x00\x00!\x00binary",
            "This file is an Excel or OpenDocument workbook (.xlsx, .ods), not CSV text. Save it "
            "as CSV (in Excel: File → Save As → 'CSV UTF-8') and upload that file.",
        ),
        (
            b"\x00\x01\x02\x03garbage\x00\xff",
            "This file contains binary data, not CSV text. Save it as CSV (in Excel: File → Save "
            "As → 'CSV UTF-8') and upload that file.",
        ),
        (
            b"sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n5.1,3.5,1.4,0.2,9\n",
            "Line 3 has 5 values but the header has 4 columns. A value that contains the "
            "delimiter must be quoted.",
        ),
    ],
    ids=["empty", "header-only", "missing-feature", "mixed-encodings", "xlsx", "binary", "ragged"],
)
def test_unreadable_file_fails_job_with_reason(ctx: Context, content: bytes, message: str) -> None:
    add_job(ctx, content)
    job = run_one(ctx)
    assert job.status is JobStatus.FAILED
    assert job.error_message == message
    assert job.attempts == 1
    assert list(Path(ctx.settings.output_dir).iterdir()) == []  # no result, no temp file left


def test_semicolon_delimited_file_is_scored(ctx: Context) -> None:
    add_job(ctx, b"sepal_length;sepal_width;petal_length;petal_width\n5.1;3.5;1.4;0.2\n")
    job = run_one(ctx)
    assert job.status is JobStatus.PROCESSED
    assert rows_of(result_path(ctx, job))[1] == (
        5.1,
        3.5,
        1.4,
        0.2,
        "setosa",
        *probability(ctx, IRIS_ROW),
        None,
        None,
    )


@pytest.mark.parametrize(
    "content",
    [
        b"\xef\xbb\xbfsepal_length,sepal_width,petal_length,petal_width\r\n5.1,3.5,1.4,0.2\r\n",
        "sepal_length,sepal_width,petal_length,petal_width\n5.1,3.5,1.4,0.2\n".encode("utf-16"),
        b"sepal_width,petal_width,sepal_length,petal_length\n3.5,0.2,5.1,1.4",  # order, no final \n
    ],
    ids=["bom-crlf", "utf16", "reordered"],
)
def test_common_csv_variants_are_scored(ctx: Context, content: bytes) -> None:
    add_job(ctx, content)
    job = run_one(ctx)
    assert job.status is JobStatus.PROCESSED, job.error_message
    row = rows_of(result_path(ctx, job))[1]
    assert row[-4:] == ("setosa", *probability(ctx, IRIS_ROW), None, None)


def test_formula_text_comes_out_as_text(ctx: Context) -> None:
    payload = '=HYPERLINK("http://example.com","click")'
    text = csv_text(
        [(*IRIS_ROW, f'"{payload.replace(chr(34), chr(34) * 2)}"')], (*IRIS_HEADER, "note")
    )
    submit(ctx, text)
    job = run_one(ctx)
    workbook = openpyxl.load_workbook(result_path(ctx, job))
    cell = workbook.active["E2"]  # type: ignore[index]
    assert (cell.value, cell.data_type) == (payload, "s")


def test_input_with_prediction_column_keeps_it(ctx: Context) -> None:
    submit(ctx, csv_text([(*IRIS_ROW, "old")], (*IRIS_HEADER, "prediction")))
    job = run_one(ctx)
    header, row = rows_of(result_path(ctx, job))
    assert header[-5:] == ("prediction", "prediction_2", "probability", "warning", "error")
    assert row[-5:] == ("old", "setosa", *probability(ctx, IRIS_ROW), None, None)


def test_missing_model_fails_job_with_reason(ctx: Context) -> None:
    add_job(ctx, iris_csv(1), model_name="nosuchmodel")
    job = run_one(ctx)
    assert job.status is JobStatus.FAILED
    assert job.error_message is not None and "Model 'nosuchmodel' not found" in job.error_message


def test_next_job_runs_after_a_failed_one(ctx: Context) -> None:
    add_job(ctx, b"")
    submit(ctx, iris_csv(1))
    assert run_one(ctx).status is JobStatus.FAILED
    assert run_one(ctx).status is JobStatus.PROCESSED


def test_unwritable_output_folder_fails_job_and_keeps_input(
    ctx: Context, settings: Settings
) -> None:
    job = submit(ctx, iris_csv(1))
    Path(settings.output_dir).rmdir()
    Path(settings.output_dir).write_text("not a folder")
    done = run_one(ctx)
    assert done.status is JobStatus.FAILED
    assert done.error_message == (
        "A file could not be written or read (Not a directory). Ask the operator to check the "
        "disk space and permissions of the data folders, then retry."
    )
    assert Path(ctx.settings.input_dir, job.input_name).is_file()


@pytest.mark.parametrize(
    ("content", "header", "first"),
    [
        (  # every row ends with a delimiter: the empty field after it is not a column
            csv_text([(*IRIS_ROW, "")] * 3),
            IRIS_HEADER,
            (5.1, 3.5, 1.4, 0.2),
        ),
        (  # R's write.table(sep=","): row names, with no header of their own
            '"sepal_length","sepal_width","petal_length","petal_width"\n'
            + "".join(f'"r{n}",5.1,3.5,1.4,0.2\n' for n in range(3)),
            ("column_1", *IRIS_HEADER),
            ("r0", 5.1, 3.5, 1.4, 0.2),
        ),
        (  # a quoted header name holding a newline
            csv_text([(*IRIS_ROW, "x")] * 3, header=(*IRIS_HEADER, '"note\nsecond line"')),
            (*IRIS_HEADER, "note\nsecond line"),
            (5.1, 3.5, 1.4, 0.2, "x"),
        ),
    ],
    ids=["trailing-delimiter", "r-row-names", "newline-in-header"],
)
def test_files_that_once_shifted_every_column_are_read_as_written(
    ctx: Context, content: str, header: tuple[str, ...], first: tuple[object, ...]
) -> None:
    submit(ctx, content)
    job = run_one(ctx)
    assert (job.status, job.rows_total, job.rows_failed) == (JobStatus.PROCESSED, 3, 0)
    rows = rows_of(result_path(ctx, job))
    assert rows[0] == (*header, "prediction", "probability", "warning", "error")
    assert rows[1] == (*first, "setosa", *probability(ctx, IRIS_ROW), None, None)


def test_a_value_after_the_last_column_beyond_the_sample_fails_the_job(ctx: Context) -> None:
    rows = [(*IRIS_ROW, "")] * 300 + [(*IRIS_ROW, "9")]  # row 301: past the 200 sampled
    submit(ctx, csv_text(rows))
    job = run_one(ctx)
    assert job.status is JobStatus.FAILED
    assert (job.error_message or "").startswith(
        "Row 302 (the header is row 1) has a value after the last column, where the other rows "
        "end with an "
        "empty field: it has 5 values but the header has 4 columns."
    )


def test_a_cell_longer_than_excel_holds_is_a_row_error_not_a_silent_cut(ctx: Context) -> None:
    long = "é" * 20_000 + "😀" * 10_000  # 30,000 characters, 40,000 UTF-16 units
    rows = [(*IRIS_ROW, "short")] * 19 + [(*IRIS_ROW, long)]
    submit(ctx, csv_text(rows, header=(*IRIS_HEADER, "note")))
    job = run_one(ctx)
    assert (job.status, job.rows_total, job.rows_failed) == (JobStatus.PROCESSED, 20, 1)
    last = rows_of(result_path(ctx, job))[-1]
    assert last[-4:] == (
        None,
        None,
        None,
        "note holds 40,000 characters, more than the 32,767 an Excel cell can: choose CSV or "
        "parquet output for this file",
    )

    submit(ctx, csv_text(rows, header=(*IRIS_HEADER, "note")), output_format="csv")
    whole = run_one(ctx)
    assert whole.rows_failed == 0 and long in result_path(ctx, whole).read_text()


def test_headers_that_differ_from_the_features_in_case_or_separators_are_matched(
    ctx: Context,
) -> None:
    header = ("Sepal_Length", "sepal width", "PETAL-LENGTH", "Petal Width")
    submit(ctx, csv_text([IRIS_ROW] * 2, header=header))
    job = run_one(ctx)
    assert (job.status, job.rows_failed) == (JobStatus.PROCESSED, 0)
    rows = rows_of(result_path(ctx, job))
    assert rows[0][:4] == header  # the file's own names, kept
    assert rows[1][4] == "setosa"


def test_repeated_names_the_model_does_not_use_are_kept_apart(ctx: Context) -> None:
    submit(
        ctx,
        csv_text(
            [(*IRIS_ROW, "a", "b", "c")], header=(*IRIS_HEADER, "Notes", "Notes", "Notes (2)")
        ),
    )
    job = run_one(ctx)
    header, row = rows_of(result_path(ctx, job))
    assert header[4:7] == ("Notes", "Notes (3)", "Notes (2)")
    assert row[4:8] == ("a", "b", "c", "setosa")

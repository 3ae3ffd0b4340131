"""GET /api/jobs/{id}/errors: a processed job's rows that could not be scored, as a CSV to fix
and upload again, whatever the result's format; numbered as a spreadsheet shows the file."""

from __future__ import annotations

import csv
import io
from typing import TYPE_CHECKING

import pytest
from factories import IRIS_HEADER, IRIS_ROW, csv_text

from batchscore.scheduler.processor import process_one

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs

BAD = [("5.1", "abc", "1.4", "0.2"), ("=HYPERLINK(1)", "3.5", "1.4", "0.2")]


@pytest.mark.parametrize("result_format", ["xlsx", "csv", "parquet"])
def test_the_rows_with_errors_come_as_a_csv_numbered_as_a_spreadsheet_shows_them(
    alice: Caller, jobs: Jobs, result_format: str
) -> None:
    rows = [IRIS_ROW] * 30 + [BAD[0]] + [IRIS_ROW] * 9 + [BAD[1]]
    job = jobs.upload(alice, csv_text(rows), filename="mixed data.csv", format=result_format)
    process_one(jobs.ctx, job_id=job.json()["id"])

    response = alice.client.get(f"/api/jobs/{job.json()['id']}/errors")

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.headers["content-disposition"] == 'attachment; filename="mixed_data-errors.csv"'
    table = list(csv.reader(io.StringIO(response.text)))
    assert table[0][:5] == ["row", *IRIS_HEADER] and table[0][-1] == "error"
    assert [line[0] for line in table[1:]] == ["32", "42"]  # the header is row 1
    assert table[1][2] == "abc" and "sepal_width: 'abc' is not a number" in table[1][-1]
    assert table[2][1] == "'=HYPERLINK(1)"  # defused: a spreadsheet shows it, never runs it


def test_a_job_without_errors_gives_the_header_only(alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice, "PROCESSED")

    response = alice.client.get(f"/api/jobs/{job.id}/errors")

    assert response.status_code == 200
    [header] = csv.reader(io.StringIO(response.text))
    assert header[0] == "row" and header[-1] == "error"


def test_no_result_yet_is_a_conflict_and_someone_elses_job_is_not_found(
    alice: Caller, bob: Caller, jobs: Jobs
) -> None:
    pending = jobs.make(alice)
    assert alice.client.get(f"/api/jobs/{pending.id}/errors").status_code == 409
    processed = jobs.make(alice, "PROCESSED")
    assert bob.client.get(f"/api/jobs/{processed.id}/errors").status_code == 404


def test_a_job_failed_for_its_rows_keeps_them_to_download_until_it_is_retried(
    alice: Caller, jobs: Jobs
) -> None:
    rows = [IRIS_ROW] * 6 + [BAD[0]] * 4  # 40 % bad: more than a job may leave unscored
    job_id = jobs.upload(alice, csv_text(rows), filename="bad.csv").json()["id"]
    process_one(jobs.ctx, job_id=job_id)
    failed = alice.client.get(f"/api/jobs/{job_id}").json()
    assert (failed["status"], failed["rows_total"], failed["rows_failed"]) == ("FAILED", 10, 4)
    assert alice.client.get(f"/api/jobs/{job_id}/result").status_code == 409  # no result

    errors = alice.client.get(f"/api/jobs/{job_id}/errors")

    assert errors.status_code == 200, errors.text
    assert [line[0] for line in csv.reader(io.StringIO(errors.text))][1:] == ["8", "9", "10", "11"]
    kept = jobs.files(jobs.get(job_id))[1]
    assert kept.exists() and kept.name.endswith("-failed.xlsx")

    retried = alice.client.post(f"/api/jobs/{job_id}/retry")

    assert retried.status_code == 200 and retried.json()["status"] == "PENDING"
    assert not kept.exists()  # its bad rows go with the failure
    assert alice.client.get(f"/api/jobs/{job_id}/errors").status_code == 409


def test_retry_failed_and_delete_remove_the_kept_results(alice: Caller, jobs: Jobs) -> None:
    rows = [IRIS_ROW] + [BAD[0]] * 3
    made = [
        jobs.upload(alice, csv_text(rows), filename=f"bad-{n}.csv").json()["id"] for n in range(3)
    ]
    for job_id in made:
        process_one(jobs.ctx, job_id=job_id)
    kept = [jobs.files(jobs.get(job_id))[1] for job_id in made]
    assert all(path.exists() for path in kept)

    assert alice.client.delete(f"/api/jobs/{made[0]}").status_code == 204
    assert not kept[0].exists()
    assert alice.client.post("/api/jobs/failed/retry").json()["job_ids"] == made[1:]
    assert not any(path.exists() for path in kept)

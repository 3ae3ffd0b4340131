"""The jobs API after upload: list, show, download, retry, archive, delete."""

from __future__ import annotations

import io
from datetime import datetime
from typing import TYPE_CHECKING

import openpyxl
import pytest
from factories import IRIS_HEADER, csv_text
from predicting import predicted_probability
from routes import JOB_ROUTES
from sqlalchemy import Connection, update

from batchscore.db import tables
from batchscore.db.engine import in_transaction
from batchscore.db.jobs import renew_lease
from batchscore.db.workers import worker_seen, worker_stopped
from batchscore.scheduler.context import Context

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KNOWN_FLOWERS = [
    (("5.1", "3.5", "1.4", "0.2"), "setosa"),
    (("7.0", "3.2", "4.7", "1.4"), "versicolor"),
    (("6.3", "3.3", "6.0", "2.5"), "virginica"),
]
BIGGEST_ID = "9" * 20  # matches the {job_id:int} route, but no database integer holds it


# --- GET /api/jobs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("limit", "offset", "positions"),
    [(2, 0, [0, 1]), (2, 2, [2, 3]), (2, 4, [4]), (2, 5, []), (500, 0, [0, 1, 2, 3, 4])],
)
def test_list_jobs_pages_newest_first(
    alice: Caller, jobs: Jobs, limit: int, offset: int, positions: list[int]
) -> None:
    newest_first = [jobs.make(alice).id for _ in range(5)][::-1]
    response = alice.client.get("/api/jobs", params={"limit": limit, "offset": offset})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [j["id"] for j in body["jobs"]] == [newest_first[p] for p in positions]
    assert (body["total"], body["limit"], body["offset"]) == (5, limit, offset)


def test_list_jobs_defaults_to_first_fifty(alice: Caller, jobs: Jobs) -> None:
    jobs.make(alice)
    body = alice.client.get("/api/jobs").json()
    assert (len(body["jobs"]), body["total"], body["limit"], body["offset"]) == (1, 1, 50, 0)


@pytest.mark.parametrize("status", ["PENDING", "processed", "Failed", "IN_PROGRESS", "Cancelled"])
def test_list_jobs_filters_by_status(alice: Caller, jobs: Jobs, status: str) -> None:
    made = {
        s: jobs.make(alice, s).id
        for s in ("PENDING", "PROCESSED", "FAILED", "IN_PROGRESS", "CANCELLED")
    }
    body = alice.client.get("/api/jobs", params={"status": status}).json()
    assert [j["id"] for j in body["jobs"]] == [made[status.upper()]]
    assert body["total"] == 1


def test_list_jobs_hides_archived_jobs(alice: Caller, jobs: Jobs) -> None:
    shown = jobs.make(alice)
    jobs.make(alice, "ARCHIVED")
    for params in ({}, {"archived": "false"}):
        body = alice.client.get("/api/jobs", params=params).json()
        assert ([j["id"] for j in body["jobs"]], body["total"]) == ([shown.id], 1)


def test_list_jobs_shows_archived_jobs_on_request(alice: Caller, jobs: Jobs) -> None:
    shown = jobs.make(alice)
    archived = jobs.make(alice, "ARCHIVED")
    body = alice.client.get("/api/jobs", params={"archived": "true"}).json()
    assert [(j["id"], j["archived"]) for j in body["jobs"]] == [
        (archived.id, True),
        (shown.id, False),
    ]
    assert body["total"] == 2


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"limit": "abc"}, "Query parameter 'limit' must be an integer, not 'abc'."),
        ({"limit": "0"}, "Query parameter 'limit' must be between 1 and 500."),
        ({"limit": "501"}, "Query parameter 'limit' must be between 1 and 500."),
        ({"limit": "2.5"}, "Query parameter 'limit' must be an integer, not '2.5'."),
        ({"offset": "-1"}, "Query parameter 'offset' must be between 0 and 4611686018427387904."),
        ({"offset": "x"}, "Query parameter 'offset' must be an integer, not 'x'."),
        (
            {"status": "DONE"},
            "Query parameter 'status' must be one of PENDING, IN_PROGRESS, PROCESSED, FAILED, "
            "CANCELLED.",
        ),
        ({"archived": "maybe"}, "Query parameter 'archived' must be true or false, not 'maybe'."),
        (
            {"since": "yesterday"},
            "Query parameter 'since' must be a date or time such as 2026-12-04 or "
            "2026-12-04T09:30:00Z, not 'yesterday'.",
        ),
        (
            {"until": "2026-13-01"},
            "Query parameter 'until' must be a date or time such as 2026-12-04 or "
            "2026-12-04T09:30:00Z, not '2026-13-01'.",
        ),
        ({"summaries": "all"}, "Query parameter 'summaries' must be true or false, not 'all'."),
        (
            {"sort": "size"},
            "Unknown sort 'size': sort by created, filename, model, status, rows, failed, "
            "finished, with '-' before it for the other way round (newest, largest, last first).",
        ),
    ],
)
def test_list_jobs_bad_parameter_is_refused_with_its_name(
    alice: Caller, params: dict[str, str], message: str
) -> None:
    response = alice.client.get("/api/jobs", params=params)
    assert response.status_code == 422, response.text
    assert response.json() == {"error": {"code": "invalid_input", "message": message}}


def listed(caller: Caller, **params: str) -> list[str]:
    response = caller.client.get("/api/jobs", params=params)
    assert response.status_code == 200, response.text
    return [job["filename"] for job in response.json()["jobs"]]


def test_list_jobs_finds_a_file_by_any_part_of_its_name_in_any_case(
    alice: Caller, jobs: Jobs
) -> None:
    for name in ("Sales_May.csv", "sales-june.csv", "stock.csv", "100%_sure.csv"):
        jobs.make(alice, filename=name)

    assert listed(alice, q="SALES") == ["sales-june.csv", "Sales_May.csv"]
    assert listed(alice, q="_") == ["100%_sure.csv", "Sales_May.csv"]  # _ is not a wildcard
    assert listed(alice, q="%") == ["100%_sure.csv"]
    assert listed(alice, q="nothing") == []


def test_list_jobs_sorts_by_a_column_either_way_newest_first_among_equals(
    alice: Caller, jobs: Jobs
) -> None:
    for name in ("b.csv", "a.csv", "c.csv", "a.csv"):
        jobs.make(alice, filename=name)
    failed = jobs.make(alice, "FAILED", filename="z.csv")

    assert listed(alice, sort="filename") == ["a.csv", "a.csv", "b.csv", "c.csv", "z.csv"]
    assert listed(alice, sort="-filename") == ["z.csv", "c.csv", "b.csv", "a.csv", "a.csv"]
    assert listed(alice, sort="created") == ["b.csv", "a.csv", "c.csv", "a.csv", "z.csv"]
    assert listed(alice, sort="status")[0] == "z.csv" == failed.original_filename
    ids = [j["id"] for j in alice.client.get("/api/jobs?sort=filename").json()["jobs"][:2]]
    assert ids[0] > ids[1]  # the two a.csv: the newest first


def test_list_jobs_between_two_dates_and_pages_through_them(
    alice: Caller, jobs: Jobs, ctx: Context
) -> None:
    made = [jobs.make(alice, filename=f"day-{n}.csv") for n in range(5)]

    def backdate(conn: Connection) -> None:  # queued on the 1st … 5th of December, at noon
        for n, job in enumerate(made):
            stamp = datetime(2026, 12, n + 1, 12, 0)
            conn.execute(
                update(tables.jobs).where(tables.jobs.c.id == job.id).values(created_at=stamp)
            )

    in_transaction(ctx.engine, backdate)

    assert listed(alice, since="2026-12-02", until="2026-12-04") == ["day-2.csv", "day-1.csv"]
    assert listed(alice, since="2026-12-04T13:00:00+01:00") == ["day-4.csv", "day-3.csv"]
    assert listed(alice, until="2026-12-01T12:00:01Z") == ["day-0.csv"]
    page = alice.client.get("/api/jobs", params={"limit": 2, "offset": 2, "sort": "created"})
    assert [j["filename"] for j in page.json()["jobs"]] == ["day-2.csv", "day-3.csv"]
    assert (page.json()["total"], page.json()["offset"]) == (5, 2)


def test_an_admin_sees_whose_each_job_is(
    alice: Caller, bob: Caller, admin: Caller, jobs: Jobs
) -> None:
    jobs.make(alice, filename="a.csv")
    jobs.make(bob, filename="b.csv")

    owners = {j["filename"]: j["owner"] for j in admin.client.get("/api/jobs").json()["jobs"]}
    assert owners == {"a.csv": "alice", "b.csv": "bob"}
    assert [j["owner"] for j in bob.client.get("/api/jobs").json()["jobs"]] == ["bob"]


# --- GET /api/jobs/{id} ----------------------------------------------------------------------


def test_pending_job_shows_no_progress(alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice, filename="flowers.csv")
    body = alice.client.get(f"/api/jobs/{job.id}").json()
    assert body == {
        "id": job.id,
        "status": "PENDING",
        "filename": "flowers.csv",
        "owner": "alice",
        "kind": "score",
        "model": "iris",
        "model_version": None,
        "output_format": "xlsx",
        "result_sheets": None,
        "metrics": None,
        "summary": None,
        "read_as": {
            "kind": "csv",
            "encoding": "utf-8",
            "delimiter": ",",
            "decimal": ".",
            "text": "CSV, UTF-8, comma-separated, decimal point",
        },
        "rows_total": None,
        "rows_done": 0,
        "rows_failed": 0,
        "progress": 0.0,
        "error": None,
        "attempts": 0,
        "archived": False,
        "created_at": body["created_at"],
        "started_at": None,
        "finished_at": None,
        "duration_seconds": None,
        "url": str(alice.client.base_url.join(f"/api/jobs/{job.id}")),
        "result_url": None,
        "callback_url": None,
        "deliveries_url": str(alice.client.base_url.join(f"/api/jobs/{job.id}/deliveries")),
    }
    assert isinstance(body["created_at"], str) and body["created_at"].endswith("Z")


def test_running_job_shows_its_progress(alice: Caller, jobs: Jobs, ctx: Context) -> None:
    job = jobs.make(alice, "IN_PROGRESS", rows=4)
    assert job.claim_token is not None
    token = job.claim_token
    in_transaction(
        ctx.engine,
        lambda c: renew_lease(
            c, job.id, token, lease_seconds=600, rows_done=1, rows_failed=0, rows_total=4
        ),
    )
    body = alice.client.get(f"/api/jobs/{job.id}").json()
    assert body["status"] == "IN_PROGRESS"
    assert (body["rows_total"], body["rows_done"], body["rows_failed"]) == (4, 1, 0)
    assert body["progress"] == 0.25
    assert (body["attempts"], body["result_url"]) == (1, None)
    assert body["started_at"] is not None and body["finished_at"] is None


def test_processed_job_shows_its_counts_and_result_url(alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice, "PROCESSED", rows=3)
    body = alice.client.get(f"/api/jobs/{job.id}").json()
    assert (body["rows_total"], body["rows_done"], body["rows_failed"]) == (3, 3, 0)
    assert (body["progress"], body["model_version"], body["attempts"]) == (1.0, 1, 1)
    assert body["result_url"] == str(alice.client.base_url.join(f"/api/jobs/{job.id}/result"))
    assert body["started_at"] <= body["finished_at"]
    assert body["duration_seconds"] >= 0


def test_failed_job_shows_its_error(alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice, "FAILED")
    body = alice.client.get(f"/api/jobs/{job.id}").json()
    assert body["status"] == "FAILED"
    assert body["error"].startswith("This file is a PNG image, not CSV text.")
    assert body["result_url"] is None


def test_unknown_job_is_not_found(alice: Caller, jobs: Jobs) -> None:
    job_id = jobs.unknown_id()
    response = alice.client.get(f"/api/jobs/{job_id}")
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": f"Job {job_id} not found."}
    }


@pytest.mark.parametrize(("method", "path"), [r for r in JOB_ROUTES if r[1].startswith("/api/")])
def test_job_id_beyond_any_integer_is_not_found(alice: Caller, method: str, path: str) -> None:
    response = alice.client.request(method, path.format(id=BIGGEST_ID))
    assert response.status_code == 404, response.text
    assert response.json() == {
        "error": {"code": "not_found", "message": f"Job {BIGGEST_ID} not found."}
    }


# --- GET /api/jobs/{id}/result ---------------------------------------------------------------


def _processed_upload(alice: Caller, rows: list[tuple[str, ...]], filename: str) -> int:
    content = csv_text(rows)
    files = {"file": (filename, content, "text/csv")}
    job_id: int = alice.client.post("/api/jobs", files=files).json()["id"]
    done = alice.client.post("/process_file", params={"id": job_id})
    assert done.json()["status"] == "PROCESSED", done.text
    return job_id


def test_result_is_an_xlsx_download_named_after_the_upload(alice: Caller) -> None:
    job_id = _processed_upload(alice, [KNOWN_FLOWERS[0][0]], "My flowers (2024).csv")
    result = alice.client.get(f"/api/jobs/{job_id}/result")
    assert result.status_code == 200
    assert result.headers["content-type"] == XLSX
    assert result.headers["content-disposition"] == (
        'attachment; filename="My_flowers_2024-predictions.xlsx"'
    )


def test_result_holds_input_columns_and_predictions(alice: Caller) -> None:
    job_id = _processed_upload(alice, [row for row, _ in KNOWN_FLOWERS], "flowers.csv")
    result = alice.client.get(f"/api/jobs/{job_id}/result")
    sheet = openpyxl.load_workbook(io.BytesIO(result.content)).active
    assert sheet is not None
    assert [list(row) for row in sheet.iter_rows(values_only=True)] == [
        [*IRIS_HEADER, "prediction", "probability", "warning", "error"],
        *[
            [*map(float, row), species, predicted_probability(alice.client, row), None, None]
            for row, species in KNOWN_FLOWERS
        ],
    ]


def test_result_explains_rows_it_could_not_score(alice: Caller) -> None:
    good = [KNOWN_FLOWERS[0][0]] * 10
    job_id = _processed_upload(alice, [*good, ("5.1", "abc", "1.4", "")], "flowers.csv")
    assert alice.client.get(f"/api/jobs/{job_id}").json()["rows_failed"] == 1
    result = alice.client.get(f"/api/jobs/{job_id}/result")
    sheet = openpyxl.load_workbook(io.BytesIO(result.content)).active
    assert sheet is not None
    last = [cell.value for cell in sheet[12]]
    assert last == [
        5.1,
        "abc",
        1.4,
        None,
        None,
        None,
        None,
        "sepal_width: 'abc' is not a number; petal_width is empty",
    ]


@pytest.mark.parametrize("state", ["PENDING", "IN_PROGRESS", "FAILED"])
def test_result_of_unfinished_job_is_a_conflict(alice: Caller, jobs: Jobs, state: str) -> None:
    job = jobs.make(alice, state)
    response = alice.client.get(f"/api/jobs/{job.id}/result")
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "conflict",
            "message": f"Job {job.id} is {state}; it has no result yet.",
        }
    }


# --- POST /api/jobs/{id}/retry ---------------------------------------------------------------


def test_retry_puts_failed_job_back_in_the_queue(alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice, "FAILED")
    response = alice.client.post(f"/api/jobs/{job.id}/retry")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["attempts"], body["error"]) == ("PENDING", 0, None)
    assert jobs.get(job.id).status == "PENDING"


@pytest.mark.parametrize("state", ["PENDING", "IN_PROGRESS", "PROCESSED"])
def test_retry_of_job_that_did_not_fail_is_a_conflict(
    alice: Caller, jobs: Jobs, state: str
) -> None:
    job = jobs.make(alice, state)
    response = alice.client.post(f"/api/jobs/{job.id}/retry")
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "conflict",
            "message": f"Job {job.id} is {state}; only FAILED or CANCELLED jobs can be retried.",
        }
    }
    assert jobs.get(job.id) == job


# --- POST /api/jobs/{id}/archive, /unarchive -------------------------------------------------


@pytest.mark.parametrize(
    ("state", "action", "archived"),
    [
        ("PENDING", "archive", True),
        ("ARCHIVED", "archive", True),
        ("ARCHIVED", "unarchive", False),
        ("PENDING", "unarchive", False),
    ],
)
def test_archive_sets_the_flag(
    alice: Caller, jobs: Jobs, state: str, action: str, archived: bool
) -> None:
    job = jobs.make(alice, state)
    response = alice.client.post(f"/api/jobs/{job.id}/{action}")
    assert response.status_code == 200, response.text
    assert (response.json()["archived"], response.json()["status"]) == (archived, "PENDING")
    assert jobs.get(job.id).archived is archived


# --- DELETE /api/jobs/{id} -------------------------------------------------------------------


@pytest.mark.parametrize("state", ["PENDING", "PROCESSED", "FAILED", "ARCHIVED"])
def test_delete_removes_job_and_files(alice: Caller, jobs: Jobs, state: str) -> None:
    job = jobs.make(alice, state)
    files = jobs.files(job)
    assert all(file.exists() for file in files)
    response = alice.client.delete(f"/api/jobs/{job.id}")
    assert (response.status_code, response.content) == (204, b"")
    assert alice.client.get(f"/api/jobs/{job.id}").status_code == 404
    assert [file for file in files if file.exists()] == []


def test_a_deleted_jobs_id_and_urls_are_never_handed_out_again(alice: Caller, jobs: Jobs) -> None:
    """SQLite gave max(id) + 1: delete the newest job, upload, and its old result URL served
    the new file. Both databases count on now."""
    first = jobs.make(alice, "PROCESSED", filename="first.csv")
    assert alice.client.delete(f"/api/jobs/{first.id}").status_code == 204
    second = jobs.make(alice, "PROCESSED", filename="second.csv")
    assert second.id > first.id
    assert alice.client.get(f"/api/jobs/{first.id}").status_code == 404
    assert alice.client.get(f"/api/jobs/{first.id}/result").status_code == 404


def test_delete_of_running_job_is_a_conflict(alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice, "IN_PROGRESS")
    response = alice.client.delete(f"/api/jobs/{job.id}")
    assert response.status_code == 409
    assert response.json() == {
        "error": {
            "code": "conflict",
            "message": f"Job {job.id} is being processed; cancel it first (POST "
            f"/api/jobs/{job.id}/cancel), or delete it once it has finished.",
        }
    }
    assert jobs.get(job.id) == job
    assert all(file.exists() for file in jobs.files(job))


def test_the_job_list_says_how_many_processors_will_take_pending_jobs(
    alice: Caller, jobs: Jobs, ctx: Context
) -> None:
    jobs.make(alice)
    assert alice.client.get("/api/jobs").json()["processors"] == 0

    in_transaction(ctx.engine, lambda c: worker_seen(c, "host:1:worker", "worker", 0))
    in_transaction(ctx.engine, lambda c: worker_seen(c, "host:2:cron", "process-all", 0))
    in_transaction(ctx.engine, lambda c: worker_stopped(c, "host:2:cron", 0))  # back next minute
    in_transaction(ctx.engine, lambda c: worker_seen(c, "host:3:gone", "worker", 5))
    in_transaction(ctx.engine, lambda c: worker_stopped(c, "host:3:gone", 5))

    assert alice.client.get("/api/jobs").json()["processors"] == 2  # the worker and cron


def test_a_deleted_jobs_id_is_never_handed_out_again(alice: Caller, jobs: Jobs) -> None:
    """The newest job deleted, the next upload gets a new id: the old URL is a 404, never
    another file's job (SQLite used to hand out max(id) + 1 again)."""
    first = jobs.upload(alice, filename="first.csv").json()
    assert alice.client.delete(first["url"]).status_code == 204
    second = jobs.upload(alice, filename="second.csv").json()
    assert second["id"] > first["id"]
    gone = alice.client.get(first["url"])
    assert gone.status_code == 404, gone.text
    assert alice.client.get(f"{first['url']}/result").status_code == 404

"""/process_file and /process_all: run jobs now, through the processor cron uses."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from batchscore.config import Settings
from batchscore.db.engine import in_transaction
from batchscore.db.jobs import claim_next_job
from batchscore.scheduler.context import Context

pytestmark = pytest.mark.network  # work in the background after the answer has gone

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs

PNG_MESSAGE = (
    "This file is a PNG image, not CSV text. Save it as CSV (in Excel: File → Save As → "
    "'CSV UTF-8') and upload that file."
)


# --- /process_file ---------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_process_file_runs_the_job_to_the_end(alice: Caller, jobs: Jobs, method: str) -> None:
    job = jobs.make(alice, rows=3)
    response = alice.client.request(method, "/process_file", params={"id": job.id})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["id"], body["status"], body["rows_done"], body["error"]) == (
        job.id,
        "PROCESSED",
        3,
        None,
    )
    assert alice.client.get(body["result_url"]).status_code == 200


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_process_file_reports_a_file_it_cannot_score(
    alice: Caller, jobs: Jobs, method: str
) -> None:
    job = jobs.make_unscorable(alice)
    response = alice.client.request(method, "/process_file", params={"id": job.id})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["error"], body["result_url"]) == ("FAILED", PNG_MESSAGE, None)
    assert jobs.get(job.id).status == "FAILED"


@pytest.mark.parametrize("wait", ["true", "false"])
def test_process_file_of_a_processed_job_answers_it_as_it_is(
    alice: Caller, jobs: Jobs, wait: str
) -> None:
    """The processor beside `batchscore serve` often gets there first: that is no error."""
    job = jobs.make(alice, "PROCESSED")
    response = alice.client.post("/process_file", params={"id": job.id, "wait": wait})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["attempts"]) == ("PROCESSED", 1)
    assert body["result_url"] == str(alice.client.base_url.join(f"/api/jobs/{job.id}/result"))
    assert jobs.get(job.id) == job


def test_process_file_waits_for_a_job_another_processor_holds_and_takes_it_over_if_it_dies(
    alice: Caller, jobs: Jobs, ctx: Context
) -> None:
    """The other processor never renews its 1 s lease (it died): the caller still gets the job
    ended, by this request, on the job's second attempt."""
    job = jobs.make(alice)
    held = in_transaction(
        ctx.engine,
        lambda c: claim_next_job(c, worker_id="dies", lease_seconds=1, job_id=job.id),
    )
    assert held is not None
    response = alice.client.post("/process_file", params={"id": job.id})
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["attempts"], body["rows_done"]) == ("PROCESSED", 2, 3)


def test_process_file_waits_one_lease_for_a_busy_processor_then_answers_202(
    alice: Caller, jobs: Jobs, settings: Settings
) -> None:
    """The holder is alive (its lease is long): the request is not held for its whole file."""
    job = jobs.make(alice, "IN_PROGRESS")
    started = time.monotonic()
    response = alice.client.post("/process_file", params={"id": job.id})
    waited = time.monotonic() - started
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "IN_PROGRESS"
    assert settings.lease_seconds <= waited < settings.lease_seconds + 5
    assert jobs.get(job.id) == job


def test_process_file_without_waiting_leaves_a_held_job_to_its_processor(
    alice: Caller, jobs: Jobs
) -> None:
    job = jobs.make(alice, "IN_PROGRESS")
    response = alice.client.post("/process_file", params={"id": job.id, "wait": "false"})
    assert response.status_code == 202, response.text
    assert response.json()["status"] == "IN_PROGRESS"
    assert jobs.get(job.id) == job


def test_process_file_of_a_failed_job_is_a_conflict(alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice, "FAILED")
    response = alice.client.get("/process_file", params={"id": job.id})
    assert response.status_code == 409
    body = response.json()
    assert body["error"] == {
        "code": "conflict",
        "message": f"Job {job.id} is FAILED; retry it first with POST /api/jobs/{job.id}/retry.",
    }
    assert (body["job"]["id"], body["job"]["status"]) == (job.id, "FAILED")
    assert jobs.get(job.id) == job


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "Query parameter 'id' is required."),
        ("?id=", "Query parameter 'id' is required."),
        ("?id=abc", "Query parameter 'id' must be an integer, not 'abc'."),
        ("?id=0", "Query parameter 'id' must be between 1 and 4611686018427387904."),
        ("?id=-3", "Query parameter 'id' must be between 1 and 4611686018427387904."),
        (f"?id={'9' * 20}", "Query parameter 'id' must be between 1 and 4611686018427387904."),
    ],
)
def test_process_file_bad_id_is_refused_with_reason(
    alice: Caller, method: str, query: str, message: str
) -> None:
    response = alice.client.request(method, f"/process_file{query}")
    assert response.status_code == 422, response.text
    assert response.json() == {"error": {"code": "invalid_input", "message": message}}


def test_process_file_bad_wait_is_refused_with_reason(alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice)
    response = alice.client.get("/process_file", params={"id": job.id, "wait": "later"})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == (
        "Query parameter 'wait' must be true or false, not 'later'."
    )
    assert jobs.get(job.id) == job


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_process_file_of_unknown_job_is_not_found(alice: Caller, jobs: Jobs, method: str) -> None:
    job_id = jobs.unknown_id()
    response = alice.client.request(method, "/process_file", params={"id": job_id})
    assert response.status_code == 404
    assert response.json() == {
        "error": {"code": "not_found", "message": f"Job {job_id} not found."}
    }


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_process_file_without_wait_answers_at_once(alice: Caller, jobs: Jobs, method: str) -> None:
    job = jobs.make(alice)
    response = alice.client.request(method, "/process_file", params={"id": job.id, "wait": "false"})
    assert response.status_code == 202, response.text
    assert (response.json()["id"], response.json()["status"]) == (job.id, "PENDING")


def test_process_file_without_wait_processes_in_the_background(alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice, rows=3)
    alice.client.post("/process_file", params={"id": job.id, "wait": "false"})
    body = jobs.wait_for(alice, job.id, "PROCESSED")
    assert (body["rows_done"], body["attempts"]) == (3, 1)


# --- /process_all ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_process_all_lists_the_callers_pending_jobs(alice: Caller, jobs: Jobs, method: str) -> None:
    pending = [jobs.make(alice).id for _ in range(3)]
    jobs.make(alice, "PROCESSED")
    jobs.make(alice, "FAILED")
    response = alice.client.request(method, "/process_all")
    assert response.status_code == 202, response.text
    assert response.json() == {"job_ids": sorted(pending), "count": 3}


def test_process_all_processes_every_pending_job(alice: Caller, jobs: Jobs) -> None:
    pending = [jobs.make(alice).id for _ in range(3)]
    alice.client.post("/process_all")
    for job_id in pending:
        jobs.wait_for(alice, job_id, "PROCESSED")


def test_process_all_leaves_failed_jobs_alone(alice: Caller, jobs: Jobs) -> None:
    failed = jobs.make(alice, "FAILED")
    last = jobs.make(alice)
    alice.client.post("/process_all")
    jobs.wait_for(alice, last.id, "PROCESSED")
    assert jobs.get(failed.id) == failed


def test_process_all_with_nothing_pending_is_empty(alice: Caller, jobs: Jobs) -> None:
    jobs.make(alice, "PROCESSED")
    response = alice.client.post("/process_all")
    assert response.status_code == 202
    assert response.json() == {"job_ids": [], "count": 0}

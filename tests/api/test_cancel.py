"""Cancel a job (PENDING or running), retry it, and retry or archive every failed job at once."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from factories import iris_csv, submit

from batchscore.db.engine import in_transaction
from batchscore.db.jobs import JobRecord, JobStatus, list_attempts, renew_lease
from batchscore.errors import LeaseLost
from batchscore.scheduler.context import Context
from batchscore.scheduler.processor import process_one

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs

ROWS_WHILE_RUNNING = 400_000  # long enough (seconds) to be cancelled mid-run
PATIENCE_SECONDS = 60.0  # longest a test waits for the processor to stop


def outcomes(ctx: Context, job_id: int) -> list[str | None]:
    return [a.outcome for a in in_transaction(ctx.engine, lambda c: list_attempts(c, job_id))]


def files_of(ctx: Context, job: JobRecord) -> dict[str, list[str]]:
    """The job's files in the input and output folders (temp results included)."""
    inputs = Path(ctx.settings.input_dir)
    outputs = Path(ctx.settings.output_dir)
    return {
        "input": sorted(p.name for p in inputs.glob(job.input_name)),
        "output": sorted(p.name for p in outputs.glob(f"*job-{job.id}-*")),
    }


def test_a_pending_job_is_cancelled_and_never_processed(
    alice: Caller, jobs: Jobs, ctx: Context
) -> None:
    job = jobs.make(alice, "PENDING")
    response = alice.client.post(f"/api/jobs/{job.id}/cancel")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["result_url"]) == ("CANCELLED", None)
    assert body["finished_at"] is not None
    assert process_one(ctx) is None  # nothing pending: the cancelled job is not taken
    assert files_of(ctx, job) == {"input": [job.input_name], "output": []}  # kept to retry


def test_a_claimed_job_is_cancelled_its_claim_voided_and_its_temp_file_removed(
    alice: Caller, jobs: Jobs, ctx: Context
) -> None:
    job = jobs.start(jobs.make(alice, "PENDING"))
    assert job.claim_token is not None
    temp = ctx.storage.temp_output(job.id, job.claim_token, job.output_format)
    temp.write_bytes(b"half a result")
    response = alice.client.post(f"/api/jobs/{job.id}/cancel")
    assert response.status_code == 200, response.text
    cancelled = jobs.get(job.id)
    assert (cancelled.status, cancelled.claim_token, cancelled.worker_id) == (
        JobStatus.CANCELLED,
        None,
        None,
    )
    assert not temp.exists()
    assert outcomes(ctx, job.id) == ["CANCELLED"]
    token = job.claim_token
    with pytest.raises(LeaseLost):  # what the processor's next renewal meets
        in_transaction(
            ctx.engine,
            lambda c: renew_lease(c, job.id, token, lease_seconds=5, rows_done=1, rows_failed=0),
        )


def test_a_running_job_stops_leaving_no_file(alice: Caller, jobs: Jobs, ctx: Context) -> None:
    """A real processor in a thread, cancelled once it has reported progress."""
    job = submit(ctx, iris_csv(ROWS_WHILE_RUNNING), "big.csv", owner_id=alice.user.id)
    ended: list[JobRecord | None] = []
    worker = threading.Thread(target=lambda: ended.append(process_one(ctx, job_id=job.id)))
    worker.start()
    deadline = time.monotonic() + PATIENCE_SECONDS
    while jobs.get(job.id).rows_done == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert jobs.get(job.id).status is JobStatus.IN_PROGRESS, "it ended before it was cancelled"
    response = alice.client.post(f"/api/jobs/{job.id}/cancel")
    assert response.status_code == 200, response.text
    worker.join(PATIENCE_SECONDS)
    assert not worker.is_alive()
    (last,) = ended
    assert last is not None and last.status is JobStatus.CANCELLED
    assert last.rows_done < ROWS_WHILE_RUNNING
    assert files_of(ctx, job) == {"input": [job.input_name], "output": []}
    assert list(ctx.storage.scratch.glob(f".job-{job.id}-*")) == []
    assert outcomes(ctx, job.id) == ["CANCELLED"]


@pytest.mark.parametrize("state", ["PROCESSED", "FAILED", "CANCELLED"])
def test_an_ended_job_cannot_be_cancelled(alice: Caller, jobs: Jobs, state: str) -> None:
    job = jobs.make(alice, state)
    response = alice.client.post(f"/api/jobs/{job.id}/cancel")
    assert response.status_code == 409
    assert response.json()["error"]["message"] == (
        f"Job {job.id} is {state}; only PENDING or IN_PROGRESS jobs can be cancelled."
    )
    assert jobs.get(job.id) == job


def test_only_the_owner_or_an_admin_cancels(
    alice: Caller, bob: Caller, admin: Caller, jobs: Jobs
) -> None:
    job = jobs.make(alice, "PENDING")
    assert bob.client.post(f"/api/jobs/{job.id}/cancel").status_code == 404
    assert jobs.get(job.id).status is JobStatus.PENDING
    assert admin.client.post(f"/api/jobs/{job.id}/cancel").status_code == 200


def test_a_cancelled_job_retried_is_processed(alice: Caller, jobs: Jobs, ctx: Context) -> None:
    job = jobs.make(alice, "CANCELLED")
    refused = alice.client.post(f"/process_file?id={job.id}")
    assert refused.status_code == 409
    assert refused.json()["error"]["message"].startswith(f"Job {job.id} is CANCELLED; retry it")
    assert alice.client.post(f"/api/jobs/{job.id}/retry").json()["status"] == "PENDING"
    processed = alice.client.post(f"/process_file?id={job.id}")
    assert processed.json()["status"] == "PROCESSED"


def test_a_running_job_cannot_be_deleted_but_says_how_to_cancel(alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice, "IN_PROGRESS")
    response = alice.client.delete(f"/api/jobs/{job.id}")
    assert response.status_code == 409
    assert (
        f"cancel it first (POST /api/jobs/{job.id}/cancel)" in response.json()["error"]["message"]
    )


# --- every failed job at once -------------------------------------------------------------


@pytest.mark.parametrize("action", ["retry", "archive"])
def test_bulk_actions_take_the_callers_failed_jobs_or_everyones_for_an_admin(
    alice: Caller, bob: Caller, admin: Caller, jobs: Jobs, action: str
) -> None:
    mine = [jobs.make(alice, "FAILED").id for _ in range(2)]
    others = jobs.make(bob, "FAILED").id
    untouched = [jobs.make(alice, state) for state in ("PENDING", "PROCESSED", "CANCELLED")]
    response = alice.client.post(f"/api/jobs/failed/{action}")
    assert response.status_code == 200, response.text
    assert response.json() == {"job_ids": mine}
    for job_id in mine:
        changed = jobs.get(job_id)
        assert changed.archived if action == "archive" else changed.status is JobStatus.PENDING
    assert jobs.get(others).status is JobStatus.FAILED and not jobs.get(others).archived
    assert [jobs.get(job.id) for job in untouched] == untouched
    assert admin.client.post(f"/api/jobs/failed/{action}").json() == {"job_ids": [others]}
    assert alice.client.post(f"/api/jobs/failed/{action}").json() == {"job_ids": []}

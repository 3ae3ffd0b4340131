"""The job repository against a real database: claims, leases, transitions, ownership."""

from __future__ import annotations

import pytest
from factories import add_job

from batchscore.db.engine import Connection, Engine, in_transaction
from batchscore.db.jobs import (
    DeadClaim,
    JobFilter,
    JobRecord,
    JobStatus,
    cancel_job,
    claim_next_job,
    count_jobs_by_status,
    delete_job,
    get_job,
    list_attempts,
    list_jobs,
    mark_failed,
    mark_processed,
    release_job,
    renew_lease,
    requeue_expired,
    retry_job,
    set_archived,
    work_waiting,
)
from batchscore.errors import InvalidTransition, LeaseLost, NotFound
from batchscore.scheduler.context import Context


def claim(engine: Engine, lease_seconds: float = 30, job_id: int | None = None) -> JobRecord | None:
    return in_transaction(
        engine,
        lambda c: claim_next_job(c, worker_id="w1", lease_seconds=lease_seconds, job_id=job_id),
    )


def test_new_job_is_pending_with_no_attempts(ctx: Context) -> None:
    job = add_job(ctx)
    assert job.status is JobStatus.PENDING
    assert job.attempts == 0
    assert job.claim_token is None


def test_claim_takes_the_oldest_pending_job(ctx: Context) -> None:
    first, _second = add_job(ctx), add_job(ctx)
    job = claim(ctx.engine)
    assert job is not None
    assert job.id == first.id
    assert job.status is JobStatus.IN_PROGRESS
    assert job.attempts == 1
    assert job.worker_id == "w1"
    assert job.claim_token and job.lease_expires_at and job.started_at


def test_claim_returns_none_when_queue_is_empty(ctx: Context) -> None:
    assert claim(ctx.engine) is None


def test_claim_skips_job_with_live_lease(ctx: Context) -> None:
    add_job(ctx)
    assert claim(ctx.engine) is not None
    assert claim(ctx.engine) is None


def test_claim_of_a_named_job_only_takes_that_job(ctx: Context) -> None:
    add_job(ctx)
    second = add_job(ctx)
    job = claim(ctx.engine, job_id=second.id)
    assert job is not None and job.id == second.id
    assert claim(ctx.engine, job_id=second.id) is None


def test_claim_records_an_attempt(ctx: Context) -> None:
    add_job(ctx)
    job = claim(ctx.engine)
    assert job is not None
    attempts = in_transaction(ctx.engine, lambda c: list_attempts(c, job.id))
    assert [(a.claim_token, a.worker_id, a.outcome) for a in attempts] == [
        (job.claim_token, "w1", None)
    ]


def test_expired_lease_returns_job_to_pending(ctx: Context) -> None:
    add_job(ctx)
    job = claim(ctx.engine, lease_seconds=-1)  # already expired: no sleeping in tests
    assert job is not None and job.claim_token
    assert in_transaction(ctx.engine, lambda c: requeue_expired(c, max_attempts=3)) == [
        DeadClaim(job.id, job.claim_token)
    ]
    again = in_transaction(ctx.engine, lambda c: get_job(c, job.id))
    assert again.status is JobStatus.PENDING
    assert again.claim_token is None
    outcomes = [a.outcome for a in in_transaction(ctx.engine, lambda c: list_attempts(c, job.id))]
    assert outcomes == ["LEASE_EXPIRED"]


def test_live_lease_is_not_requeued(ctx: Context) -> None:
    add_job(ctx)
    claim(ctx.engine, lease_seconds=30)
    assert in_transaction(ctx.engine, lambda c: requeue_expired(c, max_attempts=3)) == []


@pytest.mark.parametrize(("lease_seconds", "waiting"), [(None, True), (30, False), (-1, True)])
def test_work_waits_while_a_job_is_pending_or_its_claim_has_died(
    ctx: Context, lease_seconds: float | None, waiting: bool
) -> None:
    """Pending; claimed and renewed; claimed by a processor whose lease ran out."""
    assert in_transaction(ctx.engine, work_waiting) is False  # an empty queue
    add_job(ctx)
    if lease_seconds is not None:
        claim(ctx.engine, lease_seconds=lease_seconds)
    assert in_transaction(ctx.engine, work_waiting) is waiting


def test_expired_lease_fails_job_after_max_attempts(ctx: Context) -> None:
    job = add_job(ctx)
    for _ in range(2):
        assert claim(ctx.engine, lease_seconds=-1) is not None
        in_transaction(ctx.engine, lambda c: requeue_expired(c, max_attempts=2))
    final = in_transaction(ctx.engine, lambda c: get_job(c, job.id))
    assert final.status is JobStatus.FAILED
    assert final.attempts == 2
    assert final.error_message and "stopped 2 times without finishing" in final.error_message
    assert claim(ctx.engine) is None


def test_stale_claim_cannot_renew_or_finish(ctx: Context) -> None:
    add_job(ctx)
    stale = claim(ctx.engine, lease_seconds=-1)
    assert stale is not None and stale.claim_token
    in_transaction(ctx.engine, lambda c: requeue_expired(c, max_attempts=3))
    fresh = claim(ctx.engine)
    assert fresh is not None and fresh.id == stale.id and fresh.claim_token != stale.claim_token
    token = stale.claim_token

    def renew(c: Connection) -> None:
        renew_lease(c, stale.id, token, lease_seconds=30, rows_done=1, rows_failed=0)

    def finish(c: Connection) -> None:
        mark_processed(
            c, stale.id, token, output_name="x", model_version=1, rows_total=1, rows_failed=0
        )

    for work in (renew, finish, lambda c: mark_failed(c, stale.id, token, "boom")):
        with pytest.raises(LeaseLost):
            in_transaction(ctx.engine, work)
    current = in_transaction(ctx.engine, lambda c: get_job(c, stale.id))
    assert current.status is JobStatus.IN_PROGRESS
    assert current.claim_token == fresh.claim_token


def test_renew_lease_records_progress(ctx: Context) -> None:
    add_job(ctx)
    job = claim(ctx.engine)
    assert job is not None and job.claim_token
    token = job.claim_token
    in_transaction(
        ctx.engine,
        lambda c: renew_lease(
            c, job.id, token, lease_seconds=60, rows_done=40, rows_failed=2, rows_total=100
        ),
    )
    after = in_transaction(ctx.engine, lambda c: get_job(c, job.id))
    assert (after.rows_done, after.rows_failed, after.rows_total) == (40, 2, 100)
    assert after.lease_expires_at and job.lease_expires_at
    assert after.lease_expires_at > job.lease_expires_at


def test_mark_processed_finishes_job_and_attempt(ctx: Context) -> None:
    add_job(ctx)
    job = claim(ctx.engine)
    assert job is not None and job.claim_token
    token = job.claim_token
    in_transaction(
        ctx.engine,
        lambda c: mark_processed(
            c, job.id, token, output_name="r.xlsx", model_version=3, rows_total=10, rows_failed=1
        ),
    )
    done = in_transaction(ctx.engine, lambda c: get_job(c, job.id))
    assert done.status is JobStatus.PROCESSED
    assert (
        done.output_name,
        done.model_version,
        done.rows_total,
        done.rows_done,
        done.rows_failed,
    ) == (
        "r.xlsx",
        3,
        10,
        10,
        1,
    )
    assert done.finished_at is not None and done.lease_expires_at is None
    assert [a.outcome for a in in_transaction(ctx.engine, lambda c: list_attempts(c, job.id))] == [
        "PROCESSED"
    ]


def test_release_gives_job_back_without_counting_the_attempt(ctx: Context) -> None:
    add_job(ctx)
    job = claim(ctx.engine)
    assert job is not None and job.claim_token
    token = job.claim_token
    in_transaction(ctx.engine, lambda c: release_job(c, job.id, token))
    back = in_transaction(ctx.engine, lambda c: get_job(c, job.id))
    assert (back.status, back.attempts) == (JobStatus.PENDING, 0)


def test_retry_moves_failed_job_back_to_pending(ctx: Context) -> None:
    add_job(ctx)
    job = claim(ctx.engine)
    assert job is not None and job.claim_token
    token = job.claim_token
    in_transaction(ctx.engine, lambda c: mark_failed(c, job.id, token, "bad file"))
    retried = in_transaction(ctx.engine, lambda c: retry_job(c, job.id))
    assert retried.status is JobStatus.PENDING
    assert (retried.attempts, retried.error_message) == (0, None)


@pytest.mark.parametrize("status", ["PENDING", "IN_PROGRESS"])
def test_retry_of_unfailed_job_is_invalid(ctx: Context, status: str) -> None:
    job = add_job(ctx)
    if status == "IN_PROGRESS":
        claim(ctx.engine)
    with pytest.raises(InvalidTransition, match=f"Job {job.id} is {status}; only FAILED"):
        in_transaction(ctx.engine, lambda c: retry_job(c, job.id))


def test_delete_refuses_job_in_progress(ctx: Context) -> None:
    job = add_job(ctx)
    claim(ctx.engine)
    with pytest.raises(InvalidTransition, match="being processed"):
        in_transaction(ctx.engine, lambda c: delete_job(c, job.id))
    assert in_transaction(ctx.engine, lambda c: get_job(c, job.id)).status is JobStatus.IN_PROGRESS


def test_delete_removes_row_and_attempts(ctx: Context) -> None:
    job = add_job(ctx)
    claimed = claim(ctx.engine)
    assert claimed is not None and claimed.claim_token
    token = claimed.claim_token
    in_transaction(ctx.engine, lambda c: mark_failed(c, job.id, token, "x"))
    in_transaction(ctx.engine, lambda c: delete_job(c, job.id))
    with pytest.raises(NotFound):
        in_transaction(ctx.engine, lambda c: get_job(c, job.id))
    assert in_transaction(ctx.engine, lambda c: list_attempts(c, job.id)) == []


def test_archived_jobs_are_hidden_from_default_listing(ctx: Context) -> None:
    kept, archived = add_job(ctx), add_job(ctx)
    in_transaction(ctx.engine, lambda c: set_archived(c, archived.id, True))
    assert [j.id for j in in_transaction(ctx.engine, lambda c: list_jobs(c))] == [kept.id]
    listed = in_transaction(ctx.engine, lambda c: list_jobs(c, JobFilter(include_archived=True)))
    assert [j.id for j in listed] == [archived.id, kept.id]


def test_other_owners_job_is_not_found(ctx: Context) -> None:
    job = add_job(ctx, owner_id=None)
    with pytest.raises(NotFound, match=f"Job {job.id} not found"):
        in_transaction(ctx.engine, lambda c: get_job(c, job.id, owner_id=999))


def test_count_by_status_counts_every_status(ctx: Context) -> None:
    add_job(ctx), add_job(ctx)
    cancelled = add_job(ctx)
    in_transaction(ctx.engine, lambda c: cancel_job(c, cancelled.id))
    claim(ctx.engine)
    counts = in_transaction(ctx.engine, count_jobs_by_status)
    assert counts == {
        JobStatus.PENDING: 1,
        JobStatus.IN_PROGRESS: 1,
        JobStatus.PROCESSED: 0,
        JobStatus.FAILED: 0,
        JobStatus.CANCELLED: 1,
    }

"""The lease keeper renews on time while the work is slow, and notices when the claim is gone."""

from __future__ import annotations

import time

import pytest
from factories import add_job

from batchscore.db.engine import in_transaction
from batchscore.db.jobs import JobRecord, JobStatus, claim_next_job, get_job, requeue_expired
from batchscore.errors import LeaseLost
from batchscore.scheduler.context import Context
from batchscore.scheduler.lease import LeaseKeeper


def claimed(ctx: Context, lease_seconds: float) -> JobRecord:
    add_job(ctx)
    job = in_transaction(
        ctx.engine, lambda c: claim_next_job(c, worker_id="w", lease_seconds=lease_seconds)
    )
    assert job is not None and job.claim_token
    return job


def test_job_longer_than_its_lease_is_never_requeued_while_renewed(ctx: Context) -> None:
    job = claimed(ctx, lease_seconds=0.6)
    assert job.claim_token
    with LeaseKeeper(
        ctx.engine, job.id, job.claim_token, lease_seconds=0.6, interval_seconds=0.1
    ) as lease:
        for rows in range(1, 11):  # 2 s of "work", more than three leases long
            time.sleep(0.2)
            assert in_transaction(ctx.engine, lambda c: requeue_expired(c, max_attempts=3)) == []
            lease.progress(rows, 0)
    current = in_transaction(ctx.engine, lambda c: get_job(c, job.id))
    assert current.status is JobStatus.IN_PROGRESS
    assert 1 <= current.rows_done <= 10  # progress travels with the renewals


def test_lost_claim_is_reported_at_the_next_progress(ctx: Context) -> None:
    job = claimed(ctx, lease_seconds=-1)
    assert job.claim_token
    in_transaction(ctx.engine, lambda c: requeue_expired(c, max_attempts=3))
    with LeaseKeeper(
        ctx.engine, job.id, job.claim_token, lease_seconds=5, interval_seconds=0.05
    ) as lease:
        deadline = time.monotonic() + 10
        with pytest.raises(LeaseLost):
            while time.monotonic() < deadline:
                lease.progress(1, 0)
                time.sleep(0.05)

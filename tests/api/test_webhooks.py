"""Webhooks: a job's end is POSTed, signed, to its callback URL; failures are retried with
backoff and recorded; private addresses are refused unless the operator allows them."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import TYPE_CHECKING

import jsonschema
import pytest
from factories import iris_csv
from webhook_receiver import receiving

from batchscore.config import Settings
from batchscore.db.engine import in_transaction
from batchscore.db.webhooks import claim_delivery
from batchscore.scheduler.context import Context
from batchscore.scheduler.processor import process_one
from batchscore.scheduler.webhooks import deliver_due, delivering
from batchscore.service import accounts
from batchscore.webhook_signing import BadSignature, verify

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs

RETRY_SECONDS = 0.05  # the first retry's wait; it doubles


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Webhooks to the loopback receiver, retried fast, three tries in all."""
    return dataclasses.replace(
        settings,
        webhook_allow_private=True,
        webhook_retry_seconds=RETRY_SECONDS,
        webhook_attempts=3,
        webhook_timeout_seconds=2.0,
    )


def upload(caller: Caller, callback_url: str | None, content: str = iris_csv(3)) -> int:
    fields = {} if callback_url is None else {"callback_url": callback_url}
    files = {"file": ("flowers.csv", content, "text/csv")}
    response = caller.client.post("/api/jobs", files=files, data=fields)
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def deliveries(caller: Caller, job_id: int) -> list[dict[str, object]]:
    response = caller.client.get(f"/api/jobs/{job_id}/deliveries")
    assert response.status_code == 200, response.text
    found: list[dict[str, object]] = response.json()["deliveries"]
    return found


def secret_of(caller: Caller) -> str:
    return str(caller.client.get("/api/webhook").json()["secret"])


def deliver_until_settled(ctx: Context, caller: Caller, job_id: int) -> dict[str, object]:
    """Send what is due until the job's one delivery is DELIVERED or FAILED (bounded)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        deliver_due(ctx)
        [delivery] = deliveries(caller, job_id)
        if delivery["status"] != "PENDING":
            return delivery
        time.sleep(RETRY_SECONDS)
    raise AssertionError("the delivery did not settle")


def test_a_processed_job_posts_its_json_signed_with_the_users_secret(
    alice: Caller, ctx: Context
) -> None:
    with receiving(200) as receiver:
        job_id = upload(alice, receiver.url)
        assert alice.client.get(f"/api/jobs/{job_id}").json()["callback_url"] == receiver.url
        assert deliver_due(ctx) == 0  # nothing before the job ends
        process_one(ctx, job_id=job_id)
        assert deliver_due(ctx) == 1
        [hook] = receiver.received
    verify(secret_of(alice), hook.body, hook.headers["Batchscore-Signature"])
    event = json.loads(hook.body)
    assert (event["event"], event["job"]["id"], event["job"]["status"]) == (
        "job.processed",
        job_id,
        "PROCESSED",
    )
    assert event["job"]["rows_done"] == 3
    document = alice.client.get("/openapi.json").json()  # the body is as documented
    assert document["webhooks"]["jobEnded"]["post"]["requestBody"]
    jsonschema.validate(event, {"$ref": "#/components/schemas/JobEvent", **document})
    assert event["job"]["result_url"] == f"{ctx.settings.base_url}api/jobs/{job_id}/result"
    assert hook.headers["Batchscore-Event"] == "job.processed"
    assert hook.headers["Batchscore-Delivery"] == str(event["id"])
    assert hook.headers["Content-Type"] == "application/json"
    [delivery] = deliveries(alice, job_id)
    assert (delivery["status"], delivery["attempts"], delivery["last_status_code"]) == (
        "DELIVERED",
        1,
        200,
    )
    assert delivery["last_error"] is None and delivery["delivered_at"] is not None
    assert deliver_due(ctx) == 0  # delivered once, not again


def test_a_failing_receiver_is_tried_again_with_the_same_body_until_it_answers(
    alice: Caller, ctx: Context
) -> None:
    with receiving(500, 503, 200) as receiver:
        job_id = upload(alice, receiver.url)
        process_one(ctx, job_id=job_id)
        delivery = deliver_until_settled(ctx, alice, job_id)
        bodies = [hook.body for hook in receiver.received]
    assert (delivery["status"], delivery["attempts"]) == ("DELIVERED", 3)
    assert (delivery["last_status_code"], delivery["last_error"]) == (200, None)
    assert len(set(bodies)) == 1 and len(bodies) == 3  # a retry is the same delivery


def test_after_its_last_attempt_a_delivery_is_failed_and_the_job_is_untouched(
    alice: Caller, ctx: Context
) -> None:
    with receiving(500) as receiver:
        job_id = upload(alice, receiver.url)
        process_one(ctx, job_id=job_id)
        delivery = deliver_until_settled(ctx, alice, job_id)
        assert len(receiver.received) == 3
    assert (delivery["status"], delivery["attempts"]) == ("FAILED", 3)
    assert delivery["last_error"] == "The receiver answered 500 Internal Server Error."
    assert delivery["next_attempt_at"] is None
    assert alice.client.get(f"/api/jobs/{job_id}").json()["status"] == "PROCESSED"
    metrics = alice.client.get("/metrics").text
    for outcome, count in (("retried", 2), ("failed", 1), ("delivered", 0)):
        assert f'batchscore_webhook_deliveries_total{{outcome="{outcome}"}} {count}.0' in metrics


def test_an_unreachable_receiver_is_recorded_and_retried(alice: Caller, ctx: Context) -> None:
    with receiving() as receiver:
        gone = receiver.url  # nothing listens there once the block ends
    job_id = upload(alice, gone)
    process_one(ctx, job_id=job_id)
    deliver_due(ctx)
    [delivery] = deliveries(alice, job_id)
    assert (delivery["status"], delivery["attempts"]) == ("PENDING", 1)
    assert str(delivery["last_error"]).startswith("Could not reach the receiver:")
    assert delivery["next_attempt_at"] is not None


def test_a_redirect_is_not_followed(alice: Caller, ctx: Context) -> None:
    with receiving(302) as receiver:
        job_id = upload(alice, receiver.url)
        process_one(ctx, job_id=job_id)
        deliver_due(ctx)
        assert [hook.path for hook in receiver.received] == ["/hook"]  # not /hook-moved
    [delivery] = deliveries(alice, job_id)
    assert delivery["last_error"] == "The receiver answered 302 Found (redirects are not followed)."


def test_a_slow_receiver_times_out_without_holding_up_the_job(alice: Caller, ctx: Context) -> None:
    impatient = dataclasses.replace(ctx.settings, webhook_timeout_seconds=0.3)
    with receiving(200, delay_seconds=2.0) as receiver:
        job_id = upload(alice, receiver.url)
        process_one(ctx, job_id=job_id)
        deliver_due(dataclasses.replace(ctx, settings=impatient))
    [delivery] = deliveries(alice, job_id)
    assert "timed out" in str(delivery["last_error"]).lower(), delivery["last_error"]
    assert alice.client.get(f"/api/jobs/{job_id}").json()["status"] == "PROCESSED"


def test_failed_and_cancelled_jobs_post_their_end_too(
    alice: Caller, jobs: Jobs, ctx: Context
) -> None:
    with receiving(200) as receiver:
        cancelled = upload(alice, receiver.url)
        assert alice.client.post(f"/api/jobs/{cancelled}/cancel").status_code == 200
        unscorable = upload(alice, receiver.url, iris_csv(3).replace("5.1", "five", 1))
        process_one(ctx, job_id=unscorable)  # a third of its rows unscorable: it FAILS
        deliver_due(ctx)
        events = {json.loads(h.body)["job"]["id"]: json.loads(h.body) for h in receiver.received}
    assert events[cancelled]["event"] == "job.cancelled"
    assert events[cancelled]["job"]["status"] == "CANCELLED"
    assert events[unscorable]["event"] == "job.failed"
    assert events[unscorable]["job"]["error"]


def test_a_job_ended_twice_posts_each_end(alice: Caller, ctx: Context) -> None:
    with receiving(200) as receiver:
        job_id = upload(alice, receiver.url)
        alice.client.post(f"/api/jobs/{job_id}/cancel")
        alice.client.post(f"/api/jobs/{job_id}/retry")
        process_one(ctx, job_id=job_id)
        deliver_due(ctx)
        kinds = [json.loads(hook.body)["event"] for hook in receiver.received]
    assert kinds == ["job.cancelled", "job.processed"]
    assert [d["event"] for d in deliveries(alice, job_id)] == kinds


def test_the_users_default_callback_url_serves_jobs_that_name_none(
    alice: Caller, ctx: Context
) -> None:
    with receiving(200) as receiver:
        set_it = alice.client.put("/api/webhook", json={"callback_url": receiver.url})
        assert set_it.status_code == 200, set_it.text
        assert set_it.json()["callback_url"] == receiver.url
        job_id = upload(alice, None)
        process_one(ctx, job_id=job_id)
        deliver_due(ctx)
        assert len(receiver.received) == 1
    cleared = alice.client.put("/api/webhook", json={"callback_url": None})
    assert cleared.json()["callback_url"] is None
    later = upload(alice, None)
    assert alice.client.get(f"/api/jobs/{later}").json()["callback_url"] is None


def test_a_new_secret_signs_from_then_on_and_the_old_one_no_longer_verifies(
    alice: Caller, ctx: Context
) -> None:
    old = secret_of(alice)
    renewed = alice.client.post("/api/webhook/secret").json()["secret"]
    assert renewed != old and renewed.startswith("whsec_")
    assert secret_of(alice) == renewed
    with receiving(200) as receiver:
        process_one(ctx, job_id=upload(alice, receiver.url))
        deliver_due(ctx)
        [hook] = receiver.received
    verify(renewed, hook.body, hook.headers["Batchscore-Signature"])
    with pytest.raises(BadSignature):
        verify(old, hook.body, hook.headers["Batchscore-Signature"])


def test_a_delivery_held_by_a_sender_that_died_is_sent_by_the_next(
    alice: Caller, ctx: Context
) -> None:
    with receiving(200) as receiver:
        job_id = upload(alice, receiver.url)
        process_one(ctx, job_id=job_id)
        held = in_transaction(ctx.engine, lambda c: claim_delivery(c, hold_seconds=0.3))
        assert held is not None  # and its sender dies before sending
        assert deliver_due(ctx) == 0  # still held
        time.sleep(0.4)
        assert deliver_due(ctx) == 1
        assert len(receiver.received) == 1
    [delivery] = deliveries(alice, job_id)
    assert (delivery["status"], delivery["attempts"]) == ("DELIVERED", 2)


def test_a_worker_sends_webhooks_from_its_own_thread(alice: Caller, ctx: Context) -> None:
    with receiving(200) as receiver, delivering(ctx, poll_seconds=0.05):
        process_one(ctx, job_id=upload(alice, receiver.url))
        [hook] = receiver.wait_for(1)
    assert json.loads(hook.body)["event"] == "job.processed"


def test_deliveries_of_someone_elses_job_are_not_found(
    alice: Caller, bob: Caller, jobs: Jobs
) -> None:
    job_id = upload(alice, None)
    assert bob.client.get(f"/api/jobs/{job_id}/deliveries").status_code == 404
    assert deliveries(alice, job_id) == []


def test_a_bad_webhook_body_is_refused(alice: Caller) -> None:
    for body in (b"{", b'{"callback_url": 3}', b'{"url": "https://example.com"}', b"[]"):
        refused = alice.client.put("/api/webhook", content=body)
        assert refused.status_code == 422, body
    too_large = alice.client.put("/api/webhook", content=b" " * 10_000)
    assert too_large.status_code == 413
    assert alice.client.get("/api/webhook").json()["callback_url"] is None


def test_a_removed_users_webhook_is_not_sent_unsigned(
    alice: Caller, admin: Caller, ctx: Context
) -> None:
    with receiving(200) as receiver:
        job_id = upload(alice, receiver.url)
        process_one(ctx, job_id=job_id)
        accounts.remove_user(ctx, "alice")  # their jobs stay, with no owner
        deliver_due(ctx)
        assert receiver.received == []
    [delivery] = deliveries(admin, job_id)
    assert (delivery["status"], delivery["attempts"]) == ("FAILED", 1)
    assert delivery["last_error"] == (
        "The job's user has been removed, so there is no secret to sign it with."
    )

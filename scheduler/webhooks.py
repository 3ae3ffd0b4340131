"""Sending webhooks: POST a job's end, signed, to its callback URL, retrying with backoff.

Deliveries are rows (db/webhooks.py), made when the job ends, so they survive any restart; a
sender claims one due row at a time, holding it while it sends, and records what it got. A
worker sends them from a thread of its own, so a slow receiver never holds up a job; a cron run
sends what is due after its jobs. Nothing a receiver answers can fail or change a job.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.metadata import version

import httpx2

from batchscore.callback_urls import address_refusal
from batchscore.config import Settings
from batchscore.db.engine import Connection, in_transaction
from batchscore.db.jobs import get_job
from batchscore.db.webhooks import (
    DeliveryRecord,
    claim_delivery,
    delivery_due,
    record_attempt,
    webhook_secret,
)
from batchscore.errors import DatabaseUnavailable, NotFound
from batchscore.scheduler.context import Context
from batchscore.scheduler.job_json import job_event, job_json
from batchscore.webhook_signing import HEADER, sign

logger = logging.getLogger(__name__)
MAX_RETRY_SECONDS = 3600.0
USER_AGENT = f"batchscore/{version('batchscore')} (webhook)"


def deliver_due(ctx: Context, *, limit: int = 100, stop: threading.Event | None = None) -> int:
    """Send up to `limit` due webhooks, one attempt each; how many were attempted."""
    if not in_transaction(ctx.engine, delivery_due, read_only=True):
        return 0  # the usual case, found without a write lock or an HTTP client
    hold = ctx.settings.webhook_timeout_seconds + 30  # then another sender may try it
    attempted = 0
    with httpx2.Client(timeout=ctx.settings.webhook_timeout_seconds) as client:
        while attempted < limit and not (stop is not None and stop.is_set()):
            delivery = in_transaction(ctx.engine, lambda c: claim_delivery(c, hold_seconds=hold))
            if delivery is None:
                break
            _attempt(ctx, client, delivery)
            attempted += 1
    return attempted


@contextmanager
def delivering(ctx: Context, *, poll_seconds: float) -> Iterator[None]:
    """Send due webhooks from a background thread while the block runs (a worker's life)."""
    done = threading.Event()

    def run() -> None:
        while not done.is_set():
            try:
                if not deliver_due(ctx, stop=done):
                    done.wait(poll_seconds)
            except DatabaseUnavailable as exc:  # the worker's own loop says so too
                logger.debug("Webhooks wait for the database: %s", exc.reason)
                done.wait(max(poll_seconds, 5.0))
            except Exception:  # never let a bug here stop the worker from processing jobs
                logger.exception("Sending webhooks failed; trying again shortly")
                done.wait(max(poll_seconds, 5.0))

    thread = threading.Thread(target=run, name="webhooks", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=ctx.settings.webhook_timeout_seconds + 5)


def _attempt(ctx: Context, client: httpx2.Client, delivery: DeliveryRecord) -> None:
    settings = ctx.settings
    try:
        body, secret = in_transaction(ctx.engine, lambda c: _body_and_secret(c, ctx, delivery))
    except NotFound:  # the job was deleted since, and its deliveries with it
        return
    status_code, error = None, _refusal(settings, delivery, secret)
    refused = error is not None  # trying again would not help
    if secret is not None and not refused:
        status_code, error = _post(client, delivery, body.encode(), secret)
    final = refused or delivery.attempts >= settings.webhook_attempts
    retry = min(settings.webhook_retry_seconds * 2 ** (delivery.attempts - 1), MAX_RETRY_SECONDS)
    in_transaction(
        ctx.engine,
        lambda c: record_attempt(
            c,
            delivery.id,
            body=body,
            status_code=status_code,
            error=error,
            retry_in_seconds=None if final else retry,
        ),
    )
    outcome = "delivered" if error is None else ("given up" if final else f"retry in {retry:g} s")
    logger.info(
        "Webhook %s (%s) of job %s, attempt %s: %s%s",
        delivery.id,
        delivery.event,
        delivery.job_id,
        delivery.attempts,
        outcome,
        f" ({error})" if error else "",
        extra={"job_id": delivery.job_id},
    )


def _refusal(settings: Settings, delivery: DeliveryRecord, secret: str | None) -> str | None:
    """Why this delivery may not be sent at all; None if it may."""
    if secret is None:
        return "The job's user has been removed, so there is no secret to sign it with."
    return address_refusal(delivery.url, allow_private=settings.webhook_allow_private)


def _body_and_secret(
    conn: Connection, ctx: Context, delivery: DeliveryRecord
) -> tuple[str, str | None]:
    """The body to send (made at the first attempt, the same at every retry) and the secret
    of the job's user to sign it with (None if the user is gone)."""
    job = get_job(conn, delivery.job_id)
    body = delivery.body
    if body is None:
        payload = job_json(job, ctx.settings.base_url)
        body = job_event(delivery.id, delivery.event, delivery.created_at, payload).decode()
    secret = None if job.owner_id is None else webhook_secret(conn, job.owner_id)
    return body, secret


def _post(
    client: httpx2.Client, delivery: DeliveryRecord, body: bytes, secret: str
) -> tuple[int | None, str | None]:
    """The receiver's status code and, unless it is 2xx, what went wrong."""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Batchscore-Event": delivery.event,
        "Batchscore-Delivery": str(delivery.id),
        HEADER: sign(secret, body, int(time.time())),
    }
    try:
        # Streamed and closed unread: a receiver's answer may be large; only its status counts.
        with client.stream("POST", delivery.url, content=body, headers=headers) as response:
            code = response.status_code
    except httpx2.HTTPError as exc:
        return None, f"Could not reach the receiver: {exc or type(exc).__name__}."
    if 200 <= code < 300:
        return code, None
    moved = " (redirects are not followed)" if 300 <= code < 400 else ""
    return code, f"The receiver answered {code} {response.reason_phrase}{moved}."

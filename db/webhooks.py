"""Webhook deliveries: every SQL statement on `webhook_deliveries`, and a user's webhook settings.

A delivery row is made in the transaction that ends its job (db/jobs.py calls
`enqueue_delivery`), so a job never ends without its notice, whatever crashes after. Senders
claim due rows one at a time and hold each while they send it; callers own the transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, RowMapping, insert, literal, select, update

from batchscore.db.counters import add
from batchscore.db.engine import utcnow
from batchscore.db.tables import jobs, users, webhook_deliveries
from batchscore.webhook_signing import new_secret


class DeliveryStatus(StrEnum):
    PENDING = "PENDING"  #: to send, at next_attempt_at
    DELIVERED = "DELIVERED"  #: the receiver answered 2xx
    FAILED = "FAILED"  #: every attempt failed, or the URL may not be called; not tried again


@dataclass(frozen=True)
class DeliveryRecord:
    id: int
    job_id: int
    event: str
    url: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    body: str | None
    created_at: datetime
    delivered_at: datetime | None

    @classmethod
    def from_row(cls, row: RowMapping) -> DeliveryRecord:
        values = {f.name: row[f.name] for f in fields(cls)}
        return cls(**values | {"status": DeliveryStatus(values["status"])})


def enqueue_delivery(conn: Connection, job_id: int, event: str) -> None:
    """If the job has a callback URL, a delivery of `event` to it, due now."""
    source = select(
        jobs.c.id,
        literal(event),
        jobs.c.callback_url,
        literal(DeliveryStatus.PENDING.value),
        utcnow(),
        utcnow(),
    ).where(jobs.c.id == job_id, jobs.c.callback_url.is_not(None))
    columns = ["job_id", "event", "url", "status", "next_attempt_at", "created_at"]
    conn.execute(insert(webhook_deliveries).from_select(columns, source))


def claim_delivery(conn: Connection, *, hold_seconds: float) -> DeliveryRecord | None:
    """The oldest due delivery, counted as one more attempt and held from other senders for
    `hold_seconds` (if this sender dies, it is due again then); None when none is due."""
    due = (webhook_deliveries.c.status == DeliveryStatus.PENDING.value) & (
        webhook_deliveries.c.next_attempt_at <= utcnow()
    )
    query = select(webhook_deliveries.c.id).where(due)
    query = query.order_by(webhook_deliveries.c.next_attempt_at).limit(1)
    found = conn.execute(query.with_for_update(skip_locked=True)).scalar()
    if found is None:
        return None
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == found)
        .values(attempts=webhook_deliveries.c.attempts + 1, next_attempt_at=utcnow(hold_seconds))
    )
    return _delivery(conn, found)


def record_attempt(
    conn: Connection,
    delivery_id: int,
    *,
    body: str,
    status_code: int | None,
    error: str | None,
    retry_in_seconds: float | None,
) -> None:
    """What an attempt got: DELIVERED when there is no error; else due again in
    `retry_in_seconds`, or FAILED for good when that is None."""
    outcome: dict[str, Any]
    if error is None:
        counted = "delivered"
        outcome = {"status": DeliveryStatus.DELIVERED.value, "delivered_at": utcnow()}
        outcome["next_attempt_at"] = None
    elif retry_in_seconds is None:
        counted = "failed"
        outcome = {"status": DeliveryStatus.FAILED.value, "next_attempt_at": None}
    else:
        counted = "retried"
        outcome = {"next_attempt_at": utcnow(retry_in_seconds)}
    add(conn, "webhook_deliveries", counted)
    conn.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id)
        .values(body=body, last_status_code=status_code, last_error=error, **outcome)
    )


def deliveries_of(conn: Connection, job_id: int) -> list[DeliveryRecord]:
    """The job's deliveries, oldest first."""
    query = select(webhook_deliveries).where(webhook_deliveries.c.job_id == job_id)
    rows = conn.execute(query.order_by(webhook_deliveries.c.id)).mappings()
    return [DeliveryRecord.from_row(row) for row in rows]


def delivery_due(conn: Connection) -> bool:
    """Whether a sender would find a delivery to make now (lets an idle cron run end early)."""
    due = (webhook_deliveries.c.status == DeliveryStatus.PENDING.value) & (
        webhook_deliveries.c.next_attempt_at <= utcnow()
    )
    return conn.execute(select(webhook_deliveries.c.id).where(due).limit(1)).first() is not None


def _delivery(conn: Connection, delivery_id: int) -> DeliveryRecord:
    query = select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
    return DeliveryRecord.from_row(conn.execute(query).mappings().one())


def webhook_secret(conn: Connection, user_id: int, *, renew: bool = False) -> str:
    """The user's signing secret, made on first use (or anew with `renew`)."""
    current = conn.execute(select(users.c.webhook_secret).where(users.c.id == user_id)).scalar()
    if current and not renew:
        return str(current)
    secret = new_secret()
    conn.execute(update(users).where(users.c.id == user_id).values(webhook_secret=secret))
    return secret


def default_callback_url(conn: Connection, user_id: int) -> str | None:
    query = select(users.c.callback_url).where(users.c.id == user_id)
    return conn.execute(query).scalar()


def set_default_callback_url(conn: Connection, user_id: int, url: str | None) -> None:
    """The webhook for the user's jobs that name none (None: no webhook by default)."""
    conn.execute(update(users).where(users.c.id == user_id).values(callback_url=url))

"""Webhooks as a user sets them up: the default callback URL for their jobs, the secret their
webhooks are signed with, and what became of a job's deliveries."""

from __future__ import annotations

from dataclasses import dataclass

from batchscore.callback_urls import check_callback_url
from batchscore.db import webhooks as repo
from batchscore.db.engine import Connection, in_transaction
from batchscore.db.jobs import get_job
from batchscore.db.users import UserRecord
from batchscore.db.webhooks import DeliveryRecord
from batchscore.errors import InputError
from batchscore.scheduler.context import Context
from batchscore.service.accounts import owner_scope

NEEDS_A_USER = "A webhook is signed with its user's secret: give the job a user (--user NAME)."


@dataclass(frozen=True)
class WebhookSettings:
    callback_url: str | None  #: for the user's jobs that name none
    secret: str  #: what their receivers check the signature with


def settings_of(ctx: Context, user_id: int) -> WebhookSettings:
    return in_transaction(
        ctx.engine,
        lambda c: WebhookSettings(
            repo.default_callback_url(c, user_id), repo.webhook_secret(c, user_id)
        ),
    )


def set_default(ctx: Context, user_id: int, url: str | None) -> WebhookSettings:
    """Set (a checked URL) or clear (None, or blank) the user's default callback URL."""
    url = check_url(ctx, url) if url and url.strip() else None
    in_transaction(ctx.engine, lambda c: repo.set_default_callback_url(c, user_id, url))
    return settings_of(ctx, user_id)


def renew_secret(ctx: Context, user_id: int) -> WebhookSettings:
    """A new signing secret: deliveries from now on are signed with it, the old one stops."""
    in_transaction(ctx.engine, lambda c: repo.webhook_secret(c, user_id, renew=True))
    return settings_of(ctx, user_id)


def check_url(ctx: Context, url: str) -> str:
    return check_callback_url(url, allow_private=ctx.settings.webhook_allow_private)


def callback_for(ctx: Context, owner_id: int | None, given: str | None) -> str | None:
    """The callback URL a new job gets: the one given (checked), else its user's default."""
    if given and given.strip():
        if owner_id is None:
            raise InputError(NEEDS_A_USER)
        return check_url(ctx, given)
    if owner_id is None:
        return None
    return in_transaction(
        ctx.engine, lambda c: repo.default_callback_url(c, owner_id), read_only=True
    )


def deliveries(ctx: Context, user: UserRecord | None, job_id: int) -> list[DeliveryRecord]:
    """The job's webhook deliveries, oldest first; NotFound if the job is not the user's."""

    def read(conn: Connection) -> list[DeliveryRecord]:
        get_job(conn, job_id, owner_id=owner_scope(user))
        return repo.deliveries_of(conn, job_id)

    return in_transaction(ctx.engine, read, read_only=True)

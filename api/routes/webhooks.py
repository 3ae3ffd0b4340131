"""The webhook API: the caller's default callback URL and signing secret, and what became of
a job's webhooks."""

from __future__ import annotations

import msgspec
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from batchscore.api.auth import current_user
from batchscore.api.openapi import JOB_ID, TOKEN_REPLIES, Reply, operation
from batchscore.api.params import read_body
from batchscore.api.payloads import (
    DeliveryList,
    Webhook,
    WebhookChange,
    delivery_payload,
    json_response,
)
from batchscore.api.state import context_of
from batchscore.errors import InputError
from batchscore.service import webhooks
from batchscore.service.webhooks import WebhookSettings

_MAX_BODY_BYTES = 8192
_SETTINGS = Reply("The caller's webhook settings.", Webhook)


@operation("getWebhook", "webhooks", {200: _SETTINGS, **TOKEN_REPLIES})
def get_webhook(request: Request) -> Response:
    """Your default callback URL and the secret your webhooks are signed with (made on first
    use). Check each delivery's Batchscore-Signature with it before trusting the body."""
    user = current_user(request)
    return _answer(webhooks.settings_of(context_of(request), user.id))


@operation(
    "setWebhook",
    "webhooks",
    {200: _SETTINGS, **TOKEN_REPLIES, 413: "UploadTooLarge", 422: "InvalidInput"},
    body="WebhookChange",
)
async def set_webhook(request: Request) -> Response:
    """Set the callback URL your jobs use when their upload names none (null: none). Only
    http(s) URLs on the public internet, unless the operator allows private ones."""
    user = await run_in_threadpool(current_user, request)  # before reading what a stranger sent
    body = await read_body(request, _MAX_BODY_BYTES)
    try:
        change = msgspec.json.decode(body, type=WebhookChange)
    except msgspec.ValidationError as exc:
        message = f'The body must be {{"callback_url": "https://…"}} or null: {exc}.'
        raise InputError(message) from exc
    except msgspec.DecodeError as exc:
        raise InputError(f"The body is not valid JSON: {exc}.") from exc
    ctx = context_of(request)
    return _answer(await run_in_threadpool(webhooks.set_default, ctx, user.id, change.callback_url))


@operation("renewWebhookSecret", "webhooks", {200: _SETTINGS, **TOKEN_REPLIES})
def renew_secret(request: Request) -> Response:
    """Make a new signing secret; deliveries from now on are signed with it only."""
    user = current_user(request)
    return _answer(webhooks.renew_secret(context_of(request), user.id))


@operation(
    "listDeliveries",
    "webhooks",
    {200: Reply("The job's deliveries.", DeliveryList), **TOKEN_REPLIES, 404: "NotFound"},
    parameters=[JOB_ID],
)
def list_deliveries(request: Request) -> Response:
    """The webhooks of a job's ends, oldest first: their status, attempts and last error."""
    user, job_id = current_user(request), request.path_params["job_id"]
    found = webhooks.deliveries(context_of(request), user, job_id)
    return json_response(DeliveryList([delivery_payload(d) for d in found]))


def _answer(settings: WebhookSettings) -> Response:
    return json_response(Webhook(callback_url=settings.callback_url, secret=settings.secret))

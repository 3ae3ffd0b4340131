"""Where a webhook may go, with the operator's default (WEBHOOK_ALLOW_PRIVATE = false): http(s)
hosts on the public internet only, checked when the URL is given and again before sending."""

from __future__ import annotations

import dataclasses
import io
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from factories import iris_csv
from webhook_receiver import receiving

from batchscore.callback_urls import check_callback_url
from batchscore.errors import InputError
from batchscore.scheduler.context import Context
from batchscore.scheduler.processor import process_one
from batchscore.scheduler.webhooks import deliver_due
from batchscore.service.intake import submit_file

if TYPE_CHECKING:
    from api.conftest import Caller

PRIVATE = (
    "The callback URL's host {host!r} is a private, loopback or reserved address ({ip}); "
    "the operator must set WEBHOOK_ALLOW_PRIVATE = true to allow it."
)


@pytest.mark.parametrize(
    ("url", "host", "ip"),
    [
        ("http://127.0.0.1:8000/hook", "127.0.0.1", "127.0.0.1"),
        ("http://localhost/hook", "localhost", "127.0.0.1"),
        ("http://10.1.2.3/hook", "10.1.2.3", "10.1.2.3"),
        ("http://192.168.0.10/hook", "192.168.0.10", "192.168.0.10"),
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "169.254.169.254"),
        ("http://[::1]:9000/hook", "::1", "::1"),
        ("http://[::ffff:127.0.0.1]/hook", "::ffff:127.0.0.1", "127.0.0.1"),
        ("http://0.0.0.0/hook", "0.0.0.0", "0.0.0.0"),
        ("http://100.64.0.1/hook", "100.64.0.1", "100.64.0.1"),
        ("http://224.0.0.1/hook", "224.0.0.1", "224.0.0.1"),
    ],
)
def test_private_loopback_and_reserved_hosts_are_refused(url: str, host: str, ip: str) -> None:
    with pytest.raises(InputError) as refused:
        check_callback_url(url, allow_private=False)
    assert refused.value.message == PRIVATE.format(host=host, ip=ip)
    assert check_callback_url(url, allow_private=True) == url


def test_a_public_address_is_accepted() -> None:
    url = "https://93.184.215.14:8443/hooks/batchscore?team=7"
    assert check_callback_url(f"  {url} ", allow_private=False) == url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "ftp://example.com/hook",
            "The callback URL must be an http:// or https:// address of at most 2048 "
            "characters, such as https://example.com/hooks/batchscore; got "
            "'ftp://example.com/hook'.",
        ),
        (
            "https:///no-host",
            "The callback URL must be an http:// or https:// address of at most 2048 "
            "characters, such as https://example.com/hooks/batchscore; got 'https:///no-host'.",
        ),
        (
            "http://no-such-host.invalid/hook",
            "The callback URL's host 'no-such-host.invalid' cannot be found.",
        ),
        (
            "http://example.com:99999/hook",
            "The callback URL must be an http:// or https:// address of at most 2048 "
            "characters, such as https://example.com/hooks/batchscore; got "
            "'http://example.com:99999/hook'.",
        ),
    ],
)
def test_a_bad_callback_url_is_refused_at_upload_and_nothing_is_kept(
    alice: Caller, ctx: Context, url: str, message: str
) -> None:
    files = {"file": ("flowers.csv", iris_csv(3), "text/csv")}
    refused = alice.client.post("/api/jobs", files=files, data={"callback_url": url})
    assert refused.status_code == 422
    assert refused.json()["error"]["message"] == message
    assert list(Path(ctx.settings.input_dir).iterdir()) == []
    put = alice.client.put("/api/webhook", json={"callback_url": url})
    assert (put.status_code, put.json()["error"]["message"]) == (422, message)


def test_a_loopback_receiver_is_refused_at_upload(alice: Caller) -> None:
    with receiving(200) as receiver:
        files = {"file": ("flowers.csv", iris_csv(3), "text/csv")}
        refused = alice.client.post("/api/jobs", files=files, data={"callback_url": receiver.url})
        assert refused.status_code == 422
        assert "WEBHOOK_ALLOW_PRIVATE" in refused.json()["error"]["message"]
        assert receiver.received == []


def test_an_address_allowed_once_is_checked_again_before_sending(
    alice: Caller, ctx: Context
) -> None:
    """The operator allowed private addresses when the job was queued, then stopped: the
    delivery is refused, and not tried again."""
    allowing = dataclasses.replace(ctx.settings, webhook_allow_private=True)
    with receiving(200) as receiver:
        job = submit_file(
            dataclasses.replace(ctx, settings=allowing),
            io.BytesIO(iris_csv(3).encode()),
            "flowers.csv",
            owner_id=alice.user.id,
            callback_url=receiver.url,
        )
        process_one(ctx, job_id=job.id)
        deliver_due(ctx)
        assert receiver.received == []
    [delivery] = alice.client.get(f"/api/jobs/{job.id}/deliveries").json()["deliveries"]
    assert (delivery["status"], delivery["attempts"]) == ("FAILED", 1)
    assert "WEBHOOK_ALLOW_PRIVATE" in delivery["last_error"]

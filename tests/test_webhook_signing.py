"""Webhook signatures: what a receiver checks, and every way a forged or replayed delivery fails."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from batchscore.webhook_signing import BadSignature, new_secret, sign, verify

SECRET = "whsec_test"
BODY = b'{"id":1,"event":"job.processed"}'
NOW = 1_800_000_000


def test_a_signature_is_the_documented_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert sign(SECRET, BODY, NOW) == f"t={NOW},v1={expected}"
    verify(SECRET, BODY, sign(SECRET, BODY, NOW), now=NOW + 299)


@pytest.mark.parametrize(
    ("secret", "body", "header", "now", "message"),
    [
        (SECRET, BODY + b" ", sign(SECRET, BODY, NOW), NOW, "does not match"),
        ("whsec_other", BODY, sign(SECRET, BODY, NOW), NOW, "does not match"),
        (SECRET, BODY, sign(SECRET, BODY, NOW), NOW + 301, "older than 300 seconds"),
        (SECRET, BODY, sign(SECRET, BODY, NOW), NOW - 301, "older than 300 seconds"),
        (SECRET, BODY, None, NOW, "missing"),
        (SECRET, BODY, "v1=abc", NOW, "missing"),
        (SECRET, BODY, f"t={NOW}", NOW, "missing"),
        (SECRET, BODY, f"t=soon,v1={'0' * 64}", NOW, "missing"),
        (SECRET, BODY, f"t={NOW},t={NOW},v1={'0' * 64}", NOW, "missing"),
    ],
)
def test_a_forged_tampered_or_replayed_delivery_is_refused(
    secret: str, body: bytes, header: str | None, now: int, message: str
) -> None:
    with pytest.raises(BadSignature, match=message):
        verify(secret, body, header, now=now)


def test_any_one_of_several_signatures_may_match() -> None:
    good = sign(SECRET, BODY, NOW).split(",v1=")[1]
    verify(SECRET, BODY, f"t={NOW},v1={'0' * 64},v1={good}", now=NOW)


def test_secrets_are_new_each_time_and_recognisable() -> None:
    first, second = new_secret(), new_secret()
    assert first != second and first.startswith("whsec_") and len(first) > 40

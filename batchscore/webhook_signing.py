"""Webhook signatures, as the payment and code-hosting providers sign theirs.

Each delivery carries `Batchscore-Signature: t=<unix seconds>,v1=<hex>`, where the hex is
HMAC-SHA256, keyed with the receiving user's webhook secret, of `<t>.` followed by the raw
body. The receiver recomputes it over the bytes it got and refuses an old `t` (a replayed
delivery). This module is all a receiver in Python needs: `batchscore.client` re-exports it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

HEADER = "Batchscore-Signature"
SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 300  #: how old a signature a receiver accepts, by default


class BadSignature(ValueError):
    """The delivery is not signed with this secret, or was signed too long ago."""


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value for `body` sent at `timestamp` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, body, timestamp)}"


def verify(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    tolerance_seconds: float = TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Raise BadSignature unless `header` signs `body` with `secret` within the tolerance.

    Several v1 values may be present (a secret being rotated); one must match.
    """
    parts = [part.partition("=") for part in (header or "").split(",")]
    stamps = [value for key, _, value in parts if key.strip() == "t"]
    signatures = [value.strip() for key, _, value in parts if key.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not signatures:
        raise BadSignature(f"The {HEADER} header is missing or not t=…,v1=….")
    timestamp = int(stamps[0])
    if abs((time.time() if now is None else now) - timestamp) > tolerance_seconds:
        raise BadSignature(f"The signature is older than {tolerance_seconds:g} seconds.")
    expected = _digest(secret, body, timestamp)
    if not any(hmac.compare_digest(expected, given) for given in signatures):
        raise BadSignature("The signature does not match the body and secret.")


def _digest(secret: str, body: bytes, timestamp: int) -> str:
    signed = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()

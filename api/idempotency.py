"""Idempotent uploads: a client that sends `Idempotency-Key` may send the same upload again
(after a timeout, a dropped connection) and gets the first job back, not a second one.

As the IETF draft "The Idempotency-Key HTTP Header Field" and the payment providers have it:
the key is the client's, per user, for 24 hours; the first answer is 201, a replay 200 with
`Idempotent-Replayed: true`; the key sent with a different request is refused (422).
"""

from __future__ import annotations

import hashlib
import json

from starlette.requests import Request
from starlette.responses import Response

from batchscore.api.payloads import job_payload, json_response
from batchscore.api.upload import Upload
from batchscore.db.jobs import IdempotencyKey, JobRecord
from batchscore.errors import InputError

HEADER = "Idempotency-Key"
MAX_LENGTH = 255
REPLAYED = "Idempotent-Replayed"


def key_of(request: Request) -> str | None:
    """The request's key, checked before its body is read; None if it has none."""
    key = request.headers.get(HEADER)
    if key is None:
        return None
    if not 0 < len(key) <= MAX_LENGTH or not key.isascii() or not key.isprintable():
        raise InputError(
            f"The {HEADER} header must be 1 to {MAX_LENGTH} printable ASCII characters "
            "(a UUID is usual)."
        )
    return key


def idempotency(
    request: Request, key: str | None, owner_id: int, upload: Upload
) -> IdempotencyKey | None:
    """The key with the digest of what makes this request this one: where it was sent, the
    file, its name and the form's fields."""
    if key is None:
        return None
    what = [request.url.path, upload.stored.sha256, upload.filename, sorted(upload.fields.items())]
    digest = hashlib.sha256(json.dumps(what).encode()).hexdigest()
    return IdempotencyKey(owner_id, key, digest)


def queued_response(request: Request, job: JobRecord, replayed: bool) -> Response:
    """201 with the new job, or 200 with the one an earlier request with the key made."""
    body = job_payload(job, request)
    if replayed:
        return json_response(body, 200, headers={"Location": body.url, REPLAYED: "true"})
    return json_response(body, 201, headers={"Location": body.url})

"""Give every request an id (X-Request-ID in and out), log one line per request with it, and
count it for /metrics."""

from __future__ import annotations

import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from batchscore.api.metrics import observe_request
from batchscore.logs import request_id

logger = logging.getLogger("batchscore.api.access")
_ACCEPTED = re.compile(r"[A-Za-z0-9._-]{1,64}")  # a caller's id is echoed only if it is tame


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = incoming if _ACCEPTED.fullmatch(incoming) else uuid.uuid4().hex[:16]
        token = request_id.set(rid)
        scope.setdefault("state", {})["request_id"] = rid  # for the 500 handler, which runs outside
        started, status = time.perf_counter(), 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = time.perf_counter() - started
            logger.info("%s %s %s %.1fms", scope["method"], scope["path"], status, elapsed * 1000)
            observe_request(scope, status, elapsed)
            request_id.reset(token)

"""A webhook receiver on loopback for tests: it records every request and answers each with the
next of the statuses it was given (the last one again once they run out)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    url: str
    statuses: list[int]
    delay_seconds: float = 0.0  #: how long each answer takes
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: Received) -> int:
        with self._lock:
            self.received.append(request)
            return self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} of {count} webhooks arrived")
            time.sleep(0.02)
        return list(self.received)


@contextmanager
def receiving(*statuses: int, delay_seconds: float = 0.0, port: int = 0) -> Iterator[Receiver]:
    """A receiver at http://127.0.0.1:<port, default a free one>/hook answering `statuses`
    (default 200)."""
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the name http.server calls
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status = receiver.record(Received(self.path, dict(self.headers.items()), body))
            time.sleep(receiver.delay_seconds)
            self.send_response(status)
            if 300 <= status < 400:
                self.send_header("Location", f"{receiver.url}-moved")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    receiver = Receiver(
        f"http://127.0.0.1:{server.server_port}/hook", list(statuses or (200,)), delay_seconds
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()

"""A webhook outlives its receiver's outage and its worker's death: the receiver is down for
30 s, the worker is killed (SIGKILL) while it waits to try again, a new worker delivers it once
the receiver is back. Real processes, a real receiver on loopback, either database."""

from __future__ import annotations

import json
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from processes import Cli, free_port, write_config
from webhook_receiver import receiving

from batchscore.config import Settings
from batchscore.db.engine import in_transaction
from batchscore.db.webhooks import deliveries_of
from batchscore.scheduler.context import Context
from batchscore.webhook_signing import verify

pytestmark = pytest.mark.slow

EXAMPLE = Path(__file__).parents[2] / "examples" / "iris.csv"
OUTAGE_SECONDS = 30.0
PATIENCE_SECONDS = 90.0


def attempts(ctx: Context, job_id: int) -> int:
    found = in_transaction(ctx.engine, lambda c: deliveries_of(c, job_id))
    return found[0].attempts if found else 0


def wait_until(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def test_a_webhook_survives_a_30_second_outage_and_a_killed_worker(
    tmp_path: Path, settings: Settings, ctx: Context
) -> None:
    port = free_port()  # where the receiver will be, once it is back
    url = f"http://127.0.0.1:{port}/hook"
    config = write_config(
        tmp_path / "hooks.properties",
        settings,
        WEBHOOK_ALLOW_PRIVATE="true",
        WEBHOOK_RETRY_SECONDS=2,  # then 4, 8, 16, 32: past the outage
        WEBHOOK_ATTEMPTS=10,
        POLL_SECONDS=0.2,
    )
    cli = Cli(config)
    cli.run("user", "add", "ana", "--password-stdin", input="a long password\n")
    secret = re.search(r"Signing secret: (\S+)", cli.run("user", "webhook", "ana").stdout)
    assert secret
    queued = cli.run("submit", str(EXAMPLE), "--user", "ana", "--callback-url", url).stdout
    found = re.match(r"Job (\d+) queued", queued)
    assert found, queued
    job_id = int(found[1])

    down_since = time.monotonic()
    worker = cli.start("worker")
    try:
        wait_until(lambda: attempts(ctx, job_id) >= 2, "the worker did not try twice")
    finally:
        worker.send_signal(signal.SIGKILL)  # in the middle of its backoff
        worker.communicate(timeout=60)
    tried = attempts(ctx, job_id)
    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down_since)))

    with receiving(200, port=port) as receiver:
        again = cli.start("worker")
        try:
            [hook] = receiver.wait_for(1, timeout=PATIENCE_SECONDS)
        finally:
            again.send_signal(signal.SIGTERM)
            again.communicate(timeout=60)
    verify(secret[1], hook.body, hook.headers["Batchscore-Signature"])
    event = json.loads(hook.body)
    assert (event["event"], event["job"]["id"]) == ("job.processed", job_id)
    [delivery] = in_transaction(ctx.engine, lambda c: deliveries_of(c, job_id))
    assert delivery.status.value == "DELIVERED" and delivery.attempts > tried
    assert len(receiver.received) == 1  # delivered once, not again by the restarted worker

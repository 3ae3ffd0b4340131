"""What one tick of the panel's live table costs the server.

The panel polls GET /api/jobs (50 newest jobs, session cookie) every 1.5 s per open tab. This
serves the real app with uvicorn on 127.0.0.1 (SQLite in a temp folder, 200 jobs), signs in
through the form, and times N polls against GET /health (one COUNT … GROUP BY) measured in the
same run, sequentially, from one client.

    .venv/bin/python bench/panel_poll.py [--polls 500] [--jobs 200]
"""

from __future__ import annotations

import argparse
import io
import re
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx2
import uvicorn

from batchscore.api.app import create_app
from batchscore.config import Secret, Settings
from batchscore.credentials import hash_password
from batchscore.db import migrate
from batchscore.db.engine import in_transaction, make_engine
from batchscore.db.users import create_user
from batchscore.model.train import train_demo_model
from batchscore.scheduler.context import Context
from batchscore.scheduler.processor import process_one
from batchscore.service.intake import submit_file

IRIS = "sepal_length,sepal_width,petal_length,petal_width\n" + "5.1,3.5,1.4,0.2\n" * 100


@contextmanager
def served(settings: Settings) -> Iterator[str]:
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


def timed(client: httpx2.Client, path: str, polls: int) -> tuple[list[float], int]:
    times, size = [], 0
    for _ in range(polls):
        start = time.perf_counter()
        response = client.get(path)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.text
        size = len(response.content)
    return times, size


def summary(name: str, times: list[float], size: int) -> str:
    p95 = statistics.quantiles(times, n=20)[-1]
    return (
        f"{name:<28} mean {statistics.mean(times):6.2f} ms  p50 {statistics.median(times):6.2f}"
        f" ms  p95 {p95:6.2f} ms  {size:>7,} bytes"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--polls", type=int, default=500)
    parser.add_argument("--jobs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        url = f"sqlite:///{root / 'bench.db'}"
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        settings = Settings(
            database_url=Secret(url),
            input_dir=str(root / "input"),
            output_dir=str(root / "output"),
            model_dir=root / "models",
        )
        train_demo_model(settings.model_dir)
        ctx = Context.from_settings(settings)
        ctx.storage.create_folders()
        user = in_transaction(
            ctx.engine,
            lambda c: create_user(
                c, username="bench", password_hash=hash_password("bench-pw"), is_admin=False
            ),
        )
        for n in range(args.jobs):
            job = submit_file(ctx, io.BytesIO(IRIS.encode()), f"f{n}.csv", owner_id=user.id)
            if n % 2:
                process_one(ctx, job_id=job.id)
        with served(settings) as base, httpx2.Client(base_url=base) as client:
            form = client.get("/login").text
            token = re.search(r'name="csrf_token" value="([^"]+)"', form)
            assert token
            client.post(
                "/login",
                data={"csrf_token": token[1], "username": "bench", "password": "bench-pw"},
            )
            timed(client, "/api/jobs?limit=50", 20)  # warm up
            health, health_size = timed(client, "/health", args.polls)
            poll, poll_size = timed(client, "/api/jobs?limit=50", args.polls)
        ctx.engine.dispose()
    print(f"{args.polls} sequential requests each, {args.jobs} jobs in the database (SQLite)")
    print(summary("GET /health (baseline)", health, health_size))
    print(summary("GET /api/jobs?limit=50 (poll)", poll, poll_size))
    ratio = statistics.mean(poll) / statistics.mean(health)
    tabs = 1500 / statistics.mean(poll)
    print(f"ratio poll/baseline: {ratio:.2f}x")
    print(f"one server process: ~{tabs:,.0f} open tabs at one poll per 1.5 s (100% of a core)")


if __name__ == "__main__":
    main()

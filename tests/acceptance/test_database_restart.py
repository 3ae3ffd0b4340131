"""MariaDB restarted or killed under 4 workers: they wait, reconnect, and finish every job once.

The server is a private one (tests/mariadb_server.py), so the restart disturbs no other test.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from factories import iris_csv, submit
from jobstate import all_jobs, attempts_of, sheet_rows, wait_for
from mariadb_server import MariaDB
from processes import Cli, free_port, serving, write_config

from batchscore.config import Settings
from batchscore.db import migrate
from batchscore.db.engine import in_transaction, make_engine
from batchscore.db.jobs import JobStatus
from batchscore.db.users import create_user, issue_token
from batchscore.scheduler.context import Context

pytestmark = [pytest.mark.slow, pytest.mark.mariadb]
JOBS = 200


@pytest.fixture
def server() -> Iterator[MariaDB]:
    root = Path(tempfile.mkdtemp(prefix="bs-mariadb-"))  # short: the socket path must fit
    mariadb = MariaDB(root, free_port())
    try:
        yield mariadb
    finally:
        mariadb.stop()
        shutil.rmtree(root)


@pytest.fixture
def database_url(server: MariaDB) -> str:
    """Overrides the suite's database: this test's own server, migrated."""
    url = server.start()
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    return url


def processed(ctx: Context) -> int:
    return sum(job.status is JobStatus.PROCESSED for job in all_jobs(ctx))


@pytest.mark.parametrize("fault", ["restart", "crash"])
def test_workers_ride_out_a_database_restart(
    ctx: Context, cli: Cli, server: MariaDB, fault: str
) -> None:
    for i in range(JOBS):
        submit(ctx, iris_csv(1000 + i), f"file{i}.csv")
    workers = [cli.start("worker", "--poll", "0.2") for _ in range(4)]
    try:
        wait_for(lambda: processed(ctx) >= JOBS // 4, timeout=120, interval=0.2)
        at_fault = processed(ctx)
        server.stop() if fault == "restart" else server.crash()
        server.start()
        wait_for(lambda: processed(ctx) == JOBS, timeout=240, interval=0.5)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        logs = [worker.communicate(timeout=120)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0, 0, 0]
    assert at_fault < JOBS  # the fault came mid-run
    assert any("Database unreachable" in log for log in logs)
    tracebacks = [log[log.index("Traceback") - 500 :] for log in logs if "Traceback" in log]
    assert not tracebacks, tracebacks[0][:5000]  # every outage error was expected

    jobs = all_jobs(ctx)
    reruns = 0
    for job in jobs:  # finished once; a job cut off by the fault may have run again
        outcomes = [a.outcome for a in attempts_of(ctx, job.id)]
        assert outcomes.count("PROCESSED") == 1 and set(outcomes) <= {"PROCESSED", "LEASE_EXPIRED"}
        reruns += len(outcomes) - 1
        assert job.output_name and job.rows_total
        assert sheet_rows(Path(ctx.settings.output_dir, job.output_name)) == 1 + job.rows_total
    outputs = sorted(p.name for p in Path(ctx.settings.output_dir).iterdir())
    assert outputs == sorted(str(job.output_name) for job in jobs)  # no temp file left
    waits = sum(log.count("Database unreachable") for log in logs)
    print(
        f"\nMariaDB {fault} after {at_fault} of {JOBS} jobs: {waits} waits logged, {reruns} re-runs"
    )


def test_api_answers_503_while_the_database_is_down_and_recovers(
    ctx: Context, settings: Settings, server: MariaDB, tmp_path: Path
) -> None:
    user = in_transaction(
        ctx.engine, lambda c: create_user(c, username="dora", password_hash="x", is_admin=False)
    )
    _record, token = in_transaction(ctx.engine, lambda c: issue_token(c, user_id=user.id, name="t"))
    port = free_port()
    cli = Cli(write_config(tmp_path / "serve.properties", settings, HTTP_PORT=port))
    api = httpx2.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}
    )
    upload = {"file": ("a.csv", iris_csv(3), "text/csv")}
    with serving(cli, port) as served:
        server.stop()
        for answer in (
            api.get("/health"),
            api.get("/api/jobs"),
            api.post("/api/jobs", files=upload),
        ):
            assert answer.status_code == 503
            assert answer.headers["Retry-After"] == "30"
            assert answer.json()["error"] == {
                "code": "database_unavailable",
                "message": "The database cannot be reached right now. Try again in a minute; if "
                "this lasts, ask the operator to check the database server.",
            }
        assert list(Path(settings.input_dir).iterdir()) == []  # the refused upload left nothing
        server.start()
        assert api.get("/health").status_code == 200
        assert api.post("/api/jobs", files=upload).status_code == 201
    api.close()
    assert "database unreachable ((2003, \"Can't connect to MySQL server" in served.output
    assert "Traceback" not in served.output

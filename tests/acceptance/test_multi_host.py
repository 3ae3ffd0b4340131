"""Two worker hosts and a database host on one machine (network namespaces, no containers):
200 jobs, each processed exactly once across the hosts, with shared folders or S3 storage.

DESIGN.md promises safe claiming "with any number of processors on any number of machines";
test_concurrency.py covers one host. Here the workers reach MariaDB and S3 (moto) only over a
bridge, and each host has its own hostname, as separate machines would.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import iris_csv, submit
from jobstate import all_jobs, assert_each_processed_exactly_once, attempts_of, sheet_rows
from netns import MARIADBD, Network, start_mariadb, stop, unusable_reason, wait_for_port
from results import xlsx_rows
from s3_server import AWS_ENV, BUCKET, Bucket

from batchscore.config import load_settings
from batchscore.db import migrate
from batchscore.db.engine import in_transaction, make_engine
from batchscore.db.jobs import JobRecord, JobStatus, count_jobs_by_status
from batchscore.scheduler.context import Context

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(os.environ.get("BATCHSCORE_TEST_DATABASE_URL")),
        reason="starts its own MariaDB in a namespace: run once, in the SQLite pass",
    ),
]

JOBS = 200
HOSTS = ("host1", "host2")
WORKERS_PER_HOST = 2
DEADLINE_SECONDS = 180
S3_PORT = 5000


@pytest.fixture
def network() -> Iterator[Network]:
    reason = unusable_reason()
    if reason:
        pytest.skip(reason)
    if not Path(MARIADBD).exists():
        pytest.skip(f"{MARIADBD} not found: run scripts/system-packages")
    net = Network(["db", *HOSTS])
    try:
        yield net.open()
    finally:
        net.close()


@pytest.fixture
def database_url(network: Network, tmp_path: Path) -> Iterator[str]:
    """MariaDB served from the db namespace, its schema at head."""
    url, server = start_mariadb(network, "db", tmp_path / "mariadb")
    try:
        engine = make_engine(url)
        migrate.upgrade(engine)
        engine.dispose()
        yield url
    finally:
        stop([server])


@pytest.fixture
def s3_endpoint(network: Network, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """moto's S3 served from the db namespace, with an empty bucket (AWS_* set for our client)."""
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    address = network.addresses["db"]
    moto = network.start(
        "db",
        [sys.executable, "-m", "moto.server", "-H", address, "-p", str(S3_PORT)],
        tmp_path / "moto.log",
    )
    try:
        wait_for_port(network, "db", S3_PORT, moto)
        endpoint = f"http://{address}:{S3_PORT}"
        Bucket(endpoint).reset()  # creates BUCKET
        yield endpoint
    finally:
        stop([moto])


def _config(path: Path, database_url: str, s3_endpoint: str, model_dir: Path) -> Path:
    if s3_endpoint:
        folders = {
            "INPUT_DIR": f"s3://{BUCKET}/input",
            "OUTPUT_DIR": f"s3://{BUCKET}/output",
            "S3_ENDPOINT_URL": s3_endpoint,
        }
    else:  # one folder every host sees, as an NFS mount would be
        folders = {
            "INPUT_DIR": str(path.parent / "input"),
            "OUTPUT_DIR": str(path.parent / "output"),
        }
    values = {"DB_URL": database_url, **folders, "MODEL_DIR": str(model_dir), "LEASE_SECONDS": "10"}
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


def _xlsx_rows(data: bytes) -> int:
    return len(xlsx_rows(data))


def _assert_results(ctx: Context, jobs: list[JobRecord], endpoint: str) -> None:
    """One whole result per job, with a header and one row per input row, and no temp files."""
    expected = {str(job.output_name): (job.rows_total or 0) + 1 for job in jobs}
    if endpoint:
        bucket = Bucket(endpoint)
        assert bucket.keys("output/") == sorted(f"output/{name}" for name in expected)
        assert bucket.open_uploads() == []
        for name, rows in expected.items():
            assert _xlsx_rows(bucket.read(f"output/{name}")) == rows, name
    else:
        output_dir = Path(ctx.settings.output_dir)
        assert sorted(p.name for p in output_dir.iterdir()) == sorted(expected)
        for name, rows in expected.items():
            assert sheet_rows(output_dir / name) == rows, name


@pytest.mark.parametrize("storage", ["folders", "s3"])
def test_two_hosts_process_200_jobs_exactly_once(
    storage: str,
    network: Network,
    database_url: str,
    demo_model_dir: Path,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    s3_endpoint = str(request.getfixturevalue("s3_endpoint")) if storage == "s3" else ""
    config = _config(tmp_path / "ConfigFile.properties", database_url, s3_endpoint, demo_model_dir)
    settings = load_settings(config, environ={})
    ctx = Context.from_settings(settings)
    try:
        for i in range(JOBS):
            submit(ctx, iris_csv(1 + i % 5), f"file{i}.csv")
        started = time.monotonic()
        workers = _start_workers(network, config, tmp_path)
        try:
            _wait_until_processed(ctx, list(workers.values()))
            elapsed = time.monotonic() - started
        finally:
            codes = stop(list(workers.values()))
        logs = {name: (tmp_path / f"{name}.log").read_text() for name in workers}
        assert codes == [0] * len(workers), logs
        for name, log in logs.items():
            assert "Traceback" not in log, (name, log)

        jobs = all_jobs(ctx)
        assert len(jobs) == JOBS
        assert_each_processed_exactly_once(ctx, jobs)
        assert {job.attempts for job in jobs} == {1}
        _assert_results(ctx, jobs, s3_endpoint)
        per_host = _jobs_per_host(ctx, jobs, workers)
        summary = ", ".join(f"{host} {per_host[host]}" for host in HOSTS)
        print(f"\nmulti-host ({storage}): {JOBS} jobs in {elapsed:.1f} s: {summary}")
        assert all(per_host[host] > 0 for host in HOSTS), per_host
    finally:
        ctx.engine.dispose()


def _start_workers(
    network: Network, config: Path, logs: Path
) -> dict[str, subprocess.Popen[bytes]]:
    """`batchscore worker`s in every host namespace, each under its host's own hostname."""
    argv = [sys.executable, "-m", "batchscore", "--config", str(config), "worker", "--poll", "0.2"]
    env = {**os.environ, **AWS_ENV}
    return {
        f"{host}-worker{n}": network.start(
            host, argv, logs / f"{host}-worker{n}.log", hostname=f"bs-{host}", env=env
        )
        for host in HOSTS
        for n in range(1, WORKERS_PER_HOST + 1)
    }


def _jobs_per_host(
    ctx: Context, jobs: list[JobRecord], workers: dict[str, subprocess.Popen[bytes]]
) -> Counter[str]:
    """Count each job's attempt against its host, checking the worker id (host:pid:random)
    names both the host's hostname and the pid of a worker started in that host."""
    host_of_pid = {process.pid: name.split("-")[0] for name, process in workers.items()}
    per_host: Counter[str] = Counter()
    for job in jobs:
        [attempt] = attempts_of(ctx, job.id)
        hostname, pid, _random = str(attempt.worker_id).split(":")
        host = host_of_pid.get(int(pid), "?")
        assert hostname == f"bs-{host}", (attempt.worker_id, host_of_pid)
        per_host[host] += 1
    return per_host


def _wait_until_processed(ctx: Context, workers: list[subprocess.Popen[bytes]]) -> None:
    """Poll the job counts until every job is PROCESSED; fail fast when a worker dies."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        counts = in_transaction(ctx.engine, count_jobs_by_status)
        if counts.get(JobStatus.PROCESSED, 0) == JOBS:
            return
        if counts.get(JobStatus.FAILED, 0):  # terminal: waiting longer can't help
            failed = [j for j in all_jobs(ctx) if j.status is JobStatus.FAILED]
            raise AssertionError(f"{len(failed)} jobs FAILED, e.g. {failed[0].error_message}")
        assert all(w.poll() is None for w in workers), f"a worker exited early; {counts}"
        assert time.monotonic() < deadline, f"not done in {DEADLINE_SECONDS} s: {counts}"
        time.sleep(0.5)

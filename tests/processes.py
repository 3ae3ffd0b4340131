"""Run the real `batchscore` command in subprocesses against a test's database and folders."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
from jobstate import wait_for

from batchscore.config import Settings

KILLPOINT = Path(__file__).parent / "killpoint.py"


class Cli:
    """Runs `python -m batchscore --config <file> …` against the test's database and folders."""

    def __init__(self, config: Path) -> None:
        self.config = config

    def args(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "batchscore", "--config", str(self.config), *args]

    def run(
        self, *args: str, check: bool = True, input: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.args(*args), capture_output=True, text=True, timeout=300, input=input
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{args} exited {result.returncode}:\n{result.stderr}")
        return result

    def start(self, *args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            self.args(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )


def write_config(path: Path, settings: Settings, **overrides: object) -> Path:
    values: dict[str, object] = {
        "DB_URL": settings.database_url,
        "INPUT_DIR": settings.input_dir,
        "OUTPUT_DIR": settings.output_dir,
        "MODEL_DIR": settings.model_dir,
        "CACHE_DIR": settings.cache_dir,
        "S3_ENDPOINT_URL": settings.s3_endpoint_url,
        "LEASE_SECONDS": settings.lease_seconds,
        "CHUNK_ROWS": settings.chunk_rows,
    }
    values.update(overrides)
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


def killed_at(cli: Cli, point: str, folder: Path) -> None:
    """Run `batchscore process` until it claims a job and dies by SIGKILL at `point`.

    A run exits 3 while the only job is held by a dead processor whose lease has not ended.
    """
    args = [sys.executable, str(KILLPOINT), point, str(folder), *cli.args("process")[3:]]
    deadline = time.monotonic() + 30
    while (code := subprocess.run(args, timeout=120).returncode) == 3:
        assert time.monotonic() < deadline, "no job to claim"
        time.sleep(0.2)
    assert code == -9


def process_until(cli: Cli, done: Callable[[], bool]) -> None:
    """Cron runs of `batchscore process` until `done`: each one first requeues expired claims."""
    wait_for(lambda: cli.run("process", check=False) and done(), timeout=30)


def wait_all(processes: Sequence[subprocess.Popen[str]], timeout: float = 300) -> list[int]:
    """Wait for every process (reading its pipes, so none blocks on a full one); exit codes."""
    codes = []
    for process in processes:
        try:
            _out, err = process.communicate(timeout=timeout)
        finally:
            process.kill()
        if process.returncode != 0:
            print(err)
        codes.append(process.returncode)
    return codes


def process_state(pid: int) -> str:
    """The state letter in /proc (R running, S sleeping, T stopped, Z zombie); "" when gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return ""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Served:
    process: subprocess.Popen[str]
    output: str = ""  #: everything the server printed (its log), once the block has ended


@contextmanager
def serving(cli: Cli, port: int, processors: int | None = 0) -> Iterator[Served]:
    """`batchscore serve` in a subprocess, up and answering /health; stopped (SIGTERM) after.

    The config behind `cli` must set HTTP_PORT=`port`. It runs `processors` job processors
    (None: as many as it starts by default); none unless asked, so a test's jobs wait for it.
    """
    server = cli.start("serve", *([] if processors is None else ["--processors", str(processors)]))
    served = Served(server)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx2.get(f"http://127.0.0.1:{port}/health").raise_for_status()
                break
            except httpx2.HTTPError:
                assert time.monotonic() < deadline and server.poll() is None, "server not up"
                time.sleep(0.1)
        yield served
    finally:
        server.terminate()
        out, err = server.communicate(timeout=60)
        served.output = out + err

"""A multi-GB upload streams through `batchscore serve` into the input folder in bounded memory."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest
from processes import Cli, free_port, serving, write_config

from batchscore.config import Settings
from batchscore.db.engine import in_transaction
from batchscore.db.jobs import get_job
from batchscore.db.users import create_user, issue_token
from batchscore.scheduler.context import Context

pytestmark = pytest.mark.slow
SIZE_BYTES = 2 * 1024**3 + 12_345  # past 2 GiB, so nothing 32-bit is hiding on the way
MAX_GROWTH_BYTES = 100 * 1024**2  # over the idle server's resident memory
BOUNDARY = "x-batchscore-test"


def body(size: int, digest: hashlib._Hash) -> Iterator[bytes]:
    """A multipart form around a CSV of exactly `size` bytes, generated as it is sent."""
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="big.csv"\r\n'
        "Content-Type: text/csv\r\n\r\n"
    ).encode()
    header = b"sepal_length,sepal_width,petal_length,petal_width\n"
    block = b"5.1,3.5,1.4,0.2\n" * 65_536  # 1 MiB
    sent = 0
    for piece in (header, *[block] * ((size - len(header)) // len(block))):
        digest.update(piece)
        sent += len(piece)
        yield piece
    tail = (b"6.7,3.0,5.2,2.3\n" * (size - sent))[: size - sent - 1] + b"\n"
    digest.update(tail)
    yield tail
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def memory(pid: int, field: str) -> int:
    """VmRSS (resident now) or VmHWM (peak resident) of a process, in bytes."""
    status = Path(f"/proc/{pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith(f"{field}:"))
    return int(line.split()[1]) * 1024


def test_multi_gb_upload_streams_to_the_input_folder(
    ctx: Context, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    config = write_config(
        tmp_path / "serve.properties", settings, HTTP_PORT=port, MAX_UPLOAD_BYTES=3 * 1024**3
    )
    user = in_transaction(
        ctx.engine, lambda c: create_user(c, username="big", password_hash="-", is_admin=False)
    )
    _record, token = in_transaction(
        ctx.engine, lambda c: issue_token(c, user_id=user.id, name="upload")
    )
    url = f"http://127.0.0.1:{port}"
    with serving(Cli(config), port) as served:
        idle = memory(served.process.pid, "VmRSS")
        digest = hashlib.sha256()
        started = time.monotonic()
        response = httpx2.post(
            f"{url}/api/jobs",
            content=body(SIZE_BYTES, digest),
            headers={
                "Authorization": f"Bearer {token}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY}",
            },
            timeout=600,
        )
        seconds = time.monotonic() - started
        peak = memory(served.process.pid, "VmHWM")
    assert response.status_code == 201, response.text
    print(
        f"\n{SIZE_BYTES / 1024**3:.2f} GiB upload: {seconds:.1f} s "
        f"({SIZE_BYTES / 1024**2 / seconds:.0f} MiB/s), server RSS {idle / 1024**2:.0f} MB idle, "
        f"{peak / 1024**2:.0f} MB peak"
    )
    job = in_transaction(ctx.engine, lambda c: get_job(c, response.json()["id"]))
    assert (job.input_bytes, job.input_sha256) == (SIZE_BYTES, digest.hexdigest())
    stored = Path(settings.input_dir) / job.input_name
    assert stored.stat().st_size == SIZE_BYTES
    assert [p.name for p in Path(settings.input_dir).iterdir()] == [job.input_name]  # no part file
    assert peak - idle < MAX_GROWTH_BYTES

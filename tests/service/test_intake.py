"""submit_file: a file is checked before it queues, and nothing is kept of a refused one;
queue_once: one job per idempotency key."""

from __future__ import annotations

import dataclasses
import io
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from factories import iris_csv, submit

from batchscore.db.engine import in_transaction
from batchscore.db.jobs import IdempotencyKey, JobRecord, JobStatus, list_jobs
from batchscore.db.users import create_user
from batchscore.errors import InputError, NotFound
from batchscore.scheduler.context import Context
from batchscore.service.intake import queue_once, queue_stored


def queued(ctx: Context) -> int:
    return len(in_transaction(ctx.engine, lambda c: list_jobs(c)))


def test_accepted_file_is_stored_and_queued(ctx: Context) -> None:
    job = submit(ctx, iris_csv(3), "../../etc/passwd.csv")
    assert job.status is JobStatus.PENDING
    assert job.original_filename == "../../etc/passwd.csv"
    assert job.input_name.endswith("-passwd.csv") and "/" not in job.input_name
    assert Path(ctx.settings.input_dir, job.input_name).read_text() == iris_csv(3)
    assert job.input_bytes == len(iris_csv(3))


@pytest.mark.parametrize(
    ("kwargs", "content", "error", "message"),
    [
        (
            {},
            "a,b\n1,2\n",
            InputError,
            "Missing column(s) sepal_length, sepal_width, petal_length, petal_width. Model iris "
            "v1 needs: sepal_length, sepal_width, petal_length, petal_width. The file has: a, b.",
        ),
        (
            {},
            "",
            InputError,
            "The file is empty. A CSV file needs a header line naming its columns, then one "
            "line per row.",
        ),
        (
            {"model_name": "nosuch"},
            iris_csv(1),
            NotFound,
            "Model 'nosuch' not found. Available models: iris.",
        ),
        (
            {"output_format": "pdf"},
            iris_csv(1),
            InputError,
            "Unknown output format 'pdf'; choose one of xlsx, csv, parquet.",
        ),
    ],
    ids=["missing-feature", "empty", "unknown-model", "unknown-format"],
)
def test_refused_file_leaves_nothing_behind(
    ctx: Context, kwargs: dict[str, str], content: str, error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as info:
        submit(ctx, content, **kwargs)
    assert str(info.value) == message
    assert list(Path(ctx.settings.input_dir).iterdir()) == []
    assert queued(ctx) == 0


def test_file_over_the_upload_limit_is_refused(ctx: Context) -> None:
    small = dataclasses.replace(
        ctx, settings=dataclasses.replace(ctx.settings, max_upload_bytes=100)
    )
    with pytest.raises(InputError) as info:
        submit(small, iris_csv(20), "big.csv")
    assert str(info.value) == "big.csv is larger than the upload limit of 100 bytes."
    assert list(Path(ctx.settings.input_dir).iterdir()) == []
    assert queued(ctx) == 0


def test_two_requests_racing_with_one_key_make_one_job(ctx: Context) -> None:
    """Both find the key unused, both insert: the unique index lets one job in, and the other
    request answers with it."""
    owner = in_transaction(
        ctx.engine, lambda c: create_user(c, username="racer", password_hash="-", is_admin=False)
    )
    key = IdempotencyKey(owner.id, "race", "0" * 64)
    both_looked = threading.Barrier(2, timeout=30)

    def request(_: int) -> tuple[int, bool]:
        stored = ctx.storage.save_input(io.BytesIO(iris_csv(3).encode()), "data.csv", 10**6)

        def queue() -> JobRecord:
            both_looked.wait()  # each has found no job under the key
            return queue_stored(ctx, stored, "data.csv", owner_id=owner.id, idempotency=key)

        job, replayed = queue_once(ctx, stored, key, queue)
        return job.id, replayed

    with ThreadPoolExecutor(2) as pool:
        answers = sorted(pool.map(request, range(2)), key=lambda answer: answer[1])
    [job] = in_transaction(ctx.engine, lambda c: list_jobs(c))
    assert answers == [(job.id, False), (job.id, True)]
    assert [p.name for p in Path(ctx.settings.input_dir).iterdir()] == [job.input_name]

"""Idempotency-Key on uploads and train jobs: a client's retry gets the first job, not a second."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2
import pytest
from factories import iris_csv
from jobstate import all_jobs
from sqlalchemy import update

from batchscore.db.engine import in_transaction, utcnow
from batchscore.db.jobs import IDEMPOTENCY_SECONDS
from batchscore.db.tables import jobs
from batchscore.scheduler.context import Context

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller

CONCURRENT = 20  # identical requests sent at once


def post(
    client: httpx2.Client,
    key: str | bytes | None,
    content: str = iris_csv(3),
    path: str = "/api/jobs",
    filename: str = "data.csv",
    **fields: str,
) -> httpx2.Response:
    raw = key.encode() if isinstance(key, str) else key  # bytes: sent as they are
    headers = [] if raw is None else [(b"Idempotency-Key", raw)]
    files = {"file": (filename, content, "text/csv")}
    return client.post(path, files=files, data=fields, headers=headers)


def inputs(ctx: Context) -> list[str]:
    return sorted(p.name for p in Path(ctx.settings.input_dir).iterdir())


def test_the_same_upload_again_with_its_key_answers_the_first_job(
    alice: Caller, ctx: Context
) -> None:
    key = str(uuid.uuid4())
    first = post(alice.client, key, model="iris", format="csv")
    again = post(alice.client, key, model="iris", format="csv")
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json() == first.json()
    assert again.headers["Location"] == first.headers["Location"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert [job.id for job in all_jobs(ctx)] == [first.json()["id"]]
    assert inputs(ctx) == [all_jobs(ctx)[0].input_name]  # the second copy is not kept


def test_without_a_key_each_upload_is_a_job(alice: Caller, ctx: Context) -> None:
    assert [post(alice.client, None).status_code for _ in range(2)] == [201, 201]
    assert len(all_jobs(ctx)) == 2


def test_a_different_upload_under_a_used_key_is_refused_and_not_kept(
    alice: Caller, ctx: Context
) -> None:
    key = "retry-42"
    first = post(alice.client, key)
    kept = inputs(ctx)
    changed = [
        post(alice.client, key, iris_csv(4)),  # another file
        post(alice.client, key, filename="other.csv"),  # another name
        post(alice.client, key, format="csv"),  # another field
    ]
    for refused in changed:
        assert refused.status_code == 422, refused.text
        assert refused.json()["error"]["message"] == (
            "The Idempotency-Key 'retry-42' came with a different request, which made job "
            f"{first.json()['id']}; send a new key with each new request."
        )
    assert len(all_jobs(ctx)) == 1 and inputs(ctx) == kept


def test_keys_are_per_user(alice: Caller, bob: Caller, ctx: Context) -> None:
    mine, theirs = post(alice.client, "same"), post(bob.client, "same")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["id"] != theirs.json()["id"]


@pytest.mark.network  # a live server: the requests really race
def test_concurrent_identical_requests_make_one_job(
    alice: Caller, base_url: str, ctx: Context
) -> None:
    key, content = str(uuid.uuid4()), iris_csv(50)
    headers = {"Authorization": f"Bearer {alice.token}"}

    def send(_: int) -> httpx2.Response:
        with httpx2.Client(base_url=base_url, headers=headers, timeout=60) as client:
            return post(client, key, content)

    with ThreadPoolExecutor(CONCURRENT) as pool:
        answers = list(pool.map(send, range(CONCURRENT)))
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * (CONCURRENT - 1) + [201], [a.text for a in answers]
    assert {a.json()["id"] for a in answers} == {job.id for job in all_jobs(ctx)}
    assert len(inputs(ctx)) == 1


def test_a_key_older_than_a_day_names_a_new_job(alice: Caller, ctx: Context) -> None:
    first = post(alice.client, "daily").json()
    day_ago = utcnow(-IDEMPOTENCY_SECONDS - 60)
    in_transaction(
        ctx.engine,
        lambda c: c.execute(
            update(jobs).where(jobs.c.id == first["id"]).values(created_at=day_ago)
        ),
    )
    later = post(alice.client, "daily", iris_csv(4))
    assert later.status_code == 201, later.text
    assert later.json()["id"] != first["id"]
    assert post(alice.client, "daily", iris_csv(4)).json()["id"] == later.json()["id"]


def test_a_refused_upload_does_not_use_up_its_key(alice: Caller, ctx: Context) -> None:
    refused = post(alice.client, "k1", "colour,size\nred,3\n")
    assert refused.status_code == 422, refused.text
    assert inputs(ctx) == []
    assert post(alice.client, "k1").status_code == 201


def test_a_deleted_job_frees_its_key(alice: Caller) -> None:
    first = post(alice.client, "k2").json()
    assert alice.client.delete(first["url"]).status_code == 204
    again = post(alice.client, "k2")
    assert again.status_code == 201 and again.json()["id"] != first["id"]


def test_a_malformed_key_is_refused_before_the_upload_is_kept(alice: Caller, ctx: Context) -> None:
    for bad in ("", "x" * 256, "clé".encode(), "tab\there"):
        refused = post(alice.client, bad)
        assert refused.status_code == 422, (bad, refused.text)
        assert refused.json()["error"]["message"] == (
            "The Idempotency-Key header must be 1 to 255 printable ASCII characters "
            "(a UUID is usual)."
        )
    assert inputs(ctx) == [] and all_jobs(ctx) == []


def test_a_train_job_is_idempotent_too_and_a_key_belongs_to_one_route(
    admin: Caller, ctx: Context
) -> None:
    iris = (Path(__file__).parents[2] / "examples" / "iris.csv").read_text()
    train = "/api/models/iris/train"
    first = post(admin.client, "t1", iris, train, "iris.csv")
    again = post(admin.client, "t1", iris, train, "iris.csv")
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["id"] == first.json()["id"] and again.json()["kind"] == "train"
    learn = post(admin.client, "t1", iris, "/api/models/iris/data", "iris.csv")
    assert learn.status_code == 422 and "different request" in learn.json()["error"]["message"]
    assert len(all_jobs(ctx)) == 1

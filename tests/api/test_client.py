"""batchscore.client against a live server: submit, wait with progress, download, predict,
cancel and retry, a submit retried after a lost answer, webhooks verified."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2
import openpyxl
import pytest
from webhook_receiver import receiving

from batchscore.client import ApiError, BadSignature, Client, Job, JobEnded, verify_webhook
from batchscore.config import Settings
from batchscore.scheduler.context import Context
from batchscore.scheduler.processor import process_one
from batchscore.scheduler.webhooks import deliver_due

if TYPE_CHECKING:
    from api.conftest import Caller

pytestmark = pytest.mark.network  # a real server on loopback

IRIS = Path(__file__).parents[2] / "examples" / "iris.csv"
SETOSA = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, webhook_allow_private=True)


@pytest.fixture
def client(base_url: str, alice: Caller) -> Iterator[Client]:
    with Client(base_url, alice.token) as connected:
        yield connected


def process_soon(ctx: Context, job_id: int) -> threading.Thread:
    """Process the job in the background, as a worker would."""
    thread = threading.Thread(target=process_one, args=(ctx,), kwargs={"job_id": job_id})
    thread.start()
    return thread


def test_submit_wait_with_progress_and_download_the_workbook(
    client: Client, ctx: Context, tmp_path: Path
) -> None:
    job = client.submit(IRIS, model="iris")
    assert (job.status, job.filename, job.model) == ("PENDING", "iris.csv", "iris")
    seen: list[Job] = []
    worker = process_soon(ctx, job.id)
    done = client.wait(job.id, poll_seconds=0.05, on_progress=seen.append)
    worker.join()
    assert (done.status, done.rows_total, done.progress) == ("PROCESSED", 150, 1.0)
    assert seen[-1] == done and all(j.id == job.id for j in seen)
    saved = client.download(job.id, tmp_path)
    assert saved == tmp_path / "iris-predictions.xlsx"  # the name the server gives it
    sheet = openpyxl.load_workbook(saved, read_only=True).active
    assert sheet is not None and sheet.max_row == 151
    assert list(tmp_path.glob("*.part")) == []
    assert client.download(job.id, tmp_path / "mine.xlsx").name == "mine.xlsx"


def test_a_submit_whose_answer_is_lost_is_sent_again_and_finds_the_first_job(
    base_url: str, alice: Caller, ctx: Context
) -> None:
    real = httpx2.HTTPTransport()
    lost: list[int] = []

    class LoseTheFirstAnswer(httpx2.BaseTransport):
        """The server gets the upload and answers; the answer never comes back (once)."""

        def handle_request(self, request: httpx2.Request) -> httpx2.Response:
            response = real.handle_request(request)
            if request.method == "POST" and not lost:
                response.read()
                response.close()
                lost.append(response.status_code)
                raise httpx2.ReadError("connection reset", request=request)
            return response

    with real, Client(base_url, alice.token, transport=LoseTheFirstAnswer()) as flaky:
        job = flaky.submit(IRIS)
        assert lost == [201]  # the first one made the job
        assert [j.id for j in flaky.jobs()] == [job.id]


def test_predict_one_record_and_a_list(client: Client) -> None:
    one = client.predict("iris", SETOSA)
    assert (one["model"], one["prediction"]) == ("iris", "setosa")
    many = client.predict("iris", [SETOSA, {**SETOSA, "petal_length": 6.0, "petal_width": 2.5}])
    assert [p["prediction"] for p in many["predictions"]] == ["setosa", "virginica"]


def test_cancel_then_download_says_so_then_retry(client: Client, tmp_path: Path) -> None:
    job = client.submit(IRIS)
    assert client.cancel(job.id).status == "CANCELLED"
    folder = tmp_path / "results"
    folder.mkdir()
    with pytest.raises(JobEnded, match=f"Job {job.id} CANCELLED"):
        client.download(job.id, folder)
    assert client.retry(job.id).status == "PENDING"
    assert list(folder.iterdir()) == []


def test_a_refusal_is_an_api_error_in_the_servers_words(client: Client) -> None:
    with pytest.raises(ApiError) as refused:
        client.predict("no-such-model", SETOSA)
    assert (refused.value.status, refused.value.code) == (404, "not_found")
    assert "no-such-model" in refused.value.message
    with pytest.raises(ApiError) as unscorable:
        client.submit(IRIS, model="iris", output_format="docx")
    assert unscorable.value.status == 422 and "docx" in unscorable.value.message


def test_wait_gives_up_after_its_timeout(client: Client) -> None:
    job = client.submit(IRIS)
    with pytest.raises(TimeoutError, match=f"Job {job.id} is still PENDING after 0.2 s"):
        client.wait(job.id, timeout=0.2, poll_seconds=0.05)


def test_a_webhook_is_verified_with_the_secret_the_client_reads(
    client: Client, ctx: Context
) -> None:
    with receiving(200) as receiver:
        job = client.submit(IRIS, callback_url=receiver.url)
        process_one(ctx, job_id=job.id)
        deliver_due(ctx)
        [hook] = receiver.received
    secret = client.webhook()["secret"]
    verify_webhook(secret, hook.body, hook.headers["Batchscore-Signature"])
    with pytest.raises(BadSignature):
        verify_webhook(secret, hook.body + b"x", hook.headers["Batchscore-Signature"])
    assert [d["status"] for d in client.deliveries(job.id)] == ["DELIVERED"]
    assert client.set_webhook(receiver.url)["callback_url"] == receiver.url

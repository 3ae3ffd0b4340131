"""The API with INPUT_DIR/OUTPUT_DIR in a bucket on a real S3-compatible server (moto):
upload, process, download, delete behave as on local folders."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.parquet as pq
import pytest
from factories import iris_csv, submit
from panel_client import PanelClient
from results import xlsx_rows
from s3_server import Bucket, in_bucket

from batchscore.config import OUTPUT_FORMATS, Settings
from batchscore.scheduler.context import Context
from batchscore.scheduler.processor import process_one

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs, Serve

FLOWERS = iris_csv(3).replace("5.1,3.5,1.4,0.2\n", "6.7,3.0,5.2,2.3\n", 1)


@pytest.fixture
def settings(settings: Settings, bucket: Bucket) -> Settings:
    """Every fixture built on `settings` (ctx, the server, the callers) uses the bucket."""
    return in_bucket(settings, bucket.endpoint)


def table(data: bytes, output_format: str) -> object:
    """A result's content, without what differs between two writes (xlsx timestamps)."""
    if output_format == "xlsx":
        return xlsx_rows(data)
    if output_format == "parquet":
        return pq.read_table(io.BytesIO(data)).to_pylist()
    return data


def scored_locally(settings: Settings, tmp_path: Path, output_format: str) -> bytes:
    """FLOWERS scored with the same database and model, on local folders."""
    local = replace(
        settings, input_dir=str(tmp_path / "local-in"), output_dir=str(tmp_path / "local-out")
    )
    ctx = Context.from_settings(local)
    try:
        job = submit(ctx, FLOWERS, "flowers.csv", output_format=output_format)
        done = process_one(ctx, job_id=job.id)
        assert done is not None and done.output_name is not None
        return Path(local.output_dir, done.output_name).read_bytes()
    finally:
        ctx.engine.dispose()


@pytest.mark.parametrize("output_format", OUTPUT_FORMATS)
def test_upload_process_download_gives_the_local_result(
    alice: Caller,
    jobs: Jobs,
    bucket: Bucket,
    settings: Settings,
    tmp_path: Path,
    output_format: str,
) -> None:
    uploaded = jobs.upload(alice, FLOWERS, "flowers.csv", format=output_format)
    assert uploaded.status_code == 201, uploaded.text
    job_id = uploaded.json()["id"]
    done = alice.client.post("/process_file", params={"id": job_id})
    assert done.json()["status"] == "PROCESSED", done.text
    result = alice.client.get(f"/api/jobs/{job_id}/result")
    assert result.status_code == 200, result.text
    assert result.headers["content-disposition"] == (
        f'attachment; filename="flowers-predictions.{output_format}"'
    )
    assert int(result.headers["content-length"]) == len(result.content)
    expected = scored_locally(settings, tmp_path, output_format)
    assert table(result.content, output_format) == table(expected, output_format)
    job = jobs.get(job_id)
    assert bucket.keys() == [f"input/{job.input_name}", f"output/{job.output_name}"]
    assert bucket.read(f"input/{job.input_name}") == FLOWERS.encode()
    assert list(settings.cache_dir.iterdir()) == []  # the local copies are gone


def test_job_page_previews_a_result_in_the_bucket(
    alice: Caller, jobs: Jobs, panel: PanelClient
) -> None:
    job = jobs.make(alice, "PROCESSED")
    panel.sign_in("alice")
    page = panel.http.get(f"/jobs/{job.id}")
    assert page.status_code == 200
    assert "setosa" in page.text and "cannot be read" not in page.text


def test_delete_removes_the_objects(alice: Caller, jobs: Jobs, bucket: Bucket) -> None:
    job = jobs.make(alice, "PROCESSED")
    assert len(bucket.keys()) == 2
    assert alice.client.delete(f"/api/jobs/{job.id}").status_code == 204
    assert bucket.keys() == []


def test_failed_job_keeps_its_input(alice: Caller, jobs: Jobs, bucket: Bucket) -> None:
    job = jobs.make_unscorable(alice)
    done = alice.client.post("/process_file", params={"id": job.id})
    assert done.json()["status"] == "FAILED"
    assert bucket.keys() == [f"input/{job.input_name}"]


@pytest.mark.parametrize("content", [b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, b"x,y\n1,2\n"])
def test_refused_upload_leaves_no_object(
    alice: Caller, jobs: Jobs, bucket: Bucket, content: bytes
) -> None:
    assert jobs.upload(alice, content).status_code == 422
    assert (bucket.keys(), bucket.open_uploads()) == ([], [])


def test_upload_over_the_size_limit_leaves_no_object(
    alice: Caller, settings: Settings, bucket: Bucket, serve: Serve
) -> None:
    limit = 9 * 1024 * 1024  # past one multipart part
    client = serve(replace(settings, max_upload_bytes=limit), alice)
    data = iris_csv(limit // 16 + 1).encode()
    response = client.post("/api/jobs", files={"file": ("big.csv", data, "text/csv")})
    assert response.status_code == 413, response.text
    assert (bucket.keys(), bucket.open_uploads()) == ([], [])

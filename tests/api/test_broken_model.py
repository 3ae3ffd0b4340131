"""A model file deleted or damaged under a live server: jobs fail with a reason, the API lives."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from factories import iris_csv

from batchscore.config import Settings

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Serve


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        ("missing", "has no model.skops. Re-save the model."),
        ("corrupt", "is corrupt or not a skops file"),
    ],
)
def test_broken_model_fails_the_job_and_the_api_stays_up(
    alice: Caller, settings: Settings, serve: Serve, tmp_path: Path, damage: str, reason: str
) -> None:
    models = tmp_path / "models"
    shutil.copytree(settings.model_dir, models)
    client = serve(replace(settings, model_dir=models), alice)
    upload = {"file": ("flowers.csv", iris_csv(2), "text/csv")}
    created = client.post("/api/jobs", files=upload)
    assert created.status_code == 201, created.text
    artifact = models / "iris" / "1" / "model.skops"
    good = artifact.read_bytes()
    if damage == "missing":
        artifact.unlink()
    else:
        artifact.write_bytes(b"PK\x03\x04" + b"\x00" * 100)

    job = client.post("/process_file", params={"id": created.json()["id"]}).json()

    assert job["status"] == "FAILED" and reason in job["error"], job
    refused = client.post("/api/jobs", files=upload)
    assert refused.status_code == 503, refused.text
    assert reason in refused.json()["error"]["message"]
    assert len(list(Path(settings.input_dir).iterdir())) == 1  # the refused upload is not kept
    assert client.get("/health").status_code == 200
    artifact.write_bytes(good)  # the operator restores the model: the job can be retried
    assert client.post(f"/api/jobs/{job['id']}/retry").status_code == 200
    again = client.post("/process_file", params={"id": job["id"]}).json()
    assert (again["status"], again["rows_total"]) == ("PROCESSED", 2)

"""The live server answers, and an upload goes all the way to a downloaded xlsx."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import httpx2
import openpyxl
from factories import IRIS_ROW, iris_csv
from predicting import predicted_probability

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller


def test_health_needs_no_token(anonymous: httpx2.Client) -> None:
    response = anonymous.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_upload_process_download(alice: Caller) -> None:
    created = alice.client.post("/api/jobs", files={"file": ("iris.csv", iris_csv(3), "text/csv")})
    assert created.status_code == 201, created.text
    job = created.json()
    done = alice.client.post("/process_file", params={"id": job["id"]})
    assert done.status_code == 200 and done.json()["status"] == "PROCESSED", done.text
    result = alice.client.get(done.json()["result_url"])
    assert result.headers["content-disposition"] == 'attachment; filename="iris-predictions.xlsx"'
    sheet = openpyxl.load_workbook(io.BytesIO(result.content)).active
    assert sheet is not None
    probability = predicted_probability(alice.client, IRIS_ROW)
    assert [c.value for c in sheet[2]] == [5.1, 3.5, 1.4, 0.2, "setosa", probability, None, None]

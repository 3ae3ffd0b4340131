"""Every answer is traceable and safe: JSON errors without tracebacks, an X-Request-ID always."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx2
import pytest
from factories import csv_text

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from api.conftest import Caller, Jobs

GENERATED_ID = re.compile(r"[0-9a-f]{16}")


@dataclass(frozen=True)
class Scene:
    alice: Caller
    anonymous: httpx2.Client
    jobs: Jobs


Send = Callable[[Scene, dict[str, str]], httpx2.Response]  # (scene, extra headers) → response


@pytest.fixture
def scene(alice: Caller, anonymous: httpx2.Client, jobs: Jobs) -> Scene:
    return Scene(alice, anonymous, jobs)


def _result_file_gone(s: Scene, headers: dict[str, str]) -> httpx2.Response:
    job = s.jobs.make(s.alice, "PROCESSED")
    s.jobs.files(job)[-1].unlink()  # an operator cleaned the output folder by hand
    return s.alice.client.get(f"/api/jobs/{job.id}/result", headers=headers)


def _broken_multipart(s: Scene, headers: dict[str, str]) -> httpx2.Response:
    headers = {**headers, "Content-Type": "multipart/form-data; boundary=xyz"}
    return s.alice.client.post("/api/jobs", content=b"--xyz\r\nno end", headers=headers)


def _missing_columns(s: Scene, headers: dict[str, str]) -> httpx2.Response:
    files = {"file": ("d.csv", csv_text([["1"]], header=["x"]), "text/csv")}
    return s.alice.client.post("/api/jobs", files=files, headers=headers)


def _retry_pending(s: Scene, headers: dict[str, str]) -> httpx2.Response:
    return s.alice.client.post(f"/api/jobs/{s.jobs.make(s.alice).id}/retry", headers=headers)


def _unknown_job(s: Scene, headers: dict[str, str]) -> httpx2.Response:
    return s.alice.client.get(f"/api/jobs/{s.jobs.unknown_id()}", headers=headers)


def _result(s: Scene, headers: dict[str, str]) -> httpx2.Response:
    job = s.jobs.make(s.alice, "PROCESSED")
    return s.alice.client.get(f"/api/jobs/{job.id}/result", headers=headers)


def _delete(s: Scene, headers: dict[str, str]) -> httpx2.Response:
    return s.alice.client.delete(f"/api/jobs/{s.jobs.make(s.alice).id}", headers=headers)


ERRORS: dict[str, Send] = {
    "no-token": lambda s, h: s.anonymous.get("/api/jobs", headers=h),
    "unknown-path": lambda s, h: s.alice.client.get("/api/nothing-here", headers=h),
    "unknown-job": _unknown_job,
    "method-not-allowed": lambda s, h: s.alice.client.put("/api/jobs", headers=h),
    "bad-query": lambda s, h: s.alice.client.get("/api/jobs?limit=x", headers=h),
    "missing-columns": _missing_columns,
    "broken-multipart": _broken_multipart,
    "retry-pending": _retry_pending,
    "result-file-gone": _result_file_gone,
    "out-of-range-id": lambda s, h: s.alice.client.get(f"/api/jobs/{'9' * 20}", headers=h),
}
SUCCESSES: dict[str, Send] = {
    "health": lambda s, h: s.anonymous.get("/health", headers=h),
    "list": lambda s, h: s.alice.client.get("/api/jobs", headers=h),
    "models": lambda s, h: s.alice.client.get("/api/models", headers=h),
    "result": _result,
    "delete": _delete,
    "process-all": lambda s, h: s.alice.client.post("/process_all", headers=h),
}
EVERY = {**ERRORS, **SUCCESSES}


@pytest.mark.parametrize("send", ERRORS.values(), ids=ERRORS.keys())
def test_error_is_json_without_traceback(scene: Scene, send: Send) -> None:
    response = send(scene, {})
    assert response.status_code >= 400
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert isinstance(error["code"], str) and isinstance(error["message"], str)


@pytest.mark.parametrize("send", EVERY.values(), ids=EVERY.keys())
def test_response_carries_a_request_id(scene: Scene, send: Send) -> None:
    response = send(scene, {})
    assert response.headers.get("x-request-id") is not None, response
    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


@pytest.mark.parametrize("send", EVERY.values(), ids=EVERY.keys())
def test_sane_request_id_is_echoed(scene: Scene, send: Send) -> None:
    response = send(scene, {"X-Request-ID": "client-42.run_7"})
    assert response.headers.get("x-request-id") == "client-42.run_7", response


@pytest.mark.parametrize(
    "incoming",
    ["two words", pytest.param("x" * 65, id="65-characters"), "a/b", "<script>", "id;drop"],
)
def test_unsafe_request_id_is_replaced(anonymous: httpx2.Client, incoming: str) -> None:
    response = anonymous.get("/health", headers={"X-Request-ID": incoming})
    assert GENERATED_ID.fullmatch(response.headers["x-request-id"])


def test_each_request_gets_its_own_id(anonymous: httpx2.Client) -> None:
    ids = {anonymous.get("/health").headers["x-request-id"] for _ in range(3)}
    assert len(ids) == 3

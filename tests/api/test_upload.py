"""POST /api/jobs: a CSV upload becomes a PENDING job, or is refused with a reason and not kept."""

from __future__ import annotations

import csv
import gzip
import io
import socket
import time
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2
import openpyxl
import pandas as pd
import pyarrow.parquet as pq
import pytest
from factories import IRIS_HEADER, IRIS_ROW, csv_text, iris_csv
from predicting import predicted_probability

from batchscore.config import Settings

pytestmark = pytest.mark.network  # streamed bodies, cut-off forms and disconnects

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from pathlib import Path

    from api.conftest import Caller, Jobs, Serve

FEATURES = "sepal_length, sepal_width, petal_length, petal_width"
NO_FILE_MESSAGE = "Send the CSV file as the multipart form field 'file'."
SMALL_LIMIT = 1000  # bytes, for the upload-limit server


def _stored(settings: Settings) -> list[Path]:
    """Everything in the input folder, hidden part files included."""
    return sorted(Path(settings.input_dir).iterdir())


def _refusal(response: httpx2.Response) -> tuple[int, str, str]:
    error = response.json()["error"]
    return response.status_code, error["code"], error["message"]


def test_upload_creates_pending_job(alice: Caller, jobs: Jobs) -> None:
    response = jobs.upload(alice, iris_csv(3), filename="flowers.csv")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "PENDING"
    assert body["filename"] == "flowers.csv"
    assert (body["model"], body["output_format"]) == ("iris", "xlsx")
    assert jobs.get(body["id"]).owner_id == alice.user.id


def test_upload_location_is_the_jobs_url(alice: Caller, jobs: Jobs) -> None:
    response = jobs.upload(alice)
    job_id = response.json()["id"]
    assert response.headers["location"] == response.json()["url"]
    assert response.headers["location"] == str(alice.client.base_url.join(f"/api/jobs/{job_id}"))
    assert alice.client.get(response.headers["location"]).json()["id"] == job_id


def test_upload_stores_the_file_as_sent(alice: Caller, jobs: Jobs) -> None:
    content = iris_csv(4)
    job_id = jobs.upload(alice, content).json()["id"]
    (stored,) = jobs.files(jobs.get(job_id))
    assert stored.read_text() == content


@pytest.mark.parametrize(
    ("model", "prediction"), [("iris", "setosa"), ("petal_size", "short"), ("", "setosa")]
)
def test_upload_model_field_chooses_the_model(
    alice: Caller,
    settings: Settings,
    serve: Serve,
    two_model_dir: Path,
    model: str,
    prediction: str,
) -> None:
    client = serve(replace(settings, model_dir=two_model_dir), alice)
    files = {"file": ("data.csv", iris_csv(1), "text/csv")}
    created = client.post("/api/jobs", files=files, data={"model": model, "format": "csv"})
    assert created.status_code == 201, created.text
    assert created.json()["model"] == (model or "iris")
    done = client.post("/process_file", params={"id": created.json()["id"]}).json()
    assert done["status"] == "PROCESSED", done
    rows = list(csv.DictReader(io.StringIO(client.get(done["result_url"]).text)))
    assert [row["prediction"] for row in rows] == [prediction]


def test_upload_checks_columns_of_the_chosen_model(
    alice: Caller, settings: Settings, serve: Serve, two_model_dir: Path
) -> None:
    client = serve(replace(settings, model_dir=two_model_dir), alice)
    petals_only = csv_text([("1.4", "0.2")], header=("petal_length", "petal_width"))
    files = {"file": ("petals.csv", petals_only, "text/csv")}
    assert client.post("/api/jobs", files=files, data={"model": "petal_size"}).status_code == 201
    refused = client.post("/api/jobs", files=files, data={"model": "iris"})
    assert _refusal(refused) == (
        422,
        "invalid_input",
        f"Missing column(s) sepal_length, sepal_width. Model iris v1 needs: {FEATURES}. "
        "The file has: petal_length, petal_width. These columns fit model petal_size: choose "
        "it instead.",
    )


def test_upload_csv_format_gives_csv_result(alice: Caller, jobs: Jobs) -> None:
    created = jobs.upload(alice, iris_csv(2), filename="flowers.csv", format="csv")
    assert created.status_code == 201, created.text
    assert created.json()["output_format"] == "csv"
    done = alice.client.post("/process_file", params={"id": created.json()["id"]}).json()
    result = alice.client.get(done["result_url"])
    assert result.headers["content-type"] == "text/csv; charset=utf-8"
    assert result.headers["content-disposition"] == (
        'attachment; filename="flowers-predictions.csv"'
    )
    rows = list(csv.reader(io.StringIO(result.text)))
    probability = repr(predicted_probability(alice.client, IRIS_ROW))  # every digit
    assert rows == [
        [*IRIS_HEADER, "prediction", "probability", "warning", "error"],
        [*IRIS_ROW, "setosa", probability, "", ""],
        [*IRIS_ROW, "setosa", probability, "", ""],
    ]


def test_upload_parquet_format_gives_parquet_result(alice: Caller, jobs: Jobs) -> None:
    created = jobs.upload(alice, iris_csv(2), filename="flowers.csv", format="parquet")
    assert created.status_code == 201, created.text
    done = alice.client.post("/process_file", params={"id": created.json()["id"]}).json()
    assert (done["status"], done["output_format"], done["result_sheets"]) == (
        "PROCESSED",
        "parquet",
        1,
    )
    result = alice.client.get(done["result_url"])
    assert result.headers["content-type"] == "application/vnd.apache.parquet"
    assert result.headers["content-disposition"] == (
        'attachment; filename="flowers-predictions.parquet"'
    )
    table = pq.read_table(io.BytesIO(result.content))
    assert table.column_names == [*IRIS_HEADER, "prediction", "probability", "warning", "error"]
    assert table.to_pylist()[0] == {
        **dict(zip(IRIS_HEADER, map(float, IRIS_ROW), strict=True)),  # numbers typed
        "prediction": "setosa",
        "probability": predicted_probability(alice.client, IRIS_ROW),
        "warning": None,
        "error": None,
    }


@pytest.mark.parametrize(
    ("header", "missing", "found"),
    [
        (
            ("sepal_length", "sepal_width", "petal_length", "colour"),
            "petal_width",
            "sepal_length, sepal_width, petal_length, colour",
        ),
        (("petal_width", "sepal_width"), "sepal_length, petal_length", "petal_width, sepal_width"),
        (("a;b",), FEATURES, "a, b"),
    ],
)
def test_upload_missing_columns_is_refused_with_reason(
    alice: Caller,
    jobs: Jobs,
    settings: Settings,
    header: tuple[str, ...],
    missing: str,
    found: str,
) -> None:
    content = csv_text([["1"] * len(header)], header=header)
    response = jobs.upload(alice, content)
    assert _refusal(response) == (
        422,
        "invalid_input",
        f"Missing column(s) {missing}. Model iris v1 needs: {FEATURES}. The file has: {found}.",
    )
    assert _stored(settings) == []


@pytest.mark.parametrize("content", [b"", b"\n", b"  \r\n\n"])
def test_upload_empty_file_is_refused_with_reason(
    alice: Caller, jobs: Jobs, settings: Settings, content: bytes
) -> None:
    response = jobs.upload(alice, content)
    assert _refusal(response) == (
        422,
        "invalid_input",
        "The file is empty. A CSV file needs a header line naming its columns, "
        "then one line per row.",
    )
    assert _stored(settings) == []


@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_a_csv_excel_saved_on_windows_is_read_in_its_encoding(
    alice: Caller, jobs: Jobs, encoding: str
) -> None:
    notes = ["Köln", "café 5 €"] if encoding == "cp1252" else ["Köln", "señor"]
    content = csv_text([[*IRIS_ROW, n] for n in notes], header=(*IRIS_HEADER, "note"))
    created = jobs.upload(alice, content.replace("\n", "\r\n").encode(encoding), format="csv")
    assert created.status_code == 201, created.text
    done = alice.client.post("/process_file", params={"id": created.json()["id"]}).json()
    rows = list(csv.reader(io.StringIO(alice.client.get(done["result_url"]).text)))
    assert [row[4] for row in rows[1:]] == notes  # the result is UTF-8, accents and all
    assert {row[5] for row in rows[1:]} == {"setosa"}


def test_a_gzip_or_zip_of_one_csv_scores_like_the_csv(alice: Caller, jobs: Jobs) -> None:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("flowers.csv", iris_csv(3))
    for content, name in (
        (gzip.compress(iris_csv(3).encode()), "flowers.csv.gz"),
        (packed.getvalue(), "flowers.zip"),
    ):
        created = jobs.upload(alice, content, filename=name, format="csv")
        assert created.status_code == 201, created.text
        done = alice.client.post("/process_file", params={"id": created.json()["id"]}).json()
        assert (done["status"], done["rows_total"], done["rows_failed"]) == ("PROCESSED", 3, 0)


def test_a_zip_of_several_files_is_refused_saying_so(
    alice: Caller, jobs: Jobs, settings: Settings
) -> None:
    packed = io.BytesIO()
    with zipfile.ZipFile(packed, "w") as archive:
        archive.writestr("a.csv", iris_csv(1))
        archive.writestr("b.csv", iris_csv(1))
    response = jobs.upload(alice, packed.getvalue(), filename="two.zip")
    assert _refusal(response) == (
        422,
        "invalid_input",
        "This zip archive holds 2 files; batchscore reads an archive of one CSV file. Upload "
        "the CSV files one by one.",
    )
    assert _stored(settings) == []


def test_upload_unknown_model_is_not_found(alice: Caller, jobs: Jobs, settings: Settings) -> None:
    response = jobs.upload(alice, model="nosuch")
    assert _refusal(response) == (
        404,
        "not_found",
        "Model 'nosuch' not found. Available models: iris.",
    )
    assert _stored(settings) == []


@pytest.mark.parametrize(
    "model", ["../iris", "iris/1", "-iris", pytest.param("x" * 65, id="65-characters")]
)
def test_upload_invalid_model_name_is_refused_as_input(
    alice: Caller, jobs: Jobs, settings: Settings, model: str
) -> None:
    response = jobs.upload(alice, model=model)
    assert _refusal(response) == (
        422,
        "invalid_input",
        f"Invalid model name {model!r}: use 1-64 letters, digits, '_', '.' or '-', "
        "starting with a letter or digit.",
    )
    assert _stored(settings) == []


@pytest.mark.parametrize("fmt", ["pdf", "XLSX", "json"])
def test_upload_unknown_format_is_refused(
    alice: Caller, jobs: Jobs, settings: Settings, fmt: str
) -> None:
    response = jobs.upload(alice, format=fmt)
    assert _refusal(response) == (
        422,
        "invalid_input",
        f"Unknown output format {fmt!r}; choose one of xlsx, csv, parquet.",
    )
    assert _stored(settings) == []


@pytest.mark.parametrize(
    "request_kw",
    [
        pytest.param({"data": {"model": "iris"}}, id="form-without-file"),
        pytest.param({"files": {"upload": ("d.csv", iris_csv(1))}}, id="file-under-other-name"),
        pytest.param({"files": {"file": (None, iris_csv(1))}}, id="file-as-plain-field"),
        pytest.param({"json": {"file": iris_csv(1)}}, id="json-body"),
        pytest.param({"content": iris_csv(1).encode()}, id="raw-body"),
        pytest.param({}, id="no-body"),
    ],
)
def test_upload_without_file_field_is_refused(
    alice: Caller, settings: Settings, request_kw: dict[str, object]
) -> None:
    response = alice.client.post("/api/jobs", **request_kw)  # type: ignore[arg-type]
    assert _refusal(response) == (422, "invalid_input", NO_FILE_MESSAGE)
    assert _stored(settings) == []


def test_upload_at_the_size_limit_is_accepted(
    alice: Caller, settings: Settings, serve: Serve
) -> None:
    client = serve(replace(settings, max_upload_bytes=SMALL_LIMIT), alice)
    content = iris_csv(1).ljust(SMALL_LIMIT - 1) + "\n"  # padding spaces end the last row
    assert len(content) == SMALL_LIMIT
    response = client.post("/api/jobs", files={"file": ("data.csv", content, "text/csv")})
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("size", "message"),
    [
        (SMALL_LIMIT + 1, "big.csv is larger than the upload limit of 1,000 bytes."),
        (200_000, "The upload is larger than the limit of 1,000 bytes."),
    ],
)
def test_upload_over_the_size_limit_is_too_large(
    alice: Caller, settings: Settings, serve: Serve, size: int, message: str
) -> None:
    client = serve(replace(settings, max_upload_bytes=SMALL_LIMIT), alice)
    content = iris_csv(1) + "5.0,3.0,1.5,0.2\n" * size
    response = client.post("/api/jobs", files={"file": ("big.csv", content[:size], "text/csv")})
    assert _refusal(response) == (413, "too_large", message)
    assert _stored(settings) == []


def _multipart(*parts: tuple[str, str | None, bytes], boundary: str = "b0undary") -> bytes:
    """A multipart body with the parts in the order given: (name, filename or None, content)."""
    body = b""
    for name, filename, content in parts:
        disposition = f'form-data; name="{name}"'
        if filename is not None:
            disposition += f'; filename="{filename}"'
        body += f"--{boundary}\r\nContent-Disposition: {disposition}\r\n\r\n".encode()
        body += content + b"\r\n"
    return body + f"--{boundary}--\r\n".encode()


def _post_multipart(alice: Caller, body: bytes) -> httpx2.Response:
    headers = {"Content-Type": "multipart/form-data; boundary=b0undary"}
    return alice.client.post("/api/jobs", content=body, headers=headers)


def test_upload_fields_may_follow_the_file(alice: Caller, settings: Settings) -> None:
    body = _multipart(
        ("file", "late.csv", iris_csv(2).encode()), ("format", None, b"csv"), ("extra", None, b"x")
    )
    response = _post_multipart(alice, body)
    assert response.status_code == 201, response.text
    assert (response.json()["filename"], response.json()["output_format"]) == ("late.csv", "csv")
    (stored,) = _stored(settings)
    assert stored.read_text() == iris_csv(2)


def test_upload_of_two_files_is_refused(alice: Caller, settings: Settings) -> None:
    part = ("file", "a.csv", iris_csv(1).encode())
    response = _post_multipart(alice, _multipart(part, part))
    assert _refusal(response) == (
        422,
        "invalid_input",
        "Send one file only in the form field 'file'.",
    )
    assert _stored(settings) == []


def test_upload_with_an_overlong_field_is_refused(alice: Caller, settings: Settings) -> None:
    body = _multipart(("model", None, b"m" * 5000), ("file", "a.csv", iris_csv(1).encode()))
    response = _post_multipart(alice, body)
    assert _refusal(response) == (422, "invalid_input", "A form field is longer than 4096 bytes.")
    assert _stored(settings) == []


def test_upload_cut_off_before_the_form_ends_is_refused(alice: Caller, settings: Settings) -> None:
    body = _multipart(("file", "a.csv", iris_csv(3).encode()))
    response = _post_multipart(alice, body[: len(body) // 2])
    assert _refusal(response) == (422, "invalid_input", NO_FILE_MESSAGE)
    assert _stored(settings) == []


def test_upload_interrupted_by_the_client_leaves_nothing(
    alice: Caller, settings: Settings, base_url: str
) -> None:
    """A client that vanishes mid-body: the part file is removed, the server stays up."""
    body = _multipart(("file", "gone.csv", iris_csv(200_000).encode()))  # 3 MB
    url = httpx2.URL(base_url)
    with socket.create_connection((url.host, url.port or 80)) as connection:
        connection.sendall(
            b"POST /api/jobs HTTP/1.1\r\nHost: test\r\n"
            + f"Authorization: Bearer {alice.token}\r\n".encode()
            + b"Content-Type: multipart/form-data; boundary=b0undary\r\n"
            + f"Content-Length: {len(body)}\r\n\r\n".encode()
            + body[: len(body) // 2]
        )
        deadline = time.monotonic() + 10
        while not any(p.name.endswith(".part") for p in _stored(settings)):
            assert time.monotonic() < deadline, "the upload never reached the input folder"
            time.sleep(0.01)
    deadline = time.monotonic() + 10
    while _stored(settings):
        assert time.monotonic() < deadline, _stored(settings)
        time.sleep(0.01)
    assert alice.client.get("/api/jobs").json()["jobs"] == []


@pytest.mark.parametrize(("fields", "note"), [({}, "'=1+2"), ({"keep_formulas": "true"}, "=1+2")])
def test_csv_result_neutralises_formulas_unless_asked_to_keep_them(
    alice: Caller, jobs: Jobs, fields: dict[str, str], note: str
) -> None:
    content = csv_text([(*IRIS_ROW, "=1+2")], header=(*IRIS_HEADER, "note"))
    created = jobs.upload(alice, content, format="csv", **fields)
    assert created.status_code == 201, created.text
    done = alice.client.post("/process_file", params={"id": created.json()["id"]}).json()
    rows = list(csv.reader(io.StringIO(alice.client.get(done["result_url"]).text)))
    assert rows[1][4] == note


def test_a_csv_as_spanish_excel_saves_it_scores_like_its_utf8_twin(
    alice: Caller, jobs: Jobs
) -> None:
    """';' between fields, decimal commas, CRLF, Windows-1252: Excel's "CSV (delimitado por
    comas)" in a Spanish locale."""
    rows = [("5,1", "3,5", "1,4", "0,2", "España"), ("6,7", "3,0", "5,2", "2,3", "Málaga")]
    spanish = ";".join((*IRIS_HEADER, "ciudad")) + "\r\n"
    spanish += "".join(";".join(row) + "\r\n" for row in rows)
    twin = csv_text([[v.replace(",", ".") for v in row] for row in rows], (*IRIS_HEADER, "ciudad"))

    results = []
    for content in (spanish.encode("cp1252"), twin.encode()):
        created = jobs.upload(alice, content)
        assert created.status_code == 201, created.text
        done = alice.client.post("/process_file", params={"id": created.json()["id"]}).json()
        assert (done["status"], done["rows_failed"]) == ("PROCESSED", 0), done
        book = openpyxl.load_workbook(io.BytesIO(alice.client.get(done["result_url"]).content))
        results.append([tuple(c.value for c in row) for row in book.active.iter_rows()])  # type: ignore[union-attr]

    assert results[0] == results[1]
    assert results[0][1][:7] == (5.1, 3.5, 1.4, 0.2, "España", "setosa", results[0][1][6])


def test_a_parquet_file_from_pandas_scores_like_its_csv_twin(
    alice: Caller, jobs: Jobs, tmp_path: Path
) -> None:
    twin = csv_text([(*IRIS_ROW, "Köln"), ("6.7", "3.0", "5.2", "2.3", "")], (*IRIS_HEADER, "city"))
    frame = pd.read_csv(io.StringIO(twin))  # floats, and text with a missing value
    frame.to_parquet(tmp_path / "flowers.parquet")

    results = []
    for content, name in (
        ((tmp_path / "flowers.parquet").read_bytes(), "flowers.parquet"),
        (twin.encode(), "flowers.csv"),
    ):
        created = jobs.upload(alice, content, filename=name)
        assert created.status_code == 201, created.text
        done = alice.client.post("/process_file", params={"id": created.json()["id"]}).json()
        assert (done["status"], done["rows_total"], done["rows_failed"]) == ("PROCESSED", 2, 0)
        book = openpyxl.load_workbook(io.BytesIO(alice.client.get(done["result_url"]).content))
        results.append([tuple(c.value for c in row) for row in book.active.iter_rows()])  # type: ignore[union-attr]

    assert results[0] == results[1]
    assert results[0][2][:6] == (6.7, 3.0, 5.2, 2.3, None, "virginica")

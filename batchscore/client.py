"""A Python client for batchscore's HTTP API: submit a file, wait for it with progress, download
the result, predict records now, cancel, and check a webhook's signature.

    from batchscore.client import Client

    with Client("http://127.0.0.1:8000", token) as bs:
        job = bs.submit("examples/iris.csv", model="iris")
        job = bs.wait(job.id, on_progress=lambda j: print(f"{j.progress:.0%}"))
        bs.download(job.id, "iris-scored.xlsx")
        bs.predict("iris", {"sepal_length": 5.1, ...})

Every submit carries an Idempotency-Key, so a submit retried after a timeout or a dropped
connection gets the first job back instead of queuing the file twice. Only httpx2 and the
standard library: a program that calls batchscore needs nothing of the server's side.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, BinaryIO

import httpx2

from batchscore.webhook_signing import BadSignature
from batchscore.webhook_signing import verify as verify_webhook

__all__ = ["ApiError", "BadSignature", "Client", "Job", "JobEnded", "verify_webhook"]

ENDED = ("PROCESSED", "FAILED", "CANCELLED")
_RETRIED_STATUSES = (502, 503, 504)  # the server restarting, or its database away


class ApiError(Exception):
    """batchscore refused or failed a request; `status`, `code` and `message` say why."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message


class JobEnded(Exception):
    """The job ended without a result to download (FAILED or CANCELLED); `job` is as it is."""

    def __init__(self, job: Job) -> None:
        super().__init__(f"Job {job.id} {job.status}" + (f": {job.error}" if job.error else ""))
        self.job = job


@dataclass(frozen=True)
class Job:
    """A job as the API shows it; `data` holds every field of its JSON."""

    id: int
    status: str
    filename: str
    model: str
    rows_done: int
    rows_total: int | None
    rows_failed: int
    progress: float
    error: str | None
    url: str
    result_url: str | None
    data: Mapping[str, Any]

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        names = [name for name in cls.__dataclass_fields__ if name != "data"]
        return cls(**{name: data[name] for name in names}, data=data)

    @property
    def ended(self) -> bool:
        return self.status in ENDED


class Client:
    """One batchscore server, as one user (their API token). Use it as a context manager, or
    call close()."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 60.0,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        self._http = httpx2.Client(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def submit(
        self,
        file: str | Path | BinaryIO,
        *,
        model: str | None = None,
        output_format: str | None = None,
        callback_url: str | None = None,
        idempotency_key: str | None = None,
        **fields: str,
    ) -> Job:
        """Upload a data file as a new job (PENDING). `fields` are the upload's other form
        fields (probabilities, encoding, decimal, sheet…). Sent again with the same key if the
        connection fails, so it is queued once."""
        given = {"model": model, "format": output_format, "callback_url": callback_url}
        data = {name: value for name, value in {**given, **fields}.items() if value is not None}
        headers = {"Idempotency-Key": idempotency_key or str(uuid.uuid4())}
        if isinstance(file, str | Path):
            path = Path(file)
            with path.open("rb") as opened:
                return self._submit(path.name, opened, data, headers)
        return self._submit(Path(getattr(file, "name", "upload.csv")).name, file, data, headers)

    def _submit(
        self, name: str, file: BinaryIO, data: dict[str, str], headers: dict[str, str]
    ) -> Job:
        start = file.tell()

        def send() -> httpx2.Response:
            file.seek(start)
            return self._http.post(
                "/api/jobs", files={"file": (name, file)}, data=data, headers=headers
            )

        return Job.from_json(self._json(self._retrying(send)))

    def job(self, job_id: int) -> Job:
        return Job.from_json(
            self._json(self._retrying(lambda: self._http.get(f"/api/jobs/{job_id}")))
        )

    def jobs(self, *, status: str | None = None, limit: int = 50) -> list[Job]:
        """Your jobs, newest first."""
        params = {"limit": str(limit)} | ({"status": status} if status else {})
        answer = self._json(self._retrying(lambda: self._http.get("/api/jobs", params=params)))
        return [Job.from_json(job) for job in answer["jobs"]]

    def wait(
        self,
        job_id: int,
        *,
        timeout: float | None = None,
        poll_seconds: float = 1.0,
        on_progress: Callable[[Job], None] | None = None,
    ) -> Job:
        """Poll the job until it ends; its final state. `on_progress` sees it at each poll.
        TimeoutError if it has not ended within `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if on_progress is not None:
                on_progress(job)
            if job.ended:
                return job
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"Job {job_id} is still {job.status} after {timeout:g} s.")
            time.sleep(poll_seconds)

    def download(self, job_id: int, to: str | Path) -> Path:
        """Save a PROCESSED job's result at `to` (a file, or a folder to put it in under the
        server's name for it); JobEnded if it FAILED or was CANCELLED."""
        job = self.job(job_id)
        if job.status in ("FAILED", "CANCELLED"):
            raise JobEnded(job)
        target = Path(to)
        with self._http.stream("GET", f"/api/jobs/{job_id}/result") as response:
            if response.status_code != 200:
                response.read()
                self._json(response)
            if target.is_dir():
                target = target / _download_name(response, job_id)
            partial = target.with_name(target.name + ".part")
            with partial.open("wb") as out:
                for block in response.iter_bytes():
                    out.write(block)
        partial.replace(target)  # no half-written result under the final name
        return target

    def predict(
        self, model: str, records: Mapping[str, Any] | Sequence[Mapping[str, Any]]
    ) -> dict[str, Any]:
        """Score one record (a dict) or a list of them now, without a job; the API's answer:
        `prediction` and `probabilities` for one, `predictions` for a list."""
        answer: dict[str, Any] = self._json(
            self._retrying(lambda: self._http.post(f"/api/models/{model}/predict", json=records))
        )
        return answer

    def cancel(self, job_id: int) -> Job:
        return Job.from_json(self._json(self._http.post(f"/api/jobs/{job_id}/cancel")))

    def retry(self, job_id: int) -> Job:
        return Job.from_json(self._json(self._http.post(f"/api/jobs/{job_id}/retry")))

    def deliveries(self, job_id: int) -> list[dict[str, Any]]:
        """The job's webhooks: status, attempts, the receiver's last answer."""
        answer = self._json(self._http.get(f"/api/jobs/{job_id}/deliveries"))
        deliveries: list[dict[str, Any]] = answer["deliveries"]
        return deliveries

    def webhook(self) -> dict[str, Any]:
        """Your default callback URL and the secret your webhooks are signed with."""
        answer: dict[str, Any] = self._json(self._http.get("/api/webhook"))
        return answer

    def set_webhook(self, callback_url: str | None) -> dict[str, Any]:
        answer: dict[str, Any] = self._json(
            self._http.put("/api/webhook", json={"callback_url": callback_url})
        )
        return answer

    def _retrying(self, send: Callable[[], httpx2.Response], attempts: int = 4) -> httpx2.Response:
        """Send, and again after a dropped connection or a 502/503/504 (waiting Retry-After):
        only requests that are safe to repeat come here."""
        for attempt in range(1, attempts + 1):
            try:
                response = send()
            except httpx2.TransportError:
                if attempt == attempts:
                    raise
                time.sleep(0.5 * 2**attempt)
                continue
            if response.status_code not in _RETRIED_STATUSES or attempt == attempts:
                return response
            time.sleep(min(float(response.headers.get("Retry-After") or 1), 30.0))
        raise AssertionError("unreachable")

    @staticmethod
    def _json(response: httpx2.Response) -> Any:
        """The answer's JSON; ApiError with the server's own words if it is a refusal."""
        if response.status_code >= 400:
            try:
                error = response.json()["error"]
                raise ApiError(response.status_code, error["code"], error["message"])
            except (ValueError, KeyError, TypeError):
                raise ApiError(response.status_code, "http_error", response.text[:500]) from None
        return response.json()


def _download_name(response: httpx2.Response, job_id: int) -> str:
    disposition = response.headers.get("Content-Disposition", "")
    for part in disposition.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "filename" and value.strip('"'):
            return Path(value.strip('"')).name
    return f"job-{job_id}-result"

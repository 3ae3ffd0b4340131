"""The app under test, real users and tokens, httpx clients.

Most tests talk to the app in process through Starlette's TestClient (an httpx client with no
socket). Tests marked `network` get a real uvicorn on a free loopback port instead: streaming
uploads, client disconnects, CORS, background work after the answer, the browser.
"""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import numpy as np
import pandas as pd
import pytest
import uvicorn
from factories import add_job, iris_csv, submit
from panel_client import PanelClient
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier
from starlette.applications import Starlette
from starlette.testclient import TestClient

from batchscore.api.app import create_app
from batchscore.config import Settings
from batchscore.credentials import hash_password, new_token, token_digest
from batchscore.db.engine import Connection, in_transaction
from batchscore.db.jobs import (
    JobRecord,
    JobStatus,
    cancel_job,
    claim_next_job,
    delete_job,
    get_job,
    renew_lease,
    set_archived,
)
from batchscore.db.users import UserRecord, create_token, create_user
from batchscore.model.registry import save_model
from batchscore.scheduler.context import Context
from batchscore.scheduler.processor import process_one

POLL_SECONDS = 30.0  # longest a test waits for a background job to finish
PNG_BYTES = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32  # intake refuses it; the processor fails it
IN_PROCESS_URL = "http://testserver"


@dataclass(frozen=True)
class Server:
    """Where one app answers: in process (url None) or on a live uvicorn at `url`."""

    app: Starlette
    url: str | None = None

    @property
    def base_url(self) -> str:
        return self.url or IN_PROCESS_URL

    def client(self, **options: Any) -> httpx2.Client:
        """A new client of this app, as a program would open one (`headers`, `cookies`)."""
        if self.url is not None:
            return httpx2.Client(base_url=self.url, timeout=60, **options)
        # Like a real server: errors become 500 answers, redirects are not followed.
        return TestClient(
            self.app,
            base_url=IN_PROCESS_URL,
            raise_server_exceptions=False,
            follow_redirects=False,
            **options,
        )


@dataclass(frozen=True)
class Caller:
    user: UserRecord
    token: str
    client: httpx2.Client  #: sends this caller's bearer token


@contextmanager
def serving(settings: Settings) -> Iterator[str]:
    """Serve create_app(settings) with uvicorn on a free loopback port; yield its base URL."""
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


StartServer = Callable[[Settings], Server]


@pytest.fixture
def start_server(request: pytest.FixtureRequest) -> Iterator[StartServer]:
    """Start an app for some settings: live if the test is marked `network`, else in process."""
    live = request.node.get_closest_marker("network") is not None
    with ExitStack() as stack:

        def start(settings: Settings) -> Server:
            if not live:
                return Server(create_app(settings))
            url = stack.enter_context(serving(settings))
            return Server(create_app(settings), url)

        yield start


@pytest.fixture
def server(settings: Settings, ctx: Context, start_server: StartServer) -> Server:
    """The app for this test's settings (its database, folders and models)."""
    return start_server(settings)


@pytest.fixture
def base_url(server: Server) -> str:
    return server.base_url


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make_caller(ctx: Context, server: Server, username: str, *, admin: bool = False) -> Caller:
    token = new_token()

    def add(conn: Connection) -> UserRecord:
        digest = hash_password("pw-" + username, ctx.settings.password_hashing)
        user = create_user(conn, username=username, password_hash=digest, is_admin=admin)
        create_token(conn, user_id=user.id, name="test", token_hash=token_digest(token))
        return user

    user = in_transaction(ctx.engine, add)
    return Caller(user, token, server.client(headers=bearer(token)))


@pytest.fixture
def alice(ctx: Context, server: Server) -> Iterator[Caller]:
    caller = make_caller(ctx, server, "alice")
    yield caller
    caller.client.close()


@pytest.fixture
def bob(ctx: Context, server: Server) -> Iterator[Caller]:
    caller = make_caller(ctx, server, "bob")
    yield caller
    caller.client.close()


@pytest.fixture
def admin(ctx: Context, server: Server) -> Iterator[Caller]:
    caller = make_caller(ctx, server, "root", admin=True)
    yield caller
    caller.client.close()


@pytest.fixture
def anonymous(server: Server) -> Iterator[httpx2.Client]:
    with server.client() as client:
        yield client


Serve = Callable[[Settings, Caller], httpx2.Client]


@pytest.fixture
def serve(start_server: StartServer) -> Iterator[Serve]:
    """Start another app with changed settings; returns a caller's client for it.

    Give it settings derived from `settings` (dataclasses.replace), so it shares the test's
    database and folders and the callers' tokens work there too.
    """
    with ExitStack() as stack:

        def start(changed: Settings, caller: Caller) -> httpx2.Client:
            client = start_server(changed).client(headers=bearer(caller.token))
            return stack.enter_context(client)

        yield start


@pytest.fixture(scope="session")
def two_model_dir(tmp_path_factory: pytest.TempPathFactory, demo_model_dir: Path) -> Path:
    """The demo iris model plus `petal_size` (petal_length, petal_width → short/long).

    Trained once per session; tests must not change it.
    """
    path = tmp_path_factory.mktemp("two-models")
    shutil.copytree(demo_model_dir / "iris", path / "iris")
    iris = load_iris()
    petals = pd.DataFrame(iris.data[:, 2:], columns=["petal_length", "petal_width"])
    labels = np.where(petals["petal_length"] < 2.5, "short", "long")
    tree = DecisionTreeClassifier(max_depth=1, random_state=0).fit(petals, labels)
    save_model(
        path,
        "petal_size",
        tree,
        task="classification",
        features=("petal_length", "petal_width"),
        target="size",
        metrics={"accuracy": 1.0},
        training_rows=len(petals),
        training_data_sha256="0" * 64,
    )
    return path


class Jobs:
    """Job actions for tests: put jobs in a state through our own code, and read them back."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    def upload(
        self,
        caller: Caller,
        content: str | bytes | None = None,
        filename: str = "data.csv",
        **fields: str,
    ) -> httpx2.Response:
        """POST /api/jobs with `content` (three iris rows by default) as the file."""
        data = iris_csv(3) if content is None else content
        files = {"file": (filename, data, "text/csv")}
        return caller.client.post("/api/jobs", files=files, data=fields)

    def make(
        self, owner: Caller, state: str = "PENDING", filename: str = "data.csv", rows: int = 3
    ) -> JobRecord:
        """A job of `owner` in `state`: a JobStatus value, or ARCHIVED (a PENDING job, archived)."""
        ctx = self.ctx
        if state == JobStatus.FAILED:
            job = self.make_unscorable(owner, filename)
        else:
            job = submit(ctx, iris_csv(rows), filename, owner_id=owner.user.id)
        if state in (JobStatus.PROCESSED, JobStatus.FAILED):
            process_one(ctx, job_id=job.id)
        elif state == JobStatus.IN_PROGRESS:
            self.start(job)
        elif state == JobStatus.CANCELLED:
            in_transaction(ctx.engine, lambda c: cancel_job(c, job.id))
        elif state == "ARCHIVED":
            in_transaction(ctx.engine, lambda c: set_archived(c, job.id, True))
        made = self.get(job.id)
        expected = JobStatus.PENDING if state == "ARCHIVED" else JobStatus(state)
        assert made.status is expected, made
        return made

    def start(self, job: JobRecord) -> JobRecord:
        """Claim the PENDING `job` as a processor would: IN_PROGRESS, with a long lease."""
        claimed = in_transaction(
            self.ctx.engine,
            lambda c: claim_next_job(c, worker_id="test", lease_seconds=600, job_id=job.id),
        )
        assert claimed is not None, f"job {job.id} was not PENDING"
        return claimed

    def report_progress(
        self, job: JobRecord, rows_done: int, rows_total: int, rows_failed: int = 0
    ) -> None:
        """Record progress on a started job, as the processor holding its claim does."""
        token = job.claim_token
        assert token is not None, f"job {job.id} is not started"
        in_transaction(
            self.ctx.engine,
            lambda c: renew_lease(
                c,
                job.id,
                token,
                lease_seconds=600,
                rows_done=rows_done,
                rows_failed=rows_failed,
                rows_total=rows_total,
            ),
        )

    def make_unscorable(self, owner: Caller, filename: str = "data.csv") -> JobRecord:
        """A PENDING job of `owner` whose file is a PNG image (which intake would refuse)."""
        return add_job(self.ctx, PNG_BYTES, owner_id=owner.user.id, original_filename=filename)

    def get(self, job_id: int) -> JobRecord:
        """The job as the database has it (NotFound if it is gone)."""
        return in_transaction(self.ctx.engine, lambda c: get_job(c, job_id))

    def unknown_id(self) -> int:
        """The id of a job that existed and was deleted: an id no job has."""
        job = add_job(self.ctx, iris_csv(1))
        in_transaction(self.ctx.engine, lambda c: delete_job(c, job.id))
        return job.id

    def files(self, job: JobRecord) -> list[Path]:
        """The job's input file and, once it has one, its result file."""
        paths = [Path(self.ctx.settings.input_dir, job.input_name)]
        if job.output_name is not None:
            paths.append(Path(self.ctx.settings.output_dir, job.output_name))
        return paths

    def wait_for(self, caller: Caller, job_id: int, status: str) -> dict[str, object]:
        """Poll GET /api/jobs/{id} until the job has `status`; its JSON then."""
        deadline = time.monotonic() + POLL_SECONDS
        while True:
            response = caller.client.get(f"/api/jobs/{job_id}")
            assert response.status_code == 200, response.text
            body: dict[str, object] = response.json()
            if body["status"] == status:
                return body
            assert time.monotonic() < deadline, f"job {job_id} is not {status} yet: {body}"
            time.sleep(0.05)


@pytest.fixture
def jobs(ctx: Context) -> Jobs:
    return Jobs(ctx)


@pytest.fixture
def panel(server: Server) -> Iterator[PanelClient]:
    client = PanelClient(server.client())
    yield client
    client.close()

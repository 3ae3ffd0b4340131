"""Shared fixtures: real settings, a real database (SQLite file per test, or MariaDB when
BATCHSCORE_TEST_DATABASE_URL is set), real folders in tmp_path, the real demo model."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from s3_server import AWS_ENV, Bucket, in_bucket, moto_server

from batchscore.config import Secret, Settings
from batchscore.db import migrate
from batchscore.db.engine import Engine, in_transaction, make_engine
from batchscore.db.tables import metadata
from batchscore.model.train import train_demo_model
from batchscore.scheduler.context import Context

MARIADB_URL = os.environ.get("BATCHSCORE_TEST_DATABASE_URL", "")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    skip = pytest.mark.skip(reason="needs MariaDB: set BATCHSCORE_TEST_DATABASE_URL")
    for item in items:
        if "mariadb" in item.keywords and not MARIADB_URL:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No BATCHSCORE_* variable of the developer's shell leaks into a test."""
    for key in list(os.environ):
        if key.startswith("BATCHSCORE_") and key != "BATCHSCORE_TEST_DATABASE_URL":
            monkeypatch.delenv(key)


@pytest.fixture(scope="session")
def demo_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real demo model, trained once per session; tests must not change it."""
    path = tmp_path_factory.mktemp("models")
    train_demo_model(path)
    return path


@pytest.fixture(scope="session")
def _mariadb_schema() -> Iterator[Engine | None]:
    if not MARIADB_URL:
        yield None
        return
    engine = make_engine(MARIADB_URL)
    migrate.downgrade(engine, "base")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def _sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty SQLite database migrated once per session; each test gets a copy of the file."""
    path = tmp_path_factory.mktemp("template") / "batchscore.db"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    engine.dispose()  # the last connection to close folds the WAL into the file: copy the file
    assert not path.with_name(path.name + "-wal").exists()
    return path


@pytest.fixture
def database_url(tmp_path: Path, _mariadb_schema: Engine | None, _sqlite_template: Path) -> str:
    """A URL to an empty, migrated database."""
    if _mariadb_schema is None:
        path = tmp_path / "batchscore.db"
        shutil.copyfile(_sqlite_template, path)
        return f"sqlite:///{path}"

    def empty_tables(conn: object) -> None:
        for table in reversed(metadata.sorted_tables):
            conn.execute(table.delete())  # type: ignore[attr-defined]

    in_transaction(_mariadb_schema, empty_tables)
    return MARIADB_URL


@pytest.fixture
def settings(tmp_path: Path, database_url: str, demo_model_dir: Path) -> Settings:
    return Settings(
        database_url=Secret(database_url),
        input_dir=str(tmp_path / "input"),
        output_dir=str(tmp_path / "output"),
        model_dir=demo_model_dir,
        cache_dir=tmp_path / "cache",
        lease_seconds=5.0,
        chunk_rows=1000,
        password_hashing="cheapest",
    )


@pytest.fixture(scope="session")
def _s3_endpoint() -> Iterator[str]:
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def bucket(_s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Bucket:
    """An empty bucket on a real S3-compatible server (moto), with the AWS_* variables set
    for this process and the processes it starts."""
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    bucket = Bucket(_s3_endpoint)
    bucket.reset()
    return bucket


@pytest.fixture
def s3_settings(settings: Settings, bucket: Bucket) -> Settings:
    """`settings` with the input and output folders in the bucket."""
    return in_bucket(settings, bucket.endpoint)


@pytest.fixture
def ctx(settings: Settings) -> Iterator[Context]:
    context = Context.from_settings(settings)
    context.storage.create_folders()
    yield context
    context.engine.dispose()


@pytest.fixture
def engine(ctx: Context) -> Engine:
    return ctx.engine

"""in_transaction against a server that is not there: a clear error, retried only if asked."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from processes import free_port

from batchscore.db.engine import Connection, in_transaction, make_engine
from batchscore.errors import DatabaseUnavailable


def select_one(conn: Connection) -> object:
    return conn.exec_driver_sql("SELECT 1").scalar()


@pytest.fixture
def nowhere() -> str:
    """A MariaDB URL whose port nobody listens on."""
    return f"mysql+pymysql://batchscore:secret@127.0.0.1:{free_port()}/batchscore"


def test_unreachable_server_is_reported_without_retrying_by_default(
    nowhere: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(DatabaseUnavailable) as raised:
        in_transaction(make_engine(nowhere), select_one)
    assert raised.value.message.startswith("The database cannot be reached right now.")
    assert "secret" not in raised.value.message and "127.0.0.1" not in raised.value.message
    assert raised.value.reason.startswith("(2003, \"Can't connect to MySQL server on '127.0.0.1'")
    assert "trying again" not in caplog.text


def test_unreachable_server_is_tried_again_for_the_patience_given(
    nowhere: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, "db.engine")
    with pytest.raises(DatabaseUnavailable):
        in_transaction(make_engine(nowhere), select_one, patience=0.5)
    retries = [r for r in caplog.records if "trying again" in r.getMessage()]
    assert len(retries) >= 2
    assert "secret" not in caplog.text  # the password never reaches the log


def test_on_sqlite_a_read_only_transaction_reads_while_a_writer_holds_the_lock(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    in_transaction(engine, lambda c: c.exec_driver_sql("CREATE TABLE t (x INTEGER)"))
    with engine.connect() as writer, writer.begin():  # BEGIN IMMEDIATE: the write lock
        writer.exec_driver_sql("INSERT INTO t VALUES (1)")

        # A read-write transaction would wait SQLITE_BUSY_TIMEOUT_MS here, then fail.
        seen = in_transaction(
            engine, lambda c: c.exec_driver_sql("SELECT count(*) FROM t").scalar(), read_only=True
        )

    assert seen == 0  # the writer had not committed
    assert (
        in_transaction(engine, lambda c: c.exec_driver_sql("SELECT count(*) FROM t").scalar()) == 1
    )
    engine.dispose()


def test_a_sqlite_file_in_a_missing_folder_gets_the_folder(tmp_path: Path) -> None:
    """data/ beside a config whose INPUT_DIR etc. name other folders: nothing made it."""
    path = tmp_path / "data" / "batchscore.db"
    engine = make_engine(f"sqlite:///{path}")
    try:
        assert in_transaction(engine, lambda c: c.exec_driver_sql("SELECT 1").scalar()) == 1
    finally:
        engine.dispose()
    assert path.is_file()

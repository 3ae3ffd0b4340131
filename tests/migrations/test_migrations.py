"""Migrations are the only way the schema changes: they must build exactly db/tables.py."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Table, insert

from batchscore.db import migrate
from batchscore.db.engine import Engine, in_transaction, make_engine
from batchscore.db.tables import api_tokens, job_attempts, jobs, metadata, users


def schema_diff(engine: Engine) -> list[object]:
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, metadata))


def test_upgrade_head_matches_the_table_definitions(engine: Engine) -> None:
    assert schema_diff(engine) == []


def test_downgrade_then_upgrade_round_trips(engine: Engine) -> None:
    migrate.downgrade(engine, "base")
    with engine.connect() as conn:
        assert set(engine.dialect.get_table_names(conn)) <= {"alembic_version"}
    migrate.upgrade(engine)
    assert schema_diff(engine) == []


def test_the_sqlite_rebuild_for_ids_never_reused_keeps_every_row_and_link(tmp_path: Path) -> None:
    """0007 copies users, api_tokens and jobs into AUTOINCREMENT tables: ids, owners, tokens
    and attempts stay as they were, and a deleted newest job's id is not handed out again."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate.upgrade(engine, "0006")

    def fill(conn: Connection) -> tuple[int, int]:
        created = datetime(2026, 1, 1)
        user = _insert(conn, users, username="ana", password_hash="x", created_at=created)
        _insert(conn, api_tokens, user_id=user, name="t", token_hash="f" * 64, created_at=created)
        newest = [_job(conn, user, name) for name in ("a.csv", "b.csv")][-1]
        conn.execute(
            insert(job_attempts).values(
                job_id=newest, claim_token="c" * 36, worker_id="w", started_at=datetime(2026, 1, 1)
            )
        )
        return user, newest

    owner, newest = in_transaction(engine, fill)  # rows of the columns 0006 has
    before = _rows(engine)
    migrate.upgrade(engine, "0007")
    assert _rows(engine) == before
    with engine.connect() as conn:
        sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'jobs'").scalar()
    assert "AUTOINCREMENT" in str(sql)
    in_transaction(engine, lambda c: c.execute(jobs.delete().where(jobs.c.id == newest)))
    assert in_transaction(engine, lambda c: _job(c, owner, "c.csv")) == newest + 1
    engine.dispose()


def _job(conn: Connection, owner: int, name: str) -> int:
    """A job row of the columns every revision since 0006 has; its id."""
    row = {
        "owner_id": owner,
        "original_filename": name,
        "input_name": name,
        "input_sha256": "0" * 64,
        "input_bytes": 1,
        "model_name": "iris",
        "output_format": "xlsx",
        "status": "PENDING",
        "created_at": datetime(2026, 1, 1),
    }
    return _insert(conn, jobs, **row)


def _insert(conn: Connection, table: Table, **row: object) -> int:
    key = conn.execute(insert(table).values(row)).inserted_primary_key
    assert key is not None
    return int(key[0])


def _rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            table: [tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table}")]
            for table in ("users", "api_tokens", "jobs", "job_attempts")
        }

"""Migrations are the only way the schema changes: they must build exactly db/tables.py."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection

from batchscore.db import migrate
from batchscore.db.engine import Engine, in_transaction, make_engine
from batchscore.db.jobs import JobRecord, claim_next_job, create_job
from batchscore.db.tables import jobs, metadata
from batchscore.db.users import create_token, create_user


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
        user = create_user(conn, username="ana", password_hash="x", is_admin=False)
        create_token(conn, user_id=user.id, name="t", token_hash="f" * 64)
        newest = [_job(conn, user.id, name).id for name in ("a.csv", "b.csv")][-1]
        claim_next_job(conn, worker_id="w", lease_seconds=60, job_id=newest)  # an attempt row
        return user.id, newest

    owner, newest = in_transaction(engine, fill)
    before = _rows(engine)
    migrate.upgrade(engine)
    assert _rows(engine) == before
    with engine.connect() as conn:
        sql = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'jobs'").scalar()
    assert "AUTOINCREMENT" in str(sql)
    in_transaction(engine, lambda c: c.execute(jobs.delete().where(jobs.c.id == newest)))
    assert in_transaction(engine, lambda c: _job(c, owner, "c.csv")).id == newest + 1
    engine.dispose()


def _job(conn: Connection, owner: int, name: str) -> JobRecord:
    return create_job(
        conn,
        owner_id=owner,
        original_filename=name,
        input_name=name,
        input_sha256="0" * 64,
        input_bytes=1,
        model_name="iris",
        model_version=None,
        output_format="xlsx",
    )


def _rows(engine: Engine) -> dict[str, list[tuple[object, ...]]]:
    with engine.connect() as conn:
        return {
            table: [tuple(row) for row in conn.exec_driver_sql(f"SELECT * FROM {table}")]
            for table in ("users", "api_tokens", "jobs", "job_attempts")
        }

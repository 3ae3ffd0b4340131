"""Migrations are the only way the schema changes: they must build exactly db/tables.py."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from batchscore.db import migrate
from batchscore.db.engine import Engine
from batchscore.db.tables import metadata


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

"""Schema upgrades through Alembic: the only way the schema changes."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from batchscore.db.engine import in_transaction
from batchscore.errors import ConfigError

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    """An Alembic config pointing at our migrations, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database schema to `revision` (idempotent)."""
    _run(engine, command.upgrade, revision)


def check_current(engine: Engine) -> None:
    """ConfigError unless the schema is at the latest revision: say what to run, not 'no table'."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    current = in_transaction(
        engine, lambda conn: MigrationContext.configure(conn).get_current_revision()
    )
    if current != head:
        where = engine.url.render_as_string(hide_password=True)
        state = "has no batchscore tables" if current is None else "has an older schema"
        raise ConfigError(
            f"The database {where} {state}. Run `batchscore init` (or `batchscore db upgrade`)."
        )


def downgrade(engine: Engine, revision: str) -> None:
    _run(engine, command.downgrade, revision)


def _run(engine: Engine, action: object, revision: str) -> None:
    """On SQLite, with foreign keys off while it runs: batch mode rebuilds a table by copying
    it and dropping the original, and that drop would run the children's ON DELETE actions
    (deleting every job's attempts, or nulling every job's owner). The pragma only takes
    effect outside a transaction, so it is set on the raw connection before ours begins, and
    `PRAGMA foreign_key_check` proves nothing was left dangling before the commit."""
    config = alembic_config()
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        if sqlite:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():
                config.attributes["connection"] = conn
                action(config, revision)  # type: ignore[operator]
                if sqlite:
                    dangling = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if dangling:  # rolled back: the schema stays as it was
                        raise RuntimeError(
                            f"The migration left rows pointing at nothing: {dangling}"
                        )
        finally:
            if sqlite:
                raw.execute("PRAGMA foreign_keys=ON")

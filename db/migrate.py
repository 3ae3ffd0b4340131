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
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        action(config, revision)  # type: ignore[operator]

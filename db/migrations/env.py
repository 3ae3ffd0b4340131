"""Alembic environment: the URL comes from batchscore's config, never from alembic.ini."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from batchscore.config import load_settings
from batchscore.db.engine import make_engine
from batchscore.db.tables import metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,  # SQLite can only ALTER tables by copying them
        compare_type=True,
    )


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is not None:  # `batchscore init` and the tests pass theirs in
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = make_engine(str(load_settings().database_url))
    with engine.connect() as conn:
        _configure(conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()

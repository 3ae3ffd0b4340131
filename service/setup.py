"""Making a place ready to run: the data folders, the database schema, the demo model."""

from __future__ import annotations

from typing import TYPE_CHECKING

from batchscore.config import Settings
from batchscore.db.migrate import check_current, upgrade
from batchscore.scheduler.context import Context

if TYPE_CHECKING:
    from batchscore.model.metadata import ModelInfo


def open_context(settings: Settings, *, check_schema: bool = True) -> Context:
    """The context every command and the web app work in; ConfigError, saying what to run,
    when the database has no schema or an older one."""
    ctx = Context.from_settings(settings)
    if check_schema:
        check_current(ctx.engine)
    return ctx


def check_schema(ctx: Context) -> None:
    check_current(ctx.engine)


def upgrade_schema(ctx: Context) -> None:
    """Create or upgrade the schema to the latest revision (idempotent)."""
    upgrade(ctx.engine)


def initialise(ctx: Context) -> ModelInfo:
    """Schema up to date, folders made (by the context), demo model trained if missing."""
    # Here, not above: every command opens its context through this module, and scikit-learn
    # takes a second to import (an idle cron run would pay it every minute).
    from batchscore.model.train import train_demo_model

    upgrade(ctx.engine)
    return train_demo_model(ctx.settings.model_dir)


def database_location(ctx: Context) -> str:
    """The database URL with any password hidden, for messages."""
    return ctx.engine.url.render_as_string(hide_password=True)

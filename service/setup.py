"""Making a place ready to run: the data folders, the database schema, the demo model."""

from __future__ import annotations

import os
import secrets
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from batchscore.config import CONFIG_FILE, SAMPLE_SECRET, Settings
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


def make_working_folder(folder: Path) -> Path:
    """The folder, made if missing, with a config file of its own (the shipped sample with a
    fresh SECRET_KEY, readable by its owner only) unless it has one: batchscore installed with
    pip or pipx can run from anywhere, and cron finds it through BATCHSCORE_CONFIG."""
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / CONFIG_FILE
    if not config.exists():
        sample = resources.files("batchscore").joinpath(CONFIG_FILE).read_text("utf-8")
        text = sample.replace(
            f"SECRET_KEY={SAMPLE_SECRET}\n", f"SECRET_KEY={secrets.token_hex(32)}\n"
        )
        descriptor = os.open(config, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as out:
            out.write(text)
    return config


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

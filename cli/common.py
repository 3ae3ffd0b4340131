"""What every command shares: exit codes, the settings and context it works in, and the short
human formats of durations and metrics."""

from __future__ import annotations

import argparse
import dataclasses
from typing import TYPE_CHECKING

from batchscore.config import Settings, load_settings
from batchscore.logs import configure_logging

if TYPE_CHECKING:  # the context is imported per command, so `--help` stays quick
    from batchscore.model.metadata import ModelInfo
    from batchscore.scheduler.context import Context

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_NOTHING = 0, 1, 2, 3


def settings_of(args: argparse.Namespace) -> Settings:
    """The config's settings; from here on the log lines take its LOG_FORMAT."""
    settings = load_settings(args.config)
    configure_logging(log_format=settings.log_format)
    return settings


def context_of(
    args: argparse.Namespace, *, check_schema: bool = True, watched: bool = False
) -> Context:
    """The command's context; `watched` draws progress bars on a terminal."""
    from batchscore.service.setup import open_context

    ctx = open_context(settings_of(args), check_schema=check_schema)
    if watched:
        from batchscore.cli.progress import progress

        ctx = dataclasses.replace(ctx, progress=progress())
    return ctx


def ago(seconds: float) -> str:
    """A short human duration: 4 s, 3 min, 2 h 5 min, 30 d."""
    s = int(seconds)
    for unit, size, part, part_size in (("d", 86400, "h", 3600), ("h", 3600, "min", 60)):
        if s >= size:
            rest = s % size // part_size
            return f"{s // size} {unit}" + (f" {rest} {part}" if rest else "")
    return f"{s // 60} min" if s >= 60 else f"{s} s"


def metrics_text(metrics: dict[str, float]) -> str:
    return ", ".join(f"{key} {value:.3f}" for key, value in metrics.items())


_MEASURED_ON = {
    "holdout": "on {rows:,} held-out rows",
    "holdout_then_refit": "on {rows:,} held-out rows, then refitted on every row",
    "test_then_train": "on the {rows:,} new rows before learning them",
}


def evaluation_text(info: ModelInfo) -> str:
    """What the metrics say and which rows they come from, in a phrase."""
    if info.evaluation == "none" or not info.metrics:
        return "not measured (no rows held out)"
    where = _MEASURED_ON[info.evaluation].format(rows=info.evaluation_rows)
    return f"{metrics_text(info.metrics)} {where}"

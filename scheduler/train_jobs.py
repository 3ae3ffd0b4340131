"""Train jobs: a labelled CSV in the input folder → a new model version.

The processor (kind=train jobs) and `batchscore model train` both come here, so a file trains
the same way whichever door it came in by.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any

import pandas as pd

from batchscore.config import Settings
from batchscore.errors import InputError
from batchscore.model.train import Trained, TrainPlan, check_plan, train
from batchscore.progress import Progress, Quiet
from batchscore.scheduler.reading import NO_ROWS, inspect_table, read_chunks


def plan_options(plan: TrainPlan) -> dict[str, Any]:
    """The plan as JSON for the job row."""
    options = asdict(plan)
    options["features"] = None if plan.features is None else list(plan.features)
    return options


def plan_of(options: dict[str, Any] | None) -> TrainPlan:
    """The plan stored by plan_options."""
    options = dict(options or {})
    if options.get("features") is not None:
        options["features"] = tuple(options["features"])
    return TrainPlan(**options)


def check_training_file(settings: Settings, path: Path, name: str, plan: TrainPlan) -> int:
    """Refuse a file that cannot train `name` as planned; return its line count."""
    layout = inspect_table(path)
    if layout.line_count == 0:
        raise InputError(NO_ROWS)
    check_plan(settings.model_dir, name, plan, layout.columns)
    return layout.line_count


def train_file(
    settings: Settings,
    path: Path,
    name: str,
    plan: TrainPlan,
    *,
    data_sha256: str,
    before_save: Callable[[], None] = lambda: None,
    progress: Progress | None = None,
) -> Trained:
    """Read the labelled CSV whole (training needs every row at once) and train from it."""
    progress = progress or Quiet()
    layout = inspect_table(path)
    if layout.line_count == 0:
        raise InputError(NO_ROWS)
    progress.step(f"Reading {path.name}", layout.line_count)

    def counted(chunks: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        done = 0
        for chunk in chunks:
            done += len(chunk)
            progress.advance(done)
            yield chunk

    table = pd.concat(counted(read_chunks(path, layout, settings.chunk_rows)), ignore_index=True)
    progress.step(f"Training {name} on {len(table):,} rows")
    return train(
        settings.model_dir,
        name,
        table,
        plan,
        data_sha256=data_sha256,
        max_skipped_fraction=settings.max_error_rows_fraction,
        before_save=before_save,
        decimal=layout.decimal,
    )

"""Commands on models: model list, train, import, activate."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING

from batchscore.cli.common import EXIT_OK, evaluation_text, metrics_text, settings_of
from batchscore.cli.progress import logs_above_bars, progress

if TYPE_CHECKING:
    from batchscore.model.metadata import ModelInfo


def list_models(args: argparse.Namespace) -> int:
    from batchscore.model.registry import version_warning
    from batchscore.service import catalog

    settings = settings_of(args)
    for model in catalog.list_models(settings):
        active = model.info
        print(f"{active.name} ({active.task} of {active.target}): {schema_text(active)}")
        for info in catalog.get_model(settings, active.name).versions:
            marker = "*" if info.version == active.version else " "
            rows, scores = f"{info.training_rows:>7,} rows", metrics_text(info.metrics)
            print(f"  {marker} v{info.version}  {info.created_at}  {rows}  {scores}".rstrip())
            if info.source != "trained" or info.note:
                print(f"      {info.source}{f': {info.note}' if info.note else ''}")
            warning = version_warning(info)
            if warning:
                print(f"      {warning}")
    return EXIT_OK


def train(args: argparse.Namespace) -> int:
    from batchscore.model.train import TrainPlan
    from batchscore.service import catalog

    settings = settings_of(args)
    path: Path = args.file
    plan = TrainPlan(
        target=args.target,
        features=catalog.parse_features(args.features),
        task=args.task,
        estimator=args.estimator,
        activate=args.activate,
        incremental=args.incremental,
        holdout=args.holdout,
        refit=args.refit,
    )
    bar = progress()
    with contextlib.closing(bar), logs_above_bars():
        trained = catalog.train_here(settings, path, args.name, plan, bar)
    info = trained.info
    for column in trained.left_out:
        print(
            f"Left out {column}: it has no header name (a row index?). To use it, name it "
            "in --features."
        )
    skipped = f" ({trained.rows_skipped:,} rows skipped: no usable target or numbers)"
    print(
        f"Trained {info.name} v{info.version} on {info.training_rows:,} rows"
        f"{skipped if trained.rows_skipped else ''}; {evaluation_text(info)}"
    )
    if catalog.is_active(settings, info):
        print(f"{info.name} v{info.version} is active: jobs and predict use it now.")
    else:
        print(f"Not active yet: batchscore model activate {info.name} {info.version}")
    return EXIT_OK


def import_version(args: argparse.Namespace) -> int:
    from batchscore.model.importing import ImportPlan
    from batchscore.model.registry import version_warning
    from batchscore.service import catalog

    settings = settings_of(args)
    plan = ImportPlan(
        features=catalog.parse_features(args.features),
        target=args.target,
        task=args.task,
        classes=catalog.parse_features(args.classes),
        note=args.version_note,
        activate=args.activate,
        trust_pickle=args.trust_pickle,
    )
    info = catalog.import_version(settings, None, args.name, args.path, plan)
    print(f"Imported {info.name} v{info.version} ({info.task}) {info.source}.")
    print(f"Features: {schema_text(info)}")
    if info.classes is not None:
        print(f"Classes: {', '.join(info.classes)}")
    warning = version_warning(info)
    if warning:
        print(f"Note: {warning}")
    if catalog.is_active(settings, info):
        print(f"{info.name} v{info.version} is active: jobs and predict use it now.")
    else:
        print(f"Not active yet: batchscore model activate {info.name} {info.version}")
    return EXIT_OK


def schema_text(info: ModelInfo) -> str:
    """The features a file must hold, with each one's kind unless a number, and whether it
    may be empty."""

    def feature_text(feature: str, kind: str) -> str:
        notes = [kind] if kind != "number" else []
        notes += ["may be empty"] if feature in info.missing_allowed else []
        return f"{feature} ({', '.join(notes)})" if notes else feature

    return ", ".join(map(feature_text, info.features, info.kinds))


def activate(args: argparse.Namespace) -> int:
    from batchscore.service import catalog

    detail = catalog.activate(settings_of(args), None, args.name, args.version)
    info = next(v for v in detail.versions if v.version == detail.active_version)
    print(f"{info.name} v{info.version} is active: {metrics_text(info.metrics)}")
    return EXIT_OK

"""The models people choose from: list them, show a model's versions, choose the active one,
predict at once, import one trained elsewhere, and train a version here and now (the CLI; over
HTTP training is a job, see `service.intake.queue_training`).

A model change alters what everyone's jobs predict, so only an admin (or the operator at the
command line, `user=None`) may make one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from batchscore.config import Settings
from batchscore.db.users import UserRecord
from batchscore.errors import BatchscoreError, Forbidden, InputError
from batchscore.model import registry
from batchscore.model.importing import ImportPlan, import_model
from batchscore.model.metadata import ModelInfo, checked_name
from batchscore.model.predict import Prediction, predict_chunk, predict_records, scored_records
from batchscore.model.train import Trained, TrainPlan
from batchscore.progress import Progress
from batchscore.scheduler.context import Context
from batchscore.scheduler.reading import NO_ROWS, inspect_table, read_chunks
from batchscore.scheduler.train_jobs import train_file
from batchscore.storage import StoredInput

MAX_PREDICT_RECORDS = 10_000  # more is a batch job's work


@dataclass(frozen=True)
class ModelSummary:
    info: ModelInfo  #: the active version's metadata
    versions: list[int]  #: ascending


@dataclass(frozen=True)
class ModelDetail:
    name: str
    active_version: int
    versions: list[ModelInfo]  #: every version's metadata, ascending


def list_models(settings: Settings) -> list[ModelSummary]:
    """Every usable model by name (a model whose active version is unreadable is left out)."""
    model_dir = settings.model_dir
    return [
        ModelSummary(info, registry.list_versions(model_dir, info.name))
        for info in registry.list_models(model_dir)
    ]


def get_model(settings: Settings, name: str) -> ModelDetail:
    """A model with every version's metadata, so a caller can compare them and choose."""
    model_dir, name = settings.model_dir, checked_name(name, InputError)
    active = registry.active_version(model_dir, name)
    versions = [
        registry.read_info(model_dir, name, v) for v in registry.list_versions(model_dir, name)
    ]
    return ModelDetail(name, active, versions)


def activate(settings: Settings, user: UserRecord | None, name: str, version: int) -> ModelDetail:
    """Make `version` the one that predicts; jobs already running keep theirs."""
    require_admin(user)
    registry.activate(settings.model_dir, checked_name(name, InputError), version)
    return get_model(settings, name)


def predict(
    settings: Settings, name: str, records: Sequence[object]
) -> tuple[ModelInfo, list[Prediction]]:
    """Score JSON records with the active version; InputError names the first bad record."""
    name = checked_name(name, InputError)
    if not records:
        raise InputError("Send a JSON object of feature values, or a non-empty list of them.")
    if len(records) > MAX_PREDICT_RECORDS:
        raise InputError(
            f"{len(records):,} records is more than the {MAX_PREDICT_RECORDS:,} one call takes; "
            "upload them as a CSV job (POST /api/jobs) instead."
        )
    model = registry.load_model(settings.model_dir, name)
    return model.info, predict_records(model, records)


def predict_csv(
    settings: Settings, name: str, path: Path, encoding: str | None = None
) -> tuple[ModelInfo, list[Prediction]]:
    """Score a CSV body (MLflow's `text/csv`) read exactly as an uploaded file is: its
    encoding, delimiter, decimal mark and trailing delimiters found, every cell parsed by the
    model's feature kinds (`encoding`, the body's charset, replaces detection). InputError names
    the first row that cannot be scored."""
    name = checked_name(name, InputError)
    layout = inspect_table(path, encoding=encoding)
    model = registry.load_model(settings.model_dir, name)
    chunks = read_chunks(path, layout, MAX_PREDICT_RECORDS + 1)
    frame = next(chunks, None)
    if frame is None or frame.empty:
        raise InputError(NO_ROWS.replace("file", "CSV"))
    if len(frame) > MAX_PREDICT_RECORDS:
        raise InputError(
            f"The CSV has more than the {MAX_PREDICT_RECORDS:,} rows one call takes; upload it "
            "as a job (POST /api/jobs) instead."
        )
    return model.info, scored_records(model.info, predict_chunk(model, frame, layout.decimal))


def train_here(
    settings: Settings, path: Path, name: str, plan: TrainPlan, progress: Progress | None = None
) -> Trained:
    """Train a version from a labelled CSV in this process, now (`batchscore model train`)."""
    try:
        with path.open("rb") as file:
            digest = hashlib.file_digest(file, "sha256").hexdigest()
    except OSError as exc:
        raise BatchscoreError(f"Cannot open {path}: {exc.strerror}.") from exc
    name = checked_name(name, InputError)
    return train_file(settings, path, name, plan, data_sha256=digest, progress=progress)


def import_version(
    settings: Settings,
    user: UserRecord | None,
    name: str,
    path: Path,
    plan: ImportPlan,
    *,
    shown_name: str | None = None,
) -> ModelInfo:
    """Add a model trained elsewhere as the next version of `name` (a new model too)."""
    require_admin(user)
    if plan.trust_pickle and user is not None:
        raise Forbidden("A pickle is trusted only at the command line (--trust-pickle).")
    name = checked_name(name, InputError)
    return import_model(settings.model_dir, name, path, plan, shown_name=shown_name)


def import_upload(
    ctx: Context, user: UserRecord, name: str, stored: StoredInput, filename: str, plan: ImportPlan
) -> ModelInfo:
    """Import an uploaded model file; the upload is deleted whatever the outcome."""
    try:
        with ctx.storage.local_input(stored.name) as path:
            return import_version(ctx.settings, user, name, path, plan, shown_name=filename)
    finally:
        ctx.storage.delete_input(stored.name)


def is_active(settings: Settings, info: ModelInfo) -> bool:
    return info.version == registry.active_version(settings.model_dir, info.name)


def parse_features(raw: str | None) -> tuple[str, ...] | None:
    """Comma-separated feature names as given in a form or on the command line; empty names
    (a trailing comma) are dropped, and nothing given means the default."""
    names = tuple(name.strip() for name in (raw or "").split(",") if name.strip())
    return names or None


def require_admin(user: UserRecord | None) -> None:
    if user is not None and not user.is_admin:
        raise Forbidden(
            "Only an admin may train, import or activate models: a new version changes what "
            "everyone's jobs predict. Ask an admin (`batchscore user add NAME --admin`)."
        )

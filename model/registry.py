"""Model folders on disk: MODEL_DIR/<name>/<version>/model.skops + model.json, and
MODEL_DIR/<name>/ACTIVE naming the version that predicts (without it, the highest does).

Lists, loads, saves and activates them. Loading never unpickles: artifacts are skops files, and
a type skops does not trust by default loads only if TRUSTED_TYPES names it.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import uuid
import warnings
from collections.abc import Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import sklearn
import skops.io
from sklearn.base import BaseEstimator
from sklearn.exceptions import InconsistentVersionWarning, NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted

from batchscore.errors import InputError, ModelError, NotFound
from batchscore.model.drift import Profile
from batchscore.model.metadata import NAME_PATTERN, ModelInfo, checked_name
from batchscore.model.vetting import check_trees

logger = logging.getLogger(__name__)

_ARTIFACT_FILE = "model.skops"
_METADATA_FILE = "model.json"
_PROFILE_FILE = "profile.json"  # the training data binned, for drift (model.drift)
_ACTIVE_FILE = "ACTIVE"

_VERSION_PATTERN = re.compile(r"[1-9][0-9]{0,8}")
# Types outside skops' own safe defaults that we load too: the fitted internals of common
# estimators (trees, neighbour indexes, optimiser state) and dtypes. Named one by one, never
# whole packages: a package also holds functions and classes a file could abuse. The two tree
# types skops warns of are loaded only to be checked before use (model/vetting.py).
TRUSTED_TYPES = frozenset(
    {
        "numpy.dtype",
        "builtins.object",  # make_column_selector(dtype_include=object) keeps the class
        "sklearn.compose._column_transformer.make_column_selector",
        "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",
        "sklearn.metrics._dist_metrics.EuclideanDistance64",
        "sklearn.metrics._dist_metrics.ManhattanDistance64",
        "sklearn.metrics._dist_metrics.MinkowskiDistance64",
        "sklearn.neighbors._ball_tree.BallTree",
        "sklearn.neighbors._kd_tree.KDTree",
        "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
        "sklearn.neural_network._stochastic_optimizers.SGDOptimizer",
        "sklearn.tree._tree.Tree",
    }
)
_SAVE_ATTEMPTS = 5  # another writer may take the same version number between listing and rename


@dataclass(frozen=True)
class LoadedModel:
    """A model version ready to predict."""

    info: ModelInfo
    estimator: BaseEstimator
    profile: Profile | None = None  #: its training data, binned (model.drift), if known


def list_models(model_dir: Path) -> list[ModelInfo]:
    """Return the active version of each model, sorted by name; [] if the folder is missing.

    A model whose active model.json is unreadable is left out and logged.
    """
    infos = []
    for name in _model_names(model_dir):
        try:
            infos.append(read_info(model_dir, name, active_version(model_dir, name)))
        except ModelError as exc:
            logger.warning("Skipping model %r: %s", name, exc.message)
    return infos


def list_versions(model_dir: Path, name: str) -> list[int]:
    """The versions of a model, ascending; NotFound if there is no such model."""
    versions = _versions(model_dir / checked_name(name, InputError))
    if not versions:
        available = ", ".join(_model_names(model_dir)) or "none"
        raise NotFound(f"Model '{name}' not found. Available models: {available}.")
    return versions


def active_version(model_dir: Path, name: str) -> int:
    """The version that predicts: the one ACTIVE names, else the highest.

    NotFound for an unknown model; ModelError if ACTIVE is unreadable or names no version.
    """
    versions = list_versions(model_dir, name)
    path = model_dir / name / _ACTIVE_FILE
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return versions[-1]
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path} is unreadable ({exc}). Run `batchscore model activate`.") from exc
    if not _VERSION_PATTERN.fullmatch(text) or int(text) not in versions:
        raise ModelError(
            f"{path} names version {text[:20]!r}, which model '{name}' does not have "
            f"({', '.join(str(v) for v in versions)}). Run `batchscore model activate`."
        )
    return int(text)


def read_info(model_dir: Path, name: str, version: int) -> ModelInfo:
    """One version's metadata, without loading its estimator; NotFound for an unknown version."""
    versions = list_versions(model_dir, name)
    if version not in versions:
        listed = ", ".join(str(v) for v in versions)
        raise NotFound(f"Model '{name}' version {version} not found. Available versions: {listed}.")
    folder = model_dir / name / str(version)
    info = _read_info(folder, name)
    if info.version != version:
        raise ModelError(f"{folder / _METADATA_FILE} says version {info.version}, not {version}.")
    return info


def load_model(model_dir: Path, name: str, version: int | None = None) -> LoadedModel:
    """Load one version of a model (None = the active one).

    Raises NotFound for an unknown name or version and ModelError when the folder's
    artifact or metadata is missing, corrupt or holds untrusted types. The estimator is
    read from disk only when that version's artifact changed since this process last read it.
    """
    name_dir = model_dir / checked_name(name, InputError)
    slot = (name_dir, version)
    cached = _loaded.get(slot)
    if cached is not None and cached[0] == _disk_state(name_dir, cached[1].info.version):
        return cached[1]
    resolved = active_version(model_dir, name) if version is None else version
    state = _disk_state(
        name_dir, resolved
    )  # before reading: a change while we read shows next time
    info = read_info(model_dir, name, resolved)
    folder = name_dir / str(resolved)
    loaded = LoadedModel(info, _cached_estimator(folder), _read_profile(folder))
    if len(_loaded) >= _LOADED_SLOTS:
        _loaded.clear()
    _loaded[slot] = (state, loaded)
    return loaded


# The last load per (model folder, version asked): a real-time predict call re-reads nothing
# while four stats show the same files. Versions and ACTIVE are added by renames in the model's
# folder, which change its mtime; model.json and the artifact are checked themselves.
_LOADED_SLOTS = 64
_loaded: dict[tuple[Path, int | None], tuple[tuple[object, ...], LoadedModel]] = {}


def _read_profile(folder: Path) -> Profile | None:
    """The version's training profile; None if it has none (imported) or it is unreadable:
    drift figures are a help, never a reason to refuse to predict."""
    try:
        return msgspec.json.decode((folder / _PROFILE_FILE).read_bytes(), type=Profile)
    except FileNotFoundError:
        return None
    except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
        logger.warning("Ignoring the unreadable %s: %s", folder / _PROFILE_FILE, exc)
        return None


def _disk_state(name_dir: Path, version: int) -> tuple[object, ...]:
    folder = name_dir / str(version)
    paths = (name_dir, name_dir / _ACTIVE_FILE, folder / _METADATA_FILE, folder / _ARTIFACT_FILE)
    return tuple(_stat_key(path) for path in paths)


def _stat_key(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_ino, stat.st_mtime_ns, stat.st_size


def activate(model_dir: Path, name: str, version: int) -> ModelInfo:
    """Make `version` the one that predicts, once it has loaded; return its metadata.

    Jobs already running keep the version they started with; the next ones use this one.
    """
    info = load_model(model_dir, name, version).info
    _write_active(model_dir / name, version)
    logger.info("Model %s v%d is active", name, version)
    return info


def save_model(
    model_dir: Path,
    name: str,
    estimator: BaseEstimator,
    *,
    task: str,
    features: Sequence[str],
    target: str,
    metrics: dict[str, float],
    training_rows: int,
    training_data_sha256: str,
    sklearn_version: str | None = None,
    kinds: Sequence[str] = (),
    missing_allowed: Collection[str] = (),
    classes: Sequence[str] | None = None,
    evaluation: str = "holdout",
    evaluation_rows: int = 0,
    source: str = "trained",
    note: str = "",
    created_by: str = "",
    profile: Profile | None = None,
    activate: bool = False,
) -> ModelInfo:
    """Save a fitted estimator as the next version of `name` and return its metadata.

    The new version predicts if `activate` is set or it is the model's first; otherwise the
    active version stays as it was. `classes` defaults to the estimator's, `sklearn_version` to
    the running one; the other keywords are ModelInfo's fields. The version folder appears
    whole or not at all: it is built in a temporary folder and renamed into place. Raises
    ModelError, before writing anything, for a bad name, an unfitted estimator, features that
    do not match it, or an artifact load_model would refuse.
    """
    base = ModelInfo(
        name=checked_name(name),
        version=1,
        task=task,
        features=tuple(features),
        target=target,
        classes=_classes(estimator, task, classes),
        metrics={key: float(value) for key, value in metrics.items()},
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        training_rows=training_rows,
        training_data_sha256=training_data_sha256,
        sklearn_version=sklearn_version or sklearn.__version__,
        kinds=tuple(kinds),
        missing_allowed=frozenset(missing_allowed),
        evaluation=evaluation,
        evaluation_rows=evaluation_rows,
        source=source,
        note=note,
        created_by=created_by,
        estimator=type(final_step(estimator)).__name__,
        incremental=hasattr(final_step(estimator), "partial_fit"),
    )
    try:  # a saved model.json must pass the same checks load_model applies
        ModelInfo.from_json(base.to_json())
    except ModelError as exc:
        raise ModelError(f"Cannot save model '{name}': {exc.message}.") from exc
    _check_estimator(estimator, base)
    artifact = _artifact(estimator, name)  # refused before anything is written
    name_dir = model_dir / name
    name_dir.mkdir(parents=True, exist_ok=True)
    # Not tempfile.mkdtemp: its 0700 mode would lock out a server running as another user.
    tmp = name_dir / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        (tmp / _ARTIFACT_FILE).write_bytes(artifact)
        if profile is not None:
            (tmp / _PROFILE_FILE).write_bytes(msgspec.json.encode(profile))
        previous = _versions(name_dir)
        if previous and not activate and not (name_dir / _ACTIVE_FILE).exists():
            _write_active(name_dir, previous[-1])  # else the new highest would predict
        info = _publish(tmp, name_dir, base)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if activate:
        _write_active(name_dir, info.version)
    return info


def _write_active(name_dir: Path, version: int) -> None:
    """Replace ACTIVE in one rename, so a reader sees the old version or the new, never half."""
    tmp = name_dir / f".{_ACTIVE_FILE}-{uuid.uuid4().hex}"
    tmp.write_text(f"{version}\n", encoding="utf-8")
    os.replace(tmp, name_dir / _ACTIVE_FILE)


def _publish(tmp: Path, name_dir: Path, base: ModelInfo) -> ModelInfo:
    """Write model.json for the next free version and rename `tmp` to that version's folder."""
    for _ in range(_SAVE_ATTEMPTS):
        info = replace(base, version=max(_versions(name_dir), default=0) + 1)
        text = json.dumps(info.to_json(), indent=2) + "\n"
        (tmp / _METADATA_FILE).write_text(text, encoding="utf-8")
        target = name_dir / str(info.version)
        try:
            os.rename(tmp, target)
        except OSError:
            if not target.exists():
                raise
            continue  # a concurrent save took this version; try the next one
        logger.info("Saved model %s v%d in %s", info.name, info.version, target)
        return info
    raise ModelError(f"Could not save model '{base.name}': {name_dir} keeps changing under us.")


def _artifact(estimator: BaseEstimator, name: str) -> bytes:
    try:
        data: bytes = skops.io.dumps(estimator)
    except Exception as exc:  # skops raises many types for objects it cannot persist
        raise ModelError(f"Could not save model '{name}' in skops format: {exc}") from exc
    refused = _refused_types(skops.io.get_untrusted_types(data=data))
    if refused:
        raise ModelError(
            f"Could not save model '{name}': it holds {_types(refused)} outside the types "
            "batchscore trusts. Use plain scikit-learn steps; a custom class or function "
            "cannot be loaded safely."
        )
    return data


def _types(names: Sequence[str]) -> str:
    return ("the type " if len(names) == 1 else "the types ") + ", ".join(names)


def _read_info(folder: Path, name: str) -> ModelInfo:
    path = folder / _METADATA_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ModelError(
            f"Model folder {folder} has no {_METADATA_FILE}. Re-save the model."
        ) from None
    except (OSError, ValueError) as exc:
        raise ModelError(f"{path} is not readable JSON ({exc}). Re-save the model.") from exc
    try:
        info = ModelInfo.from_json(data)
    except ModelError as exc:
        raise ModelError(f"{path} is invalid: {exc.message}. Re-save the model.") from exc
    if info.name != name:
        raise ModelError(f"{path} says the model is '{info.name}', but its folder is '{name}'.")
    return info


def _cached_estimator(folder: Path) -> BaseEstimator:
    """The folder's estimator, loaded once per process while its artifact file is unchanged.

    Vetting and loading a skops file costs ~15 ms, more than scoring a small file; a worker
    scores many files with one model. A re-saved or replaced artifact has a new stat key.
    """
    path = folder / _ARTIFACT_FILE
    try:
        stat = path.stat()
    except (FileNotFoundError, NotADirectoryError):
        raise ModelError(
            f"Model folder {folder} has no {_ARTIFACT_FILE}. Re-save the model."
        ) from None
    return _read_estimator(path, stat.st_ino, stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _read_estimator(path: Path, _ino: int, _mtime_ns: int, _size: int) -> BaseEstimator:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path} could not be read ({exc.strerror}).") from exc
    try:
        return read_skops(data)[0]
    except ModelError as exc:
        raise ModelError(f"{path}: {exc.message} Re-save it.") from exc


def read_skops(data: bytes) -> tuple[BaseEstimator, str | None]:
    """The estimator in a skops file's bytes, and the scikit-learn version that fitted it when
    not this one. ModelError if the file holds a type outside skops' defaults and
    TRUSTED_TYPES (naming it), is damaged, or is not a scikit-learn estimator."""
    try:
        untrusted = skops.io.get_untrusted_types(data=data)
    except Exception as exc:  # a damaged zip or schema can fail in many ways; none is our bug
        raise ModelError(f"It is corrupt or not a skops file ({exc}).") from exc
    refused = _refused_types(untrusted)
    if refused:
        raise ModelError(
            f"It holds {_types(refused)}, which batchscore does not trust, so it was not "
            "loaded: loading a type runs its code. Re-save the model with plain scikit-learn "
            "steps (no custom classes or functions)."
        )
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", InconsistentVersionWarning)
            estimator = skops.io.loads(data, trusted=untrusted)
    except Exception as exc:  # every type was vetted above, so this is damage or a version clash
        raise ModelError(f"It could not be loaded ({exc}).") from exc
    if not isinstance(estimator, BaseEstimator) or not hasattr(estimator, "predict"):
        raise ModelError(f"It holds a {type(estimator).__name__}, not a scikit-learn estimator.")
    check_trees(estimator)
    return estimator, fitted_with(caught)


def fitted_with(caught: Sequence[warnings.WarningMessage]) -> str | None:
    """The scikit-learn version an unpickled estimator names, if another than this one; other
    warnings raised while loading are passed on."""
    version = None
    for warning in caught:
        if isinstance(warning.message, InconsistentVersionWarning):
            version = str(warning.message.original_sklearn_version)
        else:
            warnings.warn_explicit(
                warning.message, warning.category, warning.filename, warning.lineno
            )
    return version


def version_warning(info: ModelInfo) -> str | None:
    """Why a version's predictions may differ from where it was fitted: another scikit-learn."""
    if info.sklearn_version == sklearn.__version__:
        return None
    return (
        f"Saved with scikit-learn {info.sklearn_version}; this server runs "
        f"{sklearn.__version__}. It loads and scores, but scikit-learn does not promise the "
        f"same predictions across versions: re-save it with {sklearn.__version__} to be sure."
    )


def final_step(estimator: BaseEstimator) -> BaseEstimator:
    """The estimator that makes the prediction: a Pipeline's last step, else itself."""
    return estimator.steps[-1][1] if isinstance(estimator, Pipeline) else estimator


def _refused_types(untrusted: Sequence[str]) -> list[str]:
    """Return the types among skops' untrusted list that we do not accept."""
    return [name for name in untrusted if name not in TRUSTED_TYPES]


def _check_estimator(estimator: BaseEstimator, info: ModelInfo) -> None:
    if not isinstance(estimator, BaseEstimator) or not hasattr(estimator, "predict"):
        raise ModelError(f"Model '{info.name}': {type(estimator).__name__} cannot predict.")
    try:
        check_is_fitted(estimator)
    except NotFittedError as exc:
        raise ModelError(f"Model '{info.name}': the estimator is not fitted.") from exc
    fitted_names = getattr(estimator, "feature_names_in_", None)
    if fitted_names is not None and tuple(str(n) for n in fitted_names) != info.features:
        raise ModelError(
            f"Model '{info.name}': features {', '.join(info.features)} differ from the columns "
            f"the estimator was fitted on ({', '.join(str(n) for n in fitted_names)})."
        )
    fitted_count = getattr(estimator, "n_features_in_", len(info.features))
    if fitted_count != len(info.features):
        raise ModelError(
            f"Model '{info.name}': {len(info.features)} features given, "
            f"but the estimator was fitted on {fitted_count}."
        )


def _classes(
    estimator: BaseEstimator, task: str, given: Sequence[str] | None
) -> tuple[str, ...] | None:
    """Class labels as text: the estimator's, or names given for them (same count)."""
    if task != "classification":
        return None
    fitted = getattr(estimator, "classes_", None)
    if fitted is None:
        raise ModelError("A classification model must be a fitted classifier with classes_.")
    if given is None:
        return tuple(str(label) for label in fitted)
    if len(set(given)) != len(given):
        raise ModelError(f"The class names {', '.join(given)} name a class twice.")
    if len(given) != len(fitted):
        raise ModelError(
            f"{len(given)} class names given for the model's {len(fitted)} classes "
            f"({', '.join(str(label) for label in fitted)})."
        )
    return tuple(given)


def _model_names(model_dir: Path) -> list[str]:
    """Names of the model folders that hold at least one version, sorted."""
    if not model_dir.is_dir():
        return []
    return sorted(
        path.name
        for path in model_dir.iterdir()
        if NAME_PATTERN.fullmatch(path.name) and _versions(path)
    )


def _versions(name_dir: Path) -> list[int]:
    """Version numbers present under a model folder, ascending; temp folders are ignored."""
    if not name_dir.is_dir():
        return []
    return sorted(
        int(path.name)
        for path in name_dir.iterdir()
        if _VERSION_PATTERN.fullmatch(path.name) and path.is_dir()
    )

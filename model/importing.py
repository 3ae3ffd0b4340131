"""Bring a model trained elsewhere: a skops file, an MLflow model (folder or zip), or — on the
operator's explicit word — a joblib/pickle file. It becomes a version like any trained here.

Its schema (features, their order and kinds, which may be empty) is read from the model: the
MLflow signature, then the pipeline itself (model.features). Nothing is written until the model
has loaded and passed every check, and it is saved as skops under the same trust list as every
other version, so MODEL_DIR only ever holds files that load without running code.
"""

from __future__ import annotations

import io
import json
import logging
import warnings
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import joblib
import sklearn
import yaml
from sklearn.base import BaseEstimator, is_classifier, is_regressor

from batchscore.errors import InputError, ModelError
from batchscore.model.features import expected
from batchscore.model.metadata import TASKS, ModelInfo
from batchscore.model.registry import fitted_with, read_skops, save_model

logger = logging.getLogger(__name__)

_MLMODEL = "MLmodel"
_PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".sav")
# Pickle protocol 2+ opens with 0x80; joblib may compress it (zlib, gzip, bz2, xz, lz4).
_PICKLE_STARTS = (b"\x80", b"\x78", b"\x1f\x8b", b"BZh", b"\xfd7zXZ", b"\x04\x22\x4d\x18")
_MAX_MEMBER_BYTES = 2 * 1024**3  # a zip member larger than this is not a model we read whole
# MLflow column types (mlflow.types.DataType) → our feature kinds.
_MLFLOW_KINDS = {
    "double": "number",
    "float": "number",
    "long": "number",
    "integer": "number",
    "string": "text",
    "boolean": "boolean",
}
_REFUSE_PICKLE = (
    "{what} is a pickle: loading it runs whatever code it holds, so batchscore does not load "
    "one {where}. Save the model with skops (skops.io.dump(model, 'model.skops')) or MLflow "
    "(mlflow.sklearn.save_model) and import that{hint}."
)


_Reader = Callable[[str], bytes]  # a file of the MLflow model by its relative path


@dataclass(frozen=True)
class ImportPlan:
    """What the importer cannot read from the model, or what to say instead of what it reads."""

    features: tuple[str, ...] | None = None  # default: the MLflow signature or feature_names_in_
    target: str | None = None  # what it predicts; default: the model's name
    task: str | None = None  # default: from the estimator (classifier or regressor)
    classes: tuple[str, ...] | None = None  # names for the estimator's classes_, in its order
    note: str = ""
    activate: bool = False
    trust_pickle: bool = False  # the operator's decision to run the file's code (CLI only)
    created_by: str = ""  # who imports it: the new version's created_by


@dataclass(frozen=True)
class _Found:
    estimator: BaseEstimator
    fitted_with: str | None  # the scikit-learn version that fitted it, if not the running one
    signature: list[tuple[str, str]] | None  # (name, MLflow type) per input column


def import_model(
    model_dir: Path, name: str, path: Path, plan: ImportPlan, *, shown_name: str | None = None
) -> ModelInfo:
    """Save the model at `path` as the next version of `name` and return its metadata.

    InputError for a file that is not a model batchscore reads (a pickle without trust_pickle
    among them) or that fails a check: the file is the user's input, not a broken version.
    MODEL_DIR is left as it was. `shown_name` is the file's name as the user knows it.
    """
    try:
        return _import(model_dir, name, path, plan, shown_name or path.name)
    except ModelError as exc:
        raise InputError(exc.message) from exc


def _import(model_dir: Path, name: str, path: Path, plan: ImportPlan, shown: str) -> ModelInfo:
    if plan.task is not None and plan.task not in TASKS:
        raise InputError(f"Unknown task {plan.task!r}; choose one of {', '.join(TASKS)}.")
    found = _read(path, shown, plan.trust_pickle)
    estimator = found.estimator
    features = plan.features or _features(found, shown)
    task = plan.task or _task(estimator, shown)
    schema = expected(estimator, features)
    kinds = schema.kinds
    if found.signature is not None and plan.features is None:
        kinds = tuple(_MLFLOW_KINDS[kind] for _, kind in found.signature)
    info = save_model(
        model_dir,
        name,
        estimator,
        task=task,
        features=features,
        target=plan.target or name,
        metrics={},
        training_rows=0,
        training_data_sha256="",
        sklearn_version=found.fitted_with,
        kinds=kinds,
        missing_allowed=schema.missing_allowed,
        classes=plan.classes,
        evaluation="none",
        source=f"imported from {shown}",
        note=plan.note,
        created_by=plan.created_by,
        activate=plan.activate,
    )
    logger.info("Imported %s as model %s v%d", shown, info.name, info.version)
    return info


def _read(path: Path, shown: str, trust_pickle: bool) -> _Found:
    """Tell the format from the content (names lie), then load it."""
    if path.is_dir():
        if not (path / _MLMODEL).is_file():
            raise InputError(
                f"{shown} is a folder without an {_MLMODEL} file; a folder is imported only "
                "when it is an MLflow model (mlflow.sklearn.save_model writes one)."
            )

        def member(relative: str) -> bytes:
            try:
                return (path / relative).read_bytes()
            except OSError as exc:
                raise InputError(f"{shown}: {relative} cannot be read ({exc.strerror}).") from exc

        return _from_mlflow(member, shown, trust_pickle)
    try:
        with path.open("rb") as file:
            head = file.read(8)
    except OSError as exc:
        raise InputError(f"Cannot open {shown}: {exc.strerror}.") from exc
    if zipfile.is_zipfile(path):
        return _from_zip(path, shown, trust_pickle)
    suffix = PurePosixPath(shown).suffix.lower()  # an upload's stored name may differ
    if suffix == ".onnx":
        raise InputError(
            f"{shown} is an ONNX model, which batchscore does not import: it scores "
            "scikit-learn models. Import the pipeline itself, saved with skops or MLflow."
        )
    if head.startswith(_PICKLE_STARTS) or suffix in _PICKLE_SUFFIXES:
        if not trust_pickle:
            raise InputError(
                _REFUSE_PICKLE.format(
                    what=shown,
                    where="unless told to",
                    hint=", or, at the command line, pass --trust-pickle if you trust who "
                    "made the file",
                )
            )
        return _Found(*_unpickle(path.read_bytes(), shown), signature=None)
    raise InputError(
        f"{shown} is not a model file batchscore reads. Give a skops file, an MLflow model "
        "(its folder, or a zip of it) or, at the command line, a joblib/pickle file with "
        "--trust-pickle."
    )


def _from_zip(path: Path, shown: str, trust_pickle: bool) -> _Found:
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        if "schema.json" in names:  # a skops file is a zip with its schema at the top
            return _from_skops(path.read_bytes(), shown)
        mlmodels = sorted(
            (n for n in names if PurePosixPath(n).name == _MLMODEL), key=lambda n: n.count("/")
        )
        if not mlmodels:
            raise InputError(
                f"{shown} is a zip without an {_MLMODEL} file, so not an MLflow model; nor is "
                "it a skops file."
            )
        root = PurePosixPath(mlmodels[0]).parent

        def member(relative: str) -> bytes:
            entry = (root / relative).as_posix()
            if entry not in names:
                raise InputError(f"{shown} lacks {entry}, which its {_MLMODEL} names.")
            if archive.getinfo(entry).file_size > _MAX_MEMBER_BYTES:
                raise InputError(f"{shown}: {entry} is larger than batchscore reads.")
            return archive.read(entry)

        return _from_mlflow(member, shown, trust_pickle)


def _from_mlflow(member: _Reader, shown: str, trust_pickle: bool) -> _Found:
    try:
        mlmodel = yaml.safe_load(member(_MLMODEL))
        flavor = mlmodel["flavors"]["sklearn"]
        artifact = str(flavor["pickled_model"])
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise InputError(
            f"{shown} is not an MLflow scikit-learn model: its {_MLMODEL} has no sklearn "
            "flavor. batchscore imports models saved with mlflow.sklearn."
        ) from exc
    if PurePosixPath(artifact).is_absolute() or ".." in PurePosixPath(artifact).parts:
        raise InputError(f"{shown}: its {_MLMODEL} points outside the model ({artifact}).")
    data = member(artifact)
    if flavor.get("serialization_format") == "skops":
        found = _from_skops(data, shown)
    elif trust_pickle:
        found = _Found(*_unpickle(data, shown), signature=None)
    else:
        raise InputError(
            _REFUSE_PICKLE.format(
                what=f"{shown}'s model ({artifact})",
                where="unless told to",
                hint=" (MLflow 3 saves skops by default), or pass --trust-pickle at the "
                "command line if you trust who made it",
            )
        )
    saved_with = found.fitted_with or _other_version(flavor.get("sklearn_version"))
    return _Found(found.estimator, saved_with, _signature(mlmodel, shown))


def _from_skops(data: bytes, shown: str) -> _Found:
    try:
        estimator, version = read_skops(data)
    except ModelError as exc:
        raise InputError(f"{shown}: {exc.message}") from exc
    return _Found(estimator, version, signature=None)


def _unpickle(data: bytes, shown: str) -> tuple[BaseEstimator, str | None]:
    logger.warning("Unpickling %s: the operator trusted it (--trust-pickle)", shown)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            estimator = joblib.load(io.BytesIO(data))
    except Exception as exc:  # an unpickler raises anything the file's code raises
        raise ModelError(f"{shown} could not be unpickled ({type(exc).__name__}: {exc}).") from exc
    if not isinstance(estimator, BaseEstimator) or not hasattr(estimator, "predict"):
        raise ModelError(f"{shown} holds a {type(estimator).__name__}, not a fitted estimator.")
    return estimator, fitted_with(caught)


def _signature(mlmodel: dict[str, object], shown: str) -> list[tuple[str, str]] | None:
    signature = mlmodel.get("signature")
    if not isinstance(signature, dict) or not signature.get("inputs"):
        return None
    try:
        columns = json.loads(str(signature["inputs"]))
        described = [(str(c["name"]), str(c["type"])) for c in columns]
    except (ValueError, KeyError, TypeError):
        return None  # a tensor signature names no columns: the pipeline's own names decide
    unknown = sorted({kind for _, kind in described if kind not in _MLFLOW_KINDS})
    if unknown:
        raise InputError(
            f"{shown}'s signature has columns of type {', '.join(unknown)}; batchscore scores "
            f"{', '.join(sorted(_MLFLOW_KINDS))} columns."
        )
    return described


def _other_version(version: object) -> str | None:
    return None if version in (None, sklearn.__version__) else str(version)


def _features(found: _Found, shown: str) -> tuple[str, ...]:
    if found.signature is not None:
        return tuple(name for name, _ in found.signature)
    names = getattr(found.estimator, "feature_names_in_", None)
    if names is None:
        count = getattr(found.estimator, "n_features_in_", "its")
        raise InputError(
            f"{shown} does not record its feature names (it was fitted on an array, not a "
            f"DataFrame). Name its {count} features, in the order it was fitted on, with "
            "--features (or the form field features)."
        )
    return tuple(str(name) for name in names)


def _task(estimator: BaseEstimator, shown: str) -> str:
    if is_classifier(estimator):
        return "classification"
    if is_regressor(estimator):
        return "regression"
    raise InputError(
        f"{shown} holds a {type(estimator).__name__}, which is neither a classifier nor a "
        "regressor. Say which with --task (or the form field task)."
    )

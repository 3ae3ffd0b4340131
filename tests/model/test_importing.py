"""Importing models trained elsewhere: skops files, MLflow models, pickles on trust, and
every refusal, which leaves MODEL_DIR as it was."""

from __future__ import annotations

import io
import shutil
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import skops.io
from owned_models import CHURN_FEATURES, churn_frame, churn_pipeline, save_mlflow, write_csv
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from batchscore.errors import InputError
from batchscore.model.importing import ImportPlan, import_model
from batchscore.model.predict import predict_chunk, predict_records, predicted_probability
from batchscore.model.registry import load_model, version_warning

OLD_MODEL = Path(__file__).parents[1] / "data" / "models" / "churn-sklearn-1.8.0.skops"


@pytest.fixture(scope="module")
def churn() -> tuple[pd.DataFrame, Pipeline]:
    frame = churn_frame()
    return frame, churn_pipeline(frame)


def as_uploaded(frame: pd.DataFrame, tmp_path: Path) -> pd.DataFrame:
    """The frame as the scheduler reads its CSV: every cell text, '' when empty."""
    path = write_csv(frame, tmp_path / "customers.csv")
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def assert_scores_like_the_pipeline(
    model_dir: Path, churn: tuple[pd.DataFrame, Pipeline], tmp_path: Path
) -> None:
    frame, pipeline = churn
    features = frame[list(CHURN_FEATURES)]
    scored = predict_chunk(load_model(model_dir, "churn"), as_uploaded(frame, tmp_path))

    assert scored.errors.isna().all()  # 2,000 of 2,000, empty cells and all
    assert scored.predictions.tolist() == pipeline.predict(features).tolist()
    assert scored.probabilities is not None
    np.testing.assert_array_equal(scored.probabilities.to_numpy(), pipeline.predict_proba(features))
    np.testing.assert_array_equal(
        predicted_probability(scored), pipeline.predict_proba(features).max(axis=1)
    )


def test_a_skops_pipeline_imports_with_its_schema_and_scores_every_row(
    model_dir: Path, churn: tuple[pd.DataFrame, Pipeline], tmp_path: Path
) -> None:
    frame, pipeline = churn
    assert frame.isna().any(axis=1).sum() > 90  # rows with an empty cell
    path = tmp_path / "churn.skops"
    skops.io.dump(pipeline, path)

    info = import_model(model_dir, "churn", path, ImportPlan())

    assert (info.version, info.task, info.classes) == (1, "classification", ("no", "yes"))
    assert info.features == CHURN_FEATURES
    assert info.kinds == ("number", "number", "text", "text")
    assert info.missing_allowed == set(CHURN_FEATURES)  # each goes through an imputer
    assert (info.source, info.evaluation, info.training_rows) == (
        "imported from churn.skops",
        "none",
        0,
    )
    assert version_warning(info) is None
    assert_scores_like_the_pipeline(model_dir, churn, tmp_path)


@pytest.mark.slow  # MLflow saves the model: seconds each
@pytest.mark.parametrize("packed", [False, True], ids=["folder", "zip"])
def test_an_mlflow_model_imports_from_its_signature(
    model_dir: Path, churn: tuple[pd.DataFrame, Pipeline], tmp_path: Path, packed: bool
) -> None:
    frame, pipeline = churn
    folder = save_mlflow(pipeline, frame, tmp_path / "churn_model")
    assert (folder / "model.skops").exists()  # MLflow 3's default for scikit-learn
    path = (
        Path(shutil.make_archive(str(folder), "zip", tmp_path, folder.name)) if packed else folder
    )

    info = import_model(model_dir, "churn", path, ImportPlan(note="from the notebook"))

    assert info.features == CHURN_FEATURES
    assert info.kinds == ("number", "number", "text", "text")  # the signature's double, string
    assert info.note == "from the notebook"
    assert_scores_like_the_pipeline(model_dir, churn, tmp_path)


def test_json_records_take_text_and_null_where_the_model_imputes(
    model_dir: Path, churn: tuple[pd.DataFrame, Pipeline], tmp_path: Path
) -> None:
    pipeline = churn[1]
    skops.io.dump(pipeline, tmp_path / "churn.skops")
    import_model(model_dir, "churn", tmp_path / "churn.skops", ImportPlan())
    record = {"age": 61, "income": None, "region": "south", "plan": "pro"}

    (answer,) = predict_records(load_model(model_dir, "churn"), [record])

    expected = pd.DataFrame([record]).astype({"income": float})
    assert answer.prediction == pipeline.predict(expected)[0]
    assert answer.probabilities == dict(
        zip(("no", "yes"), pipeline.predict_proba(expected)[0], strict=True)
    )
    with pytest.raises(InputError, match="The record: region must be a string, not 3"):
        predict_records(load_model(model_dir, "churn"), [{**record, "region": 3}])


def test_an_empty_cell_is_a_row_error_where_the_model_cannot_fill_it_in(
    model_dir: Path, tmp_path: Path
) -> None:
    frame = churn_frame().dropna()
    plain = LogisticRegression(max_iter=1000).fit(frame[["age", "income"]], frame["churned"])
    skops.io.dump(plain, tmp_path / "plain.skops")
    info = import_model(model_dir, "plain", tmp_path / "plain.skops", ImportPlan())
    chunk = pd.DataFrame({"age": ["30", ""], "income": ["40", "50"]})

    scored = predict_chunk(load_model(model_dir, "plain"), chunk)

    assert info.missing_allowed == frozenset()
    assert scored.predictions.notna().tolist() == [True, False]
    assert scored.errors.tolist() == [None, "age is empty"]


def test_a_model_fitted_on_an_array_needs_its_features_named(
    model_dir: Path, tmp_path: Path
) -> None:
    frame = churn_frame().dropna()
    bare = LogisticRegression(max_iter=1000).fit(
        frame[["age", "income"]].to_numpy(), frame["churned"]
    )
    skops.io.dump(bare, tmp_path / "bare.skops")

    with pytest.raises(InputError, match=r"Name its 2 features, in the order it was fitted on"):
        import_model(model_dir, "bare", tmp_path / "bare.skops", ImportPlan())
    assert not model_dir.exists()

    plan = ImportPlan(features=("age", "income"), classes=("stays", "leaves"), target="churn")
    info = import_model(model_dir, "bare", tmp_path / "bare.skops", plan)
    (answer,) = predict_records(load_model(model_dir, "bare"), [{"age": 70, "income": 20}])

    assert (info.features, info.target, info.classes) == (
        ("age", "income"),
        "churn",
        ("stays", "leaves"),
    )
    expected = bare.predict_proba(np.array([[70.0, 20.0]]))[0]
    assert answer.probabilities == dict(zip(("stays", "leaves"), expected, strict=True))
    assert answer.prediction == ("stays", "leaves")[int(expected.argmax())]


def test_a_model_from_an_older_scikit_learn_shows_it_and_still_scores(
    model_dir: Path,
) -> None:
    info = import_model(model_dir, "old", OLD_MODEL, ImportPlan())
    scored_then = pd.read_csv(
        OLD_MODEL.with_name("churn-sklearn-1.8.0-scored.csv"), dtype=str, keep_default_na=False
    )

    scored = predict_chunk(load_model(model_dir, "old"), scored_then)

    assert info.sklearn_version == "1.8.0"
    warning = version_warning(info)
    assert warning is not None and warning.startswith(
        "Saved with scikit-learn 1.8.0; this server runs"
    )
    assert scored.predictions.tolist() == scored_then["prediction"].tolist()
    np.testing.assert_allclose(
        predicted_probability(scored), scored_then["probability"].astype(float), rtol=1e-12
    )


def test_a_pickle_is_loaded_only_on_the_operators_word(
    model_dir: Path, churn: tuple[pd.DataFrame, Pipeline], tmp_path: Path
) -> None:
    path = tmp_path / "churn.joblib"
    joblib.dump(churn[1], path)
    renamed = tmp_path / "churn.bin"  # the content tells, not the name
    shutil.copy(path, renamed)

    for refused in (path, renamed):
        with pytest.raises(InputError, match="is a pickle: loading it runs whatever code it holds"):
            import_model(model_dir, "churn", refused, ImportPlan())
    assert not model_dir.exists()

    info = import_model(model_dir, "churn", path, ImportPlan(trust_pickle=True))
    assert info.features == CHURN_FEATURES
    assert_scores_like_the_pipeline(model_dir, churn, tmp_path)
    # Saved again as skops: what MODEL_DIR holds loads without running code.
    assert sorted(p.name for p in (model_dir / "churn" / "1").iterdir()) == [
        "model.json",
        "model.skops",
    ]


@pytest.mark.slow  # MLflow saves the model: seconds each
def test_an_mlflow_model_pickled_with_cloudpickle_needs_the_same_word(
    model_dir: Path, churn: tuple[pd.DataFrame, Pipeline], tmp_path: Path
) -> None:
    frame, pipeline = churn
    folder = save_mlflow(
        pipeline,
        frame,
        tmp_path / "pickled",
        serialization_format="cloudpickle",
        skops_trusted_types=None,
    )

    with pytest.raises(InputError, match=r"pickled's model \(model.pkl\) is a pickle"):
        import_model(model_dir, "churn", folder, ImportPlan())
    assert not model_dir.exists()
    assert import_model(model_dir, "churn", folder, ImportPlan(trust_pickle=True)).version == 1


@pytest.mark.parametrize(
    ("payload", "type_name"),
    [
        (make_pipeline(FunctionTransformer(eval), LogisticRegression()), "builtins.eval"),
        (make_pipeline(FunctionTransformer(shutil.rmtree), LogisticRegression()), "shutil.rmtree"),
    ],
)
def test_a_skops_file_with_a_type_outside_the_allow_list_is_refused_naming_it(
    model_dir: Path, tmp_path: Path, payload: Pipeline, type_name: str
) -> None:
    path = tmp_path / "custom.skops"
    skops.io.dump(payload, path)

    with pytest.raises(
        InputError,
        match=f"custom.skops: It holds the type {type_name}, which batchscore does not trust",
    ):
        import_model(model_dir, "custom", path, ImportPlan())
    assert not model_dir.exists()


def tampered(data: bytes, field: str, value: int) -> bytes:
    """The skops file with `field` of the first node array that has it set to `value` at 0."""
    source, out = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    done = False
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            content = source.read(name)
            if name.endswith(".npy") and not done:
                array = np.load(io.BytesIO(content), allow_pickle=False)
                if array.dtype.names and field in array.dtype.names:
                    array[field][0] = value
                    buffer = io.BytesIO()
                    np.save(buffer, array, allow_pickle=False)
                    content, done = buffer.getvalue(), True
            target.writestr(name, content)
    assert done, field
    return out.getvalue()


@pytest.mark.parametrize(
    ("estimator", "field", "value", "why"),
    [
        (
            RandomForestClassifier(n_estimators=3, random_state=0),
            "left_child",
            10**6,
            "points outside its tree",
        ),
        (RandomForestClassifier(n_estimators=3, random_state=0), "left_child", 0, "back up it"),
        (
            RandomForestClassifier(n_estimators=3, random_state=0),
            "feature",
            40,
            "a column the model is not given",
        ),
        (HistGradientBoostingClassifier(max_iter=3), "right", 10**6, "points outside its tree"),
        (
            HistGradientBoostingClassifier(max_iter=3),
            "feature_idx",
            9,
            "a column the model is not given",
        ),
    ],
)
def test_a_tree_pointing_outside_itself_is_refused_before_it_predicts(
    model_dir: Path, tmp_path: Path, estimator: object, field: str, value: int, why: str
) -> None:
    frame = churn_frame().dropna()
    estimator.fit(frame[["age", "income"]], frame["churned"])  # type: ignore[attr-defined]
    path = tmp_path / "crafted.skops"
    path.write_bytes(tampered(skops.io.dumps(estimator), field, value))

    with pytest.raises(InputError, match=why):
        import_model(model_dir, "crafted", path, ImportPlan())
    assert not model_dir.exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "model.onnx",
            b"\x08\x07\x12\x07pytorch",
            "is an ONNX model, which batchscore does not import",
        ),
        ("notes.txt", b"just some text", "is not a model file batchscore reads"),
        ("archive.zip", None, "is a zip without an MLmodel file"),
    ],
)
def test_files_that_are_not_models_are_refused_saying_what_is_accepted(
    model_dir: Path, tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is None:
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("readme.txt", "hello")
    else:
        path.write_bytes(content)

    with pytest.raises(InputError, match=message):
        import_model(model_dir, "m", path, ImportPlan())
    with pytest.raises(InputError, match="a folder without an MLmodel file"):
        import_model(model_dir, "m", tmp_path, ImportPlan())
    assert not model_dir.exists()


@pytest.mark.slow  # MLflow saves the model: seconds each
def test_an_mlflow_folder_missing_its_model_file_is_refused_naming_it(
    model_dir: Path, churn: tuple[pd.DataFrame, Pipeline], tmp_path: Path
) -> None:
    folder = save_mlflow(churn[1], churn[0], tmp_path / "churn_model")
    (folder / "model.skops").unlink()

    with pytest.raises(InputError, match=r"^churn_model: model.skops cannot be read"):
        import_model(model_dir, "churn", folder, ImportPlan())
    assert not model_dir.exists()

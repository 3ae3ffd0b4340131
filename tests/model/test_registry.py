"""Model folders: save, list, load, and refusing what must not be loaded."""

from __future__ import annotations

import functools
import json
import logging
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pytest
import skops.io
from sklearn.base import BaseEstimator
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.utils import Bunch

from batchscore.errors import InputError, ModelError, NotFound
from batchscore.model.metadata import ModelInfo
from batchscore.model.registry import activate, active_version, list_models, load_model, save_model

SaveIris = Callable[..., ModelInfo]


class Booby:
    """Writes a marker file when restored from its state, showing whether loading ran its code."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __getstate__(self) -> dict[str, str]:
        return {"marker": self.marker}

    def __setstate__(self, state: dict[str, str]) -> None:
        Path(state["marker"]).write_text("code ran during load")


def _double(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    return values * 2


def test_save_model_then_load_model_predicts_the_same(
    save_iris: SaveIris,
    model_dir: Path,
    iris_classifier: BaseEstimator,
    iris_features: pd.DataFrame,
) -> None:
    saved = save_iris()

    loaded = load_model(model_dir, "iris")

    assert loaded.info == saved
    expected = iris_classifier.predict(iris_features)
    np.testing.assert_array_equal(loaded.estimator.predict(iris_features), expected)


def test_load_model_reuses_the_loaded_estimator_until_its_file_changes(
    save_iris: SaveIris, model_dir: Path, iris_features: pd.DataFrame
) -> None:
    save_iris()
    first = load_model(model_dir, "iris").estimator
    assert load_model(model_dir, "iris").estimator is first
    artifact = model_dir / "iris" / "1" / "model.skops"
    replacement = make_pipeline(LogisticRegression(max_iter=500)).fit(
        iris_features, ["a"] * 75 + ["b"] * (len(iris_features) - 75)
    )
    skops.io.dump(replacement, artifact)  # an operator replaces the file in place

    reloaded = load_model(model_dir, "iris").estimator

    assert reloaded is not first
    assert set(reloaded.predict(iris_features)) == {"a", "b"}


def test_a_loaded_model_is_reused_while_its_files_are_unchanged(
    save_iris: SaveIris, model_dir: Path
) -> None:
    save_iris()
    first = load_model(model_dir, "iris")

    assert load_model(model_dir, "iris") is first


def _rewrite_metrics(version_dir: Path) -> None:
    metadata = version_dir / "model.json"
    metadata.write_text(json.dumps({**json.loads(metadata.read_text()), "metrics": {"r": 0.5}}))


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda folder: (folder / "ACTIVE").write_text("2\n"), 2),
        (lambda folder: (folder / "ACTIVE").unlink(), 2),
        (lambda folder: _rewrite_metrics(folder / "1"), {"r": 0.5}),
        (lambda folder: (folder / "1" / "model.skops").unlink(), ModelError),
        (lambda folder: shutil.rmtree(folder / "1"), ModelError),
    ],
    ids=["ACTIVE rewritten", "ACTIVE removed", "metadata rewritten", "artifact gone", "gone"],
)
def test_load_model_sees_a_change_another_process_made_since_the_last_load(
    save_iris: SaveIris, model_dir: Path, change: Callable[[Path], object], expected: object
) -> None:
    save_iris()
    save_iris()  # version 2, not active: ACTIVE keeps naming 1
    assert load_model(model_dir, "iris").info.version == 1

    change(model_dir / "iris")

    if expected is ModelError:
        with pytest.raises(ModelError):
            load_model(model_dir, "iris")
    elif isinstance(expected, dict):
        assert load_model(model_dir, "iris").info.metrics == expected
    else:
        assert load_model(model_dir, "iris").info.version == expected


def test_save_model_writes_artifact_and_metadata_into_version_folder(
    save_iris: SaveIris, model_dir: Path
) -> None:
    info = save_iris()

    assert sorted(path.name for path in (model_dir / "iris").iterdir()) == ["1"]
    assert sorted(path.name for path in (model_dir / "iris" / "1").iterdir()) == [
        "model.json",
        "model.skops",
    ]
    assert json.loads((model_dir / "iris" / "1" / "model.json").read_text()) == info.to_json()


def test_save_model_records_metadata(save_iris: SaveIris) -> None:
    info = save_iris()

    assert info.name == "iris"
    assert info.task == "classification"
    assert info.features == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    assert info.classes == ("setosa", "versicolor", "virginica")
    assert info.metrics == {"accuracy": 0.95}
    assert info.created_at.endswith("+00:00")


def test_save_model_records_numeric_classes_as_strings(
    save_iris: SaveIris, iris_features: pd.DataFrame
) -> None:
    numeric = LogisticRegression(max_iter=1000).fit(iris_features, [0, 1, 2] * 50)

    assert save_iris(estimator=numeric).classes == ("0", "1", "2")


def test_save_model_increments_version_and_keeps_the_active_one(
    save_iris: SaveIris, model_dir: Path
) -> None:
    first = save_iris()
    second = save_iris()

    assert (first.version, second.version) == (1, 2)
    assert load_model(model_dir, "iris").info == first
    assert load_model(model_dir, "iris", version=2).info == second
    assert active_version(model_dir, "iris") == 1


def test_save_model_activates_a_new_version_when_asked(
    save_iris: SaveIris, model_dir: Path
) -> None:
    save_iris()
    second = save_iris(activate=True)

    assert load_model(model_dir, "iris").info == second
    assert [info.version for info in list_models(model_dir)] == [2]


def test_activate_switches_the_version_that_predicts(save_iris: SaveIris, model_dir: Path) -> None:
    save_iris()
    save_iris(activate=True)

    assert activate(model_dir, "iris", 1).version == 1

    assert load_model(model_dir, "iris").info.version == 1
    assert (model_dir / "iris" / "ACTIVE").read_text() == "1\n"
    assert [p.name for p in (model_dir / "iris").iterdir() if p.name.startswith(".")] == []


def test_activate_unknown_version_changes_nothing(save_iris: SaveIris, model_dir: Path) -> None:
    save_iris()
    save_iris(activate=True)

    with pytest.raises(NotFound, match=r"version 7 not found\. Available versions: 1, 2"):
        activate(model_dir, "iris", 7)

    assert active_version(model_dir, "iris") == 2


def test_activate_refuses_a_version_that_does_not_load(
    save_iris: SaveIris, model_dir: Path
) -> None:
    save_iris()
    save_iris()
    (model_dir / "iris" / "2" / "model.skops").write_bytes(b"not a zip")

    with pytest.raises(ModelError, match="corrupt"):
        activate(model_dir, "iris", 2)

    assert active_version(model_dir, "iris") == 1


def test_without_active_file_the_highest_version_predicts(
    save_iris: SaveIris, model_dir: Path
) -> None:
    save_iris()
    save_iris(activate=True)
    (model_dir / "iris" / "ACTIVE").unlink()  # folders saved before versions could be chosen

    assert active_version(model_dir, "iris") == 2


@pytest.mark.parametrize("content", ["9\n", "two\n", ""])
def test_active_file_naming_no_version_is_a_model_error(
    save_iris: SaveIris, model_dir: Path, content: str
) -> None:
    save_iris()
    (model_dir / "iris" / "ACTIVE").write_text(content)

    with pytest.raises(
        ModelError, match=r"which model 'iris' does not have \(1\)\. Run `batchscore"
    ):
        load_model(model_dir, "iris")


def test_save_model_rejects_unknown_task(save_iris: SaveIris, model_dir: Path) -> None:
    with pytest.raises(ModelError, match="field 'task' must be one of"):
        save_iris(task="clustering")

    assert not (model_dir / "iris").exists()


def test_save_model_rejects_unfitted_estimator(save_iris: SaveIris) -> None:
    with pytest.raises(ModelError, match="not fitted"):
        save_iris(estimator=LogisticRegression(), task="regression")


def test_save_model_rejects_features_that_differ_from_the_fitted_columns(
    save_iris: SaveIris,
) -> None:
    reordered = ("sepal_width", "sepal_length", "petal_length", "petal_width")

    with pytest.raises(ModelError, match="differ from the columns the estimator was fitted on"):
        save_iris(features=reordered)


def test_save_model_refuses_an_artifact_load_would_refuse(
    save_iris: SaveIris, model_dir: Path, iris_features: pd.DataFrame
) -> None:
    custom = make_pipeline(FunctionTransformer(_double), LogisticRegression(max_iter=1000))
    custom.fit(iris_features, [0, 1, 2] * 50)

    with pytest.raises(ModelError, match="_double"):
        save_iris(estimator=custom)

    assert not model_dir.exists()  # refused before anything was written


def test_list_models_returns_active_version_of_each_sorted_by_name(
    save_iris: SaveIris, model_dir: Path
) -> None:
    save_iris("iris")
    latest_iris = save_iris("iris", activate=True)
    save_iris("iris")  # not activated
    other = save_iris("Another.model-2")

    assert list_models(model_dir) == [other, latest_iris]


def test_list_models_of_missing_folder_is_empty(tmp_path: Path) -> None:
    assert list_models(tmp_path / "nowhere") == []


def test_list_models_ignores_temp_and_stray_entries(save_iris: SaveIris, model_dir: Path) -> None:
    info = save_iris()
    (model_dir / "iris" / ".tmp-half-written").mkdir()
    (model_dir / "iris" / "notes").mkdir()
    (model_dir / "empty").mkdir()
    (model_dir / "README.txt").write_text("hello")

    assert list_models(model_dir) == [info]


def test_list_models_skips_model_with_broken_metadata(
    save_iris: SaveIris, model_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    good = save_iris("good")
    save_iris("broken")
    (model_dir / "broken" / "1" / "model.json").write_text("{")

    with caplog.at_level(logging.WARNING, logger="batchscore.model.registry"):
        assert list_models(model_dir) == [good]

    assert "Skipping model 'broken'" in caplog.text


def test_load_model_unknown_name_lists_available_models(
    save_iris: SaveIris, model_dir: Path
) -> None:
    save_iris("iris")
    save_iris("beta")

    with pytest.raises(NotFound) as caught:
        load_model(model_dir, "wine")

    assert caught.value.message == "Model 'wine' not found. Available models: beta, iris."


def test_load_model_without_any_models_says_none_are_available(model_dir: Path) -> None:
    with pytest.raises(NotFound) as caught:
        load_model(model_dir, "iris")

    assert caught.value.message == "Model 'iris' not found. Available models: none."


def test_load_model_unknown_version_lists_available_versions(
    save_iris: SaveIris, model_dir: Path
) -> None:
    save_iris()

    with pytest.raises(NotFound) as caught:
        load_model(model_dir, "iris", version=3)

    assert caught.value.message == "Model 'iris' version 3 not found. Available versions: 1."


@pytest.mark.parametrize("name", ["../x", "", ".hidden", "a/b", "x" * 65, "iris\n", "-iris"])
def test_load_model_rejects_bad_name_as_bad_input(model_dir: Path, name: str) -> None:
    with pytest.raises(InputError, match="Invalid model name"):
        load_model(model_dir, name)


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "/tmp/x"])
def test_save_model_rejects_bad_name_and_writes_nothing(
    save_iris: SaveIris, model_dir: Path, name: str
) -> None:
    with pytest.raises(ModelError, match="Invalid model name"):
        save_iris(name)

    assert not model_dir.exists()
    assert not (model_dir.parent / "x").exists()


def test_load_model_corrupt_artifact_names_the_file(save_iris: SaveIris, model_dir: Path) -> None:
    save_iris()
    artifact = model_dir / "iris" / "1" / "model.skops"
    artifact.write_bytes(b"this is not a zip file")

    with pytest.raises(ModelError) as caught:
        load_model(model_dir, "iris")

    assert str(artifact) in caught.value.message
    assert "corrupt" in caught.value.message


def test_load_model_missing_artifact_names_the_folder(save_iris: SaveIris, model_dir: Path) -> None:
    save_iris()
    (model_dir / "iris" / "1" / "model.skops").unlink()

    with pytest.raises(ModelError) as caught:
        load_model(model_dir, "iris")

    assert caught.value.message == (
        f"Model folder {model_dir / 'iris' / '1'} has no model.skops. Re-save the model."
    )


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not readable JSON"),
        ("[1, 2]", "must hold a JSON object"),
        ('{"name": "iris"}', "field 'task' is missing"),
    ],
)
def test_load_model_bad_metadata_says_what_is_wrong(
    save_iris: SaveIris, model_dir: Path, content: str, problem: str
) -> None:
    save_iris()
    metadata = model_dir / "iris" / "1" / "model.json"
    metadata.write_text(content)

    with pytest.raises(ModelError) as caught:
        load_model(model_dir, "iris")

    assert str(metadata) in caught.value.message
    assert problem in caught.value.message


def test_load_model_metadata_for_another_model_is_refused(
    save_iris: SaveIris, model_dir: Path
) -> None:
    info = save_iris()
    metadata = model_dir / "iris" / "1" / "model.json"
    metadata.write_text(json.dumps({**info.to_json(), "name": "wine"}))

    with pytest.raises(ModelError, match="says the model is 'wine'"):
        load_model(model_dir, "iris")


def test_load_model_refuses_untrusted_type_without_running_its_code(
    save_iris: SaveIris, model_dir: Path, tmp_path: Path
) -> None:
    save_iris()
    marker = tmp_path / "marker"
    skops.io.dump(Booby(marker), model_dir / "iris" / "1" / "model.skops")

    with pytest.raises(ModelError) as caught:
        load_model(model_dir, "iris")

    assert "which batchscore does not trust" in caught.value.message
    assert "Booby" in caught.value.message
    assert not marker.exists()


@pytest.mark.parametrize(
    ("payload", "type_name"),
    [
        (functools.partial(int, "7"), "functools.partial"),
        (np.load, "numpy.load"),  # a function from NumPy
        (FunctionTransformer(eval), "builtins.eval"),
        # A scikit-learn class skops does not trust: whole packages are no longer trusted.
        (Bunch(weights=[1, 2]), "sklearn.utils._bunch.Bunch"),
    ],
)
def test_load_model_refuses_untrusted_callables(
    save_iris: SaveIris, model_dir: Path, payload: object, type_name: str
) -> None:
    save_iris()
    skops.io.dump(payload, model_dir / "iris" / "1" / "model.skops")

    with pytest.raises(ModelError, match="which batchscore does not trust") as caught:
        load_model(model_dir, "iris")

    assert f"holds the type {type_name}," in caught.value.message


def test_load_model_refuses_artifact_that_is_not_an_estimator(
    save_iris: SaveIris, model_dir: Path
) -> None:
    save_iris()
    skops.io.dump({"weights": [1, 2]}, model_dir / "iris" / "1" / "model.skops")

    with pytest.raises(ModelError, match="holds a dict, not a scikit-learn estimator"):
        load_model(model_dir, "iris")


def test_load_model_trusts_scikit_learn_classes_beyond_skops_defaults(
    save_iris: SaveIris, model_dir: Path, iris_features: pd.DataFrame
) -> None:
    forest = RandomForestClassifier(n_estimators=3, random_state=0)
    forest.fit(iris_features, [0, 1, 2] * 50)
    save_iris(estimator=forest)

    loaded = load_model(model_dir, "iris")

    assert "sklearn.tree._tree.Tree" in skops.io.get_untrusted_types(
        file=model_dir / "iris" / "1" / "model.skops"
    )
    np.testing.assert_array_equal(
        loaded.estimator.predict(iris_features), forest.predict(iris_features)
    )


def test_model_info_survives_a_json_round_trip(save_iris: SaveIris) -> None:
    info = save_iris()

    assert ModelInfo.from_json(json.loads(json.dumps(info.to_json()))) == info


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"version": "1"}, "field 'version' must be of type int, not str"),
        ({"version": 0}, "field 'version' must be at least 1"),
        ({"training_rows": True}, "field 'training_rows' must be of type int, not bool"),
        ({"features": []}, "field 'features' must name at least one column"),
        ({"features": ["a", "a"]}, "field 'features' names a column twice"),
        ({"features": ["a", 1]}, "field 'features' must be a list of strings"),
        ({"classes": None}, "field 'classes' must be of type list, not NoneType"),
        ({"metrics": {"accuracy": "high"}}, "field 'metrics' must map names to numbers"),
        ({"name": "../x"}, "Invalid model name"),
    ],
)
def test_model_info_from_json_names_the_bad_field(
    save_iris: SaveIris, change: dict[str, object], problem: str
) -> None:
    data = {**save_iris().to_json(), **change}

    with pytest.raises(ModelError, match=re.escape(problem)):
        ModelInfo.from_json(data)


def test_save_model_writes_regression_metadata_without_classes(
    model_dir: Path, iris_features: pd.DataFrame
) -> None:
    regressor = LinearRegression().fit(iris_features, np.arange(150.0))

    info = save_model(
        model_dir,
        "lengths",
        regressor,
        task="regression",
        features=list(iris_features.columns),
        target="row",
        metrics={"r2": 0.5},
        training_rows=150,
        training_data_sha256="f" * 64,
    )

    assert info.classes is None
    assert load_model(model_dir, "lengths").info == info


def test_save_model_version_folder_gets_ordinary_permissions(
    save_iris: SaveIris, model_dir: Path
) -> None:
    save_iris()

    version_mode = (model_dir / "iris" / "1").stat().st_mode
    assert version_mode == (model_dir / "iris").stat().st_mode

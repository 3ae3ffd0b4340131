"""`batchscore model train / list / activate` through the real command, on a model folder of
the test's own."""

from __future__ import annotations

import re
import shutil
from dataclasses import replace
from pathlib import Path

import joblib
import pytest
import skops.io
from factories import linear_rows
from owned_models import churn_frame, churn_pipeline, save_mlflow, write_csv
from processes import Cli, write_config

from batchscore.config import Settings

EXAMPLES = Path(__file__).parents[2] / "examples"


@pytest.fixture
def cli(tmp_path: Path, settings: Settings, demo_model_dir: Path) -> Cli:
    model_dir = tmp_path / "models"
    shutil.copytree(demo_model_dir, model_dir)
    return Cli(
        write_config(tmp_path / "ConfigFile.properties", replace(settings, model_dir=model_dir))
    )


def test_train_list_activate_and_score_with_the_new_version(cli: Cli) -> None:
    trained = cli.run(
        "model", "train", str(EXAMPLES / "iris.csv"), "--name", "iris", "--estimator", "forest"
    )

    assert re.match(
        r"Trained iris v2 on 112 rows; accuracy 0\.9\d\d, f1_macro 0\.9\d\d on 38 held-out "
        r"rows\n",
        trained.stdout,
    )
    assert "Not active yet: batchscore model activate iris 2" in trained.stdout
    listed = cli.run("model", "list").stdout
    assert listed.startswith("iris (classification of species): sepal_length, sepal_width")
    assert re.search(r"\n  \* v1 .* 112 rows  accuracy", listed)
    assert re.search(r"\n    v2 .* 112 rows  accuracy", listed)

    activated = cli.run("model", "activate", "iris", "2")

    assert activated.stdout.startswith("iris v2 is active: accuracy 0.9")
    assert re.search(r"\n  \* v2 ", cli.run("model", "list").stdout)
    cli.run("submit", str(EXAMPLES / "iris.csv"))
    assert "PROCESSED: 150 rows" in cli.run("process").stdout
    assert re.search(r"PROCESSED +150 +0 +iris v2 ", cli.run("jobs").stdout)


def test_train_a_regressor_then_update_it_incrementally(cli: Cli) -> None:
    sales = str(EXAMPLES / "advertising.csv")
    first = cli.run(
        "model", "train", sales, "--name", "sales", "--target", "Sales", "--estimator", "sgd"
    )
    assert re.match(
        r"Trained sales v1 on 150 rows; r2 0\.\d+, mae \d\.\d+ on 50 held-out rows\n", first.stdout
    )
    assert "sales v1 is active" in first.stdout

    update = cli.run("model", "train", sales, "--name", "sales", "--incremental", "--activate")

    assert "Trained sales v2 on 200 rows; r2 " in update.stdout
    assert "on the 200 new rows before learning them" in update.stdout
    assert "sales v2 is active" in update.stdout


def test_a_file_of_several_chunks_trains_on_every_row(cli: Cli, tmp_path: Path) -> None:
    """50,000 rows: more than two CHUNK_ROWS (20,000) chunks, joined before the fit."""
    path = tmp_path / "big.csv"
    path.write_text(linear_rows(50_000), encoding="utf-8")

    trained = cli.run(
        "model", "train", str(path), "--name", "line", "--target", "y", "--holdout", "0"
    )

    assert trained.stdout.startswith(
        "Trained line v1 on 50,000 rows; not measured (no rows held out)\n"
    )
    assert re.search(r"\n  \* v1 .*  50,000 rows", cli.run("model", "list").stdout)


def test_an_unnamed_index_column_is_left_out_and_said_so(cli: Cli) -> None:
    indexed = Path(__file__).parents[1] / "data" / "advertising-indexed.csv"

    trained = cli.run("model", "train", str(indexed), "--name", "ads", "--target", "Sales")

    assert trained.stdout.startswith("Left out column_1: it has no header name (a row index?)")
    assert cli.run("model", "list").stdout.startswith(
        "ads (regression of Sales): TV, Radio, Newspaper\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "missing.csv", "--name", "x", "--target", "y"], "Cannot open missing.csv"),
        (["train", str(EXAMPLES / "iris.csv"), "--name", "x"], "Name the target column"),
        (
            ["train", str(EXAMPLES / "iris.csv"), "--name", "x", "--target", "kind"],
            "lacks the column(s) kind",
        ),
        (
            ["train", str(EXAMPLES / "iris.csv"), "--name", "iris", "--incremental"],
            "cannot learn incrementally",
        ),
        (
            ["train", str(EXAMPLES / "iris.csv"), "--name", "../x", "--target", "species"],
            "Invalid model name",
        ),
        (
            [
                "train",
                str(EXAMPLES / "iris.csv"),
                "--name",
                "x",
                "--target",
                "species",
                "--holdout",
                "1",
            ],
            "holdout must be a share of the rows from 0 (fit on every row) to 0.9, not 1.0",
        ),
        (["activate", "iris", "7"], "Model 'iris' version 7 not found. Available versions: 1."),
        (["activate", "nope", "1"], "Model 'nope' not found. Available models: iris."),
    ],
)
def test_model_command_errors_say_what_to_fix(cli: Cli, args: list[str], message: str) -> None:
    result = cli.run("model", *args, check=False)

    assert result.returncode == 1, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    assert re.search(r"\n  \* v1 ", cli.run("model", "list").stdout)
    assert "v2" not in cli.run("model", "list").stdout


def test_import_a_skops_pipeline_then_score_a_file_with_it(cli: Cli, tmp_path: Path) -> None:
    frame = churn_frame()
    skops.io.dump(churn_pipeline(frame), tmp_path / "churn.skops")
    customers = write_csv(frame, tmp_path / "customers.csv")

    imported = cli.run(
        "model", "import", str(tmp_path / "churn.skops"), "--name", "churn", "--version-note", "Q3"
    )

    assert imported.stdout.splitlines()[:3] == [
        "Imported churn v1 (classification) imported from churn.skops.",
        "Features: age (may be empty), income (may be empty), "
        "region (text, may be empty), plan (text, may be empty)",
        "Classes: no, yes",
    ]
    cli.run("submit", str(customers), "--model", "churn", "--probabilities", "all")
    assert "PROCESSED: 2,000 rows, 0 with errors" in cli.run("process").stdout


def test_import_an_mlflow_folder_and_a_trusted_pickle(cli: Cli, tmp_path: Path) -> None:
    frame = churn_frame()
    pipeline = churn_pipeline(frame)
    folder = save_mlflow(pipeline, frame, tmp_path / "churn_model")
    joblib.dump(pipeline, tmp_path / "churn.joblib")

    from_mlflow = cli.run("model", "import", str(folder), "--name", "churn")
    refused = cli.run(
        "model", "import", str(tmp_path / "churn.joblib"), "--name", "churn", check=False
    )
    trusted = cli.run(
        "model", "import", str(tmp_path / "churn.joblib"), "--name", "churn", "--trust-pickle"
    )

    assert from_mlflow.stdout.startswith(
        "Imported churn v1 (classification) imported from churn_model."
    )
    assert refused.returncode == 1
    assert "churn.joblib is a pickle: loading it runs whatever code it holds" in refused.stderr
    assert "pass --trust-pickle if you trust who made the file" in refused.stderr
    assert trusted.stdout.startswith(
        "Imported churn v2 (classification) imported from churn.joblib."
    )
    assert "Not active yet: batchscore model activate churn 2" in trusted.stdout


def test_model_list_shows_where_a_version_came_from_and_an_older_scikit_learn(
    cli: Cli,
) -> None:
    old = Path(__file__).parents[1] / "data" / "models" / "churn-sklearn-1.8.0.skops"

    imported = cli.run("model", "import", str(old), "--name", "churn", "--version-note", "Q3")
    listed = cli.run("model", "list").stdout

    assert "Note: Saved with scikit-learn 1.8.0; this server runs" in imported.stdout
    assert listed.startswith(
        "churn (classification of churn): age (may be empty), income (may be empty), "
        "region (text, may be empty), plan (text, may be empty)\n"
    )
    assert "\n      imported from churn-sklearn-1.8.0.skops: Q3\n" in listed
    assert "\n      Saved with scikit-learn 1.8.0; this server runs" in listed

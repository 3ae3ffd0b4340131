"""GET /api/models: the models a job can use, with the columns each needs."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from batchscore.config import Settings

if TYPE_CHECKING:  # pytest imports tests/api/conftest.py as "conftest", mypy as "api.conftest"
    from pathlib import Path

    from api.conftest import Caller, Serve


def test_models_lists_the_demo_model(alice: Caller) -> None:
    response = alice.client.get("/api/models")
    assert response.status_code == 200, response.text
    (iris,) = response.json()["models"]
    assert (iris["name"], iris["version"], iris["versions"]) == ("iris", 1, [1])
    assert (iris["task"], iris["target"]) == ("classification", "species")
    assert iris["features"] == ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    assert iris["classes"] == ["setosa", "versicolor", "virginica"]
    assert 0.8 <= iris["metrics"]["accuracy"] <= 1.0


def test_models_lists_every_model_by_name(
    alice: Caller, settings: Settings, serve: Serve, two_model_dir: Path
) -> None:
    client = serve(replace(settings, model_dir=two_model_dir), alice)
    models = client.get("/api/models").json()["models"]
    assert [(m["name"], m["versions"], m["features"], m["classes"]) for m in models] == [
        (
            "iris",
            [1],
            ["sepal_length", "sepal_width", "petal_length", "petal_width"],
            ["setosa", "versicolor", "virginica"],
        ),
        ("petal_size", [1], ["petal_length", "petal_width"], ["long", "short"]),
    ]

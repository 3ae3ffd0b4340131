"""The floors of docs/architecture.md, checked by walking every import.

    front ends     api, cli, __main__          parse → one call → render
    application    service, scheduler          the use cases; the processor
    data           db, model                   SQL; the scikit-learn side
    kernel         batchscore/*.py             config, storage, errors, …

A module imports from its own floor's package and the floors below, never above: db and model
never import each other; scheduler (the processor) never imports service; the front ends never
import each other, open no transaction and take only record types and enums from db. Only db
speaks SQL, and the API reads no tables with pandas.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parents[1] / "batchscore"
FLOORS = {
    "kernel": 0,
    "db": 1,
    "model": 1,
    "scheduler": 2,
    "service": 2,
    "api": 3,
    "cli": 3,
    "__main__": 3,
}
# Beside each other on one floor, and still one-way: the left may not import the right.
SIDEWAYS_FORBIDDEN = {("db", "model"), ("model", "db"), ("scheduler", "service")}
SIDEWAYS_FORBIDDEN |= {("api", "cli"), ("cli", "api"), ("__main__", "api")}
THIRD_PARTY_FORBIDDEN = {
    "kernel": {"sqlalchemy", "alembic"},
    "model": {"sqlalchemy", "alembic"},
    "scheduler": {"sqlalchemy", "alembic"},
    "service": {"sqlalchemy", "alembic"},
    "api": {"sqlalchemy", "alembic", "pandas"},
    "cli": {"sqlalchemy", "alembic"},
    "__main__": {"sqlalchemy", "alembic"},
}


def part_of(module: str) -> str:
    """The part of batchscore a module belongs to: a subpackage's name, else "kernel"."""
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in FLOORS:
        return parts[1]
    return "kernel"


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name, the subpackages found through their links."""
    found = {}
    for folder, _dirs, files in os.walk(PACKAGE, followlinks=True):
        for file in files:
            if file.endswith(".py"):
                relative = (Path(folder) / file).relative_to(PACKAGE).with_suffix("")
                names = [part for part in relative.parts if part != "__init__"]
                found[".".join(["batchscore", *names])] = Path(folder) / file
    return found


def imports(path: Path) -> list[ast.ImportFrom | ast.Import]:
    return [
        n
        for n in ast.walk(ast.parse(path.read_text()))
        if isinstance(n, ast.Import | ast.ImportFrom)
    ]


def imported_modules(node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return [node.module] if node.module and node.level == 0 else []


def test_every_part_of_the_package_is_on_a_floor() -> None:
    assert {part_of(name) for name in modules()} == set(FLOORS)


@pytest.mark.parametrize("module", sorted(modules()))
def test_module_imports_only_its_floor_and_below(module: str) -> None:
    here = part_of(module)
    wrong = []
    for node in imports(modules()[module]):
        for name in imported_modules(node):
            top = name.split(".")[0]
            if top == "batchscore":
                there = part_of(name)
                if FLOORS[there] > FLOORS[here] or (here, there) in SIDEWAYS_FORBIDDEN:
                    wrong.append(name)
            elif top in THIRD_PARTY_FORBIDDEN.get(here, set()):
                wrong.append(name)
    assert wrong == []


@pytest.mark.parametrize("module", sorted(m for m in modules() if FLOORS[part_of(m)] == 3))
def test_front_ends_take_only_records_and_enums_from_db(module: str) -> None:
    """No transaction, no query in a front end: what they need from db is a type to name."""
    taken = [
        alias.name
        for node in imports(modules()[module])
        if isinstance(node, ast.ImportFrom) and part_of(node.module or "") == "db"
        for alias in node.names
    ]
    assert [name for name in taken if not name[0].isupper()] == []

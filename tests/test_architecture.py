"""Import direction (DESIGN.md): api/scheduler use model/db/batchscore; model and db use neither;
only db speaks SQL; the API reads no CSVs."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
# Entry points wire every package together, so they may import all of them.
ENTRY_POINTS = {"batchscore/cli.py"}
FORBIDDEN = {
    "batchscore": {"api", "scheduler", "db", "model", "sqlalchemy"},
    "db": {"api", "scheduler", "model"},
    "model": {"api", "scheduler", "db", "sqlalchemy"},
    "scheduler": {"api", "sqlalchemy"},
    "api": {"sqlalchemy", "pandas"},
}


def imported_packages(path: Path) -> set[str]:
    """Top-level names, with batchscore's subpackages named alone: `batchscore.db.jobs` → `db`."""
    tree = ast.parse(path.read_text())
    modules: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module)
    names = set()
    for module in modules:
        parts = module.split(".")
        sub = parts[1] if parts[0] == "batchscore" and len(parts) > 1 else None
        names.add(sub if sub in {"api", "db", "model", "scheduler"} else parts[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_what_the_design_allows(package: str) -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(imported_packages(path) & FORBIDDEN[package])
        for path in (ROOT / package).glob("*.py" if package == "batchscore" else "**/*.py")
        if imported_packages(path) & FORBIDDEN[package]
        and str(path.relative_to(ROOT)) not in ENTRY_POINTS
    }
    assert offenders == {}

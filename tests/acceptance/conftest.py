"""Acceptance tests drive the real `batchscore` command in subprocesses on a real data folder.

Each command starts a Python that imports pandas and scikit-learn (1-2 s on two busy cores), so
every test here is `slow`: the full suite runs them, `scripts/test --fast` leaves them out.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from processes import Cli, write_config

from batchscore.config import Settings


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def cli(tmp_path: Path, settings: Settings) -> Cli:
    return Cli(write_config(tmp_path / "ConfigFile.properties", settings))

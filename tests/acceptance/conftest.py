"""Acceptance tests drive the real `batchscore` command in subprocesses on a real data folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from processes import Cli, write_config

from batchscore.config import Settings


@pytest.fixture
def cli(tmp_path: Path, settings: Settings) -> Cli:
    return Cli(write_config(tmp_path / "ConfigFile.properties", settings))

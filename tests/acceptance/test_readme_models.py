"""The README's "Bring your own model" commands, run as written (from a folder holding the
product's config), and what they print checked against what the README says they print."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import openpyxl
from owned_models import CHURN_FEATURES
from processes import write_config

from batchscore.config import Settings

ROOT = Path(__file__).parents[2]


def readme_block(heading: str) -> list[tuple[str, list[str]]]:
    """The first sh block under `heading`: each command with the output lines (# …) after it."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"\n## {heading}\n", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    commands: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("# "):
            commands[-1][1].append(line[2:])
        else:
            commands.append((line.split("  #")[0].strip(), []))
    return commands


def test_bring_your_own_model_runs_as_the_readme_says(
    tmp_path: Path, settings: Settings, demo_model_dir: Path
) -> None:
    shutil.copytree(demo_model_dir, tmp_path / "models")
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    write_config(
        tmp_path / "ConfigFile.properties", replace(settings, model_dir=tmp_path / "models")
    )
    venv_bin = str(Path(sys.executable).parent)

    for command, expected in readme_block("Bring your own model"):
        argv = shlex.split(command.replace(".venv/bin/", f"{venv_bin}/"))
        done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"{command}\n{done.stderr}"
        printed = done.stdout.splitlines()
        for line in expected:  # "…" in the README stands for what differs per machine
            pattern = ".*".join(re.escape(part) for part in line.split("…"))
            assert any(re.fullmatch(pattern, out) for out in printed), (line, printed)

    workbook = openpyxl.load_workbook(next((tmp_path / "output").glob("job-*-churn.xlsx")))
    header = [cell.value for cell in workbook.active[1]]  # type: ignore[index]
    assert header == [
        "customer_id",
        *CHURN_FEATURES,
        "churned",
        "prediction",
        "probability_no",
        "probability_yes",
        "error",
    ]

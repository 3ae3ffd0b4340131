"""Installed, batchscore is one import name: its wheel survives `pip install db scheduler` beside
it, and `python -m batchscore` works from a folder that holds a user's own model.py."""

from __future__ import annotations

import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
CLASHING = ROOT / "tests" / "data" / "clashing-packages"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    pip = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation"]
    subprocess.run([*pip, "--wheel-dir", str(out), str(ROOT)], check=True)
    return next(out.glob("batchscore-*.whl"))


def test_wheel_has_one_top_level_import_name(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"batchscore"}
    for sub in ("api", "db", "model", "scheduler"):
        assert f"batchscore/{sub}/__init__.py" in names
    assert "batchscore/db/migrations/versions/0001_initial_schema.py" in names
    assert "batchscore/api/templates/panel.html" in names


@pytest.fixture(scope="module")
def clean_venv(tmp_path_factory: pytest.TempPathFactory, wheel: Path) -> Path:
    """A new venv holding our wheel, then PyPI's `db` and `scheduler` installed over it.

    The dependencies come from the test's own environment through a .pth line, so nothing is
    downloaded; .pth files there are not run, so its editable batchscore stays out of sight.
    """
    home = tmp_path_factory.mktemp("venv")
    venv.create(home, with_pip=True)
    python = home / "bin" / "python"
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    ours = [p for p in sys.path if Path(p).name in ("site-packages", "dist-packages")]
    Path(site, "test-deps.pth").write_text("\n".join(ours) + "\n")
    pip = [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-index"]
    subprocess.run([*pip, str(wheel)], check=True)
    subprocess.run([*pip, *map(str, sorted(CLASHING.glob("*.whl")))], check=True)
    return home


def _run(venv_home: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [venv_home / "bin" / "python", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


def test_batchscore_works_beside_pypi_db_and_scheduler(clean_venv: Path, tmp_path: Path) -> None:
    config = tmp_path / "ConfigFile.properties"
    config.write_text("MODE = demo\n")
    init = _run(clean_venv, "-m", "batchscore", "--config", str(config), "init", cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert "Demo model ready: iris v1" in init.stdout
    # The PyPI packages are installed too, under their own names, and stay theirs.
    find = (
        "import importlib.util as u; print(*(u.find_spec(n).origin for n in ('db', 'scheduler')))"
    )
    theirs = _run(clean_venv, "-c", find, cwd=tmp_path).stdout.split()
    assert [Path(origin).parent.name for origin in theirs] == ["db", "scheduler"]
    assert all(str(clean_venv) in origin for origin in theirs)


def test_init_makes_a_working_folder_anywhere_and_cron_finds_it(
    clean_venv: Path, tmp_path: Path
) -> None:
    """Installed with pip or pipx, there is no checkout: the folder gets the shipped sample
    config with a secret of its own, and BATCHSCORE_CONFIG finds it from any folder."""
    folder = tmp_path / "scoring work"
    init = _run(clean_venv, "-m", "batchscore", "init", str(folder), cwd=tmp_path)
    assert init.returncode == 0, init.stderr
    assert f"Config ready: {folder / 'ConfigFile.properties'}" in init.stdout
    assert init.stdout.endswith("batchscore user add NAME --admin && batchscore serve\n")
    config = folder / "ConfigFile.properties"
    assert config.stat().st_mode & 0o777 == 0o600
    assert "SECRET_KEY=change-me" not in config.read_text()
    assert (folder / "data" / "models" / "iris" / "1").is_dir()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    listing = subprocess.run(
        [clean_venv / "bin" / "python", "-m", "batchscore", "status"],
        cwd=elsewhere,
        env={"BATCHSCORE_CONFIG": str(config), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert listing.returncode == 0, listing.stderr
    assert "Queue: 0 pending" in listing.stdout
    assert list(elsewhere.iterdir()) == []  # nothing made where cron happens to run
    written = config.read_text()
    again = _run(clean_venv, "-m", "batchscore", "init", str(folder), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    assert config.read_text() == written  # its own settings are kept, the secret too


def test_python_m_batchscore_works_beside_a_users_model_py(
    clean_venv: Path, tmp_path: Path
) -> None:
    (tmp_path / "model.py").write_text("raise SystemExit('the user model.py was imported')\n")
    (tmp_path / "db.py").write_text("raise SystemExit('the user db.py was imported')\n")
    config = tmp_path / "ConfigFile.properties"
    config.write_text("MODE = demo\n")
    init = _run(clean_venv, "-m", "batchscore", "--config", str(config), "init", cwd=tmp_path)
    assert init.returncode == 0, init.stdout + init.stderr
    listing = _run(clean_venv, "-m", "batchscore", "--config", str(config), "jobs", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.startswith("    ID  STATUS")

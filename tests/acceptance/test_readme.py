"""The README runs: on a fresh copy of the repository, `scripts/demo` (the quick start) installs
and serves, then every shell block of README.md and docs/deploy.md runs in order, each command
must succeed, and each output the text shows (a `# …` line right under a command, `…` standing
for anything) must be what the command printed. A block that cannot run here says why, in a
`<!-- doctest: skip: reason -->` line right above it. Runs on SQLite, and on MariaDB in the
MariaDB pass."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx2
import pytest
from processes import free_port
from sqlalchemy import make_url, text

from batchscore.db.engine import make_engine
from batchscore.db.tables import metadata

ROOT = Path(__file__).parents[2]
DOCS = ("README.md", "docs/deploy.md")
SKIP = re.compile(r"<!-- doctest: skip: (.+) -->")


@dataclass
class Step:
    command: str
    expected: list[str] = field(default_factory=list)  #: lines the command prints


@dataclass
class Block:
    where: str  #: file:line of the opening fence
    steps: list[Step]
    skipped: str | None  #: why it does not run here


def blocks(doc: str) -> list[Block]:
    """The doc's ```sh blocks, in order, split into commands and the outputs shown under them."""
    lines = (ROOT / doc).read_text().splitlines()
    found: list[Block] = []
    for number, line in enumerate(lines):
        if line != "```sh":
            continue
        skipped = SKIP.fullmatch(lines[number - 1]) if number else None
        body = lines[number + 1 : lines.index("```", number + 1)]
        found.append(Block(f"{doc}:{number + 1}", steps(body), skipped and skipped[1]))
    return found


def steps(body: list[str]) -> list[Step]:
    parsed: list[Step] = []
    following = False  # the line above is a command or an output shown under one
    pending = ""
    for line in body:
        if pending or (line.strip() and not line.lstrip().startswith("#")):
            pending += line + "\n"
            if not line.endswith("\\"):
                parsed.append(Step(pending))
                pending, following = "", True
        elif line.startswith("# ") and following:
            parsed[-1].expected.append(line[2:])
        else:
            following = False
    return parsed


def shows(expected: str, output: str) -> bool:
    """Whether a line of `output` is the `expected` one, `…` standing for anything."""
    pattern = ".*".join(re.escape(part) for part in expected.split("…"))
    return any(re.fullmatch(pattern, line) for line in output.splitlines())


def test_every_block_runs_or_says_why_not() -> None:
    """A new block cannot go unrun by accident, and a skip always has a reason."""
    every = [block for doc in DOCS for block in blocks(doc)]
    assert len(every) >= 15
    assert all(block.skipped is None or len(block.skipped) > 10 for block in every)
    assert sum(block.skipped is None for block in every) >= 5


def test_steps_and_the_outputs_shown_under_them() -> None:
    parsed = steps(
        [
            "# a comment, not an output",
            "first --flag \\",
            "  continued   # its own comment",
            "# printed: …",
            "# and this",
            "",
            "# a comment again",
            "second",
        ]
    )
    assert parsed == [
        Step("first --flag \\\n  continued   # its own comment\n", ["printed: …", "and this"]),
        Step("second\n"),
    ]
    assert shows(
        '{"id":2,…"status":"PENDING",…}', 'x\n{"id":2,"url":"u","status":"PENDING","rows":3}'
    )
    assert not shows('{"id":2,…}', '{"id":12}')


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The repository's files as a fresh clone has them: no venv, no data."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        text=True,
    ).stdout.split("\0")
    copy = tmp_path / "batchscore"
    for name in filter(None, listed):
        source, target = ROOT / name, copy / name
        if source.exists() or source.is_symlink():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target, follow_symlinks=False)
    return copy


@pytest.fixture
def environment(database_url: str, tmp_path: Path) -> dict[str, str]:
    """The new user's shell: their own HOME, and on MariaDB a database as new as SQLite's
    (TRUNCATE starts the ids at 1 again, as the README's job numbers expect)."""
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8"}
    for key in ("PIP_CACHE_DIR", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS"):
        if key in os.environ:
            env[key] = os.environ[key]
    if not database_url.startswith("sqlite"):
        engine = make_engine(database_url)
        with engine.begin() as conn:
            conn.execute(text("SET FOREIGN_KEY_CHECKS = 0"))
            for table in metadata.sorted_tables:
                conn.execute(text(f"TRUNCATE TABLE {table.name}"))
            conn.execute(text("SET FOREIGN_KEY_CHECKS = 1"))
        engine.dispose()
        env["BATCHSCORE_DB_URL"] = database_url
    return env


@pytest.fixture
def demo(checkout: Path, environment: dict[str, str]) -> Iterator[int]:
    """The quick start's `scripts/demo`, served on a free port until the test ends."""
    port = free_port()
    log = (checkout.parent / "demo.log").open("w")
    process = subprocess.Popen(
        ["scripts/demo", "--port", str(port)],
        cwd=checkout,
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # serve and its processor: stopped together below
    )
    try:
        deadline = time.monotonic() + 600  # a fresh venv: the pip install is most of it
        while True:
            try:
                httpx2.get(f"http://127.0.0.1:{port}/health").raise_for_status()
                break
            except httpx2.HTTPError:
                printed = (checkout.parent / "demo.log").read_text()
                assert process.poll() is None, f"scripts/demo ended:\n{printed}"
                assert time.monotonic() < deadline, f"scripts/demo not serving:\n{printed}"
                time.sleep(0.5)
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)
        log.close()


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_the_readme_runs_in_order(
    checkout: Path, environment: dict[str, str], demo: int, tmp_path: Path
) -> None:
    printed = (checkout.parent / "demo.log").read_text()
    database = make_url(environment.get("BATCHSCORE_DB_URL", "sqlite:///data/batchscore.db"))
    assert f"Database ready: {database.drivername}://" in printed  # the one under test
    assert f"Panel:        http://127.0.0.1:{demo}" in printed
    assert "Job 1 PROCESSED: 150 rows, 0 with errors" in printed
    runnable = [
        (block.where, step)
        for doc in DOCS
        for block in blocks(doc)
        if block.skipped is None
        for step in block.steps
    ]
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    script = [
        "set -u",  # as a user types them: one shell, so TOKEN=… carries on to later blocks
        # curl: an HTTP error fails the step (the README's commands leave that out)
        'curl() { command curl --silent --show-error --fail-with-body "$@"; echo; }',
    ]
    for number, (_, step) in enumerate(runnable):
        command = step.command.replace("127.0.0.1:8000", f"127.0.0.1:{demo}")
        script += [
            f"{{\n{command}}} > {outputs}/{number} 2>&1",
            f"echo $? > {outputs}/{number}.rc; [ $(cat {outputs}/{number}.rc) = 0 ] || exit 1",
        ]
    subprocess.run(["bash", "-c", "\n".join(script)], cwd=checkout, env=environment, timeout=900)
    for number, (where, step) in enumerate(runnable):
        rc = outputs / f"{number}.rc"
        output = (outputs / str(number)).read_text() if rc.exists() else ""
        said = f"{where}: {step.command}printed:\n{output}"
        assert rc.exists(), f"not reached: {said}"
        assert rc.read_text().strip() == "0", f"exit {rc.read_text().strip()}: {said}"
        for line in step.expected:
            assert shows(line, output), f"expected {line!r}: {said}"

"""Dockerfile, compose.yaml, the entry point and the systemd units, checked without Docker.

No Docker engine runs on our machines, so these files are kept correct by construction:
compose.yaml against the Compose Specification's own JSON schema (vendored in
tests/data/compose-spec/), and here what no schema can say — the commands they name are real
`batchscore` commands, workers can scale, the image runs as non-root and is health-checked.
"""

from __future__ import annotations

import configparser
import fnmatch
import json
import os
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from processes import Cli, free_port, serving, write_config

from batchscore.cli.main import _parser
from batchscore.config import KNOWN_KEYS, Settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_SCHEMA = Path(__file__).parent / "data" / "compose-spec" / "compose-spec.json"
ENTRYPOINT = ROOT / "deploy" / "docker-entrypoint.sh"
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
APP_SERVICES = ("web", "worker", "cron")


@dataclass(frozen=True)
class Instruction:
    stage: int  #: 0 for the first FROM's stage, 1 for the next, …
    keyword: str  #: upper case, e.g. COPY
    args: str  #: the rest of the line, continuations joined


def _dockerfile() -> list[Instruction]:
    """The Dockerfile's instructions: comments dropped, `\\` continuations joined."""
    instructions: list[Instruction] = []
    stage, pending = -1, ""
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        if line.lstrip().startswith("#") or not line.strip():
            continue
        pending += line.rstrip()
        if pending.endswith("\\"):
            pending = pending[:-1] + " "
            continue
        keyword, _, args = pending.strip().partition(" ")
        stage += keyword.upper() == "FROM"
        instructions.append(Instruction(stage, keyword.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def _final_stage(keyword: str) -> list[Instruction]:
    instructions = _dockerfile()
    last = instructions[-1].stage
    return [i for i in instructions if i.stage == last and i.keyword == keyword]


def _exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return value


def _compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(data, dict)
    return data


def _service(name: str) -> dict[str, Any]:
    service = _compose()["services"][name]
    assert isinstance(service, dict)
    return service


def _assert_batchscore_command(argv: list[str]) -> None:
    """Parse argv with the CLI's own parser, as `batchscore` itself would."""
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        raise AssertionError(
            f"`batchscore {shlex.join(argv)}` is not a batchscore command"
        ) from exc
    assert callable(args.handler)


def test_compose_file_follows_the_compose_specification() -> None:
    schema = json.loads(COMPOSE_SCHEMA.read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(_compose()), key=str)
    assert not errors, "\n".join(f"{list(e.absolute_path)}: {e.message}" for e in errors)


def test_worker_can_be_scaled() -> None:
    worker = _service("worker")
    assert "container_name" not in worker
    assert "ports" not in worker


@pytest.mark.parametrize("name", APP_SERVICES)
def test_app_service_waits_for_a_healthy_database(name: str) -> None:
    depends_on = _service(name)["depends_on"]
    assert depends_on["mariadb"]["condition"] == "service_healthy"


@pytest.mark.parametrize("name", ["worker", "cron"])
def test_service_that_starts_after_web_initialised_the_schema(name: str) -> None:
    """Only `serve` runs `batchscore init`; the others refuse an old schema, so they wait."""
    assert _service(name)["depends_on"]["web"]["condition"] == "service_healthy"


def test_web_is_health_checked_and_the_others_are_not() -> None:
    """The image's HEALTHCHECK asks HTTP: it holds for web and would fail in worker and cron."""
    assert "healthcheck" not in _service("web"), "web keeps the image's HEALTHCHECK"
    for name in ("worker", "cron"):
        assert _service(name)["healthcheck"] == {"disable": True}
    assert _service("mariadb")["healthcheck"]["test"][0] == "CMD"


def test_compose_settings_are_known_configuration_keys() -> None:
    environment = _compose()["x-app"]["environment"]
    unknown = {k for k in environment if k.removeprefix("BATCHSCORE_") not in KNOWN_KEYS}
    assert not unknown, f"not BATCHSCORE_<KEY> for a key config.py reads: {unknown}"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_compose_command_is_a_real_command(name: str) -> None:
    command = _service(name)["command"]
    if command[0] == "supercronic":
        crontab = command[1]
        copied = [shlex.split(i.args)[-1] for i in _final_stage("COPY")]
        workdir = _final_stage("WORKDIR")[-1].args
        assert crontab in {str(Path(workdir) / c) for c in copied}, "crontab not in the image"
    else:
        _assert_batchscore_command(command)


def test_crontab_runs_in_the_image_as_written() -> None:
    """crontab.txt's BATCHSCORE_HOME and .venv are where the image puts the app."""
    lines = [
        line for line in (ROOT / "crontab.txt").read_text().splitlines() if not line.startswith("#")
    ]
    home = next(line.split("=", 1)[1] for line in lines if line.startswith("BATCHSCORE_HOME="))
    assert _final_stage("WORKDIR")[-1].args == home
    assert any(f"python -m venv {home}/.venv" in i.args for i in _dockerfile())
    job = next(line for line in lines if line.startswith("*"))
    argv = shlex.split(job.split(".venv/bin/batchscore", 1)[1].split(">>")[0])
    _assert_batchscore_command(argv)


def test_image_default_command_is_a_real_command() -> None:
    assert _exec_form(_final_stage("ENTRYPOINT")[-1].args) == ["docker-entrypoint.sh"]
    _assert_batchscore_command(_exec_form(_final_stage("CMD")[-1].args))


def test_image_runs_as_a_user_who_is_not_root() -> None:
    user = _final_stage("USER")[-1].args.split(":")[0]
    assert user not in ("root", "0", "")


def test_image_health_check_asks_the_web_server() -> None:
    (check,) = _final_stage("HEALTHCHECK")
    assert "/health" in check.args and "urllib.request" in check.args


def _dockerignored(path: str, patterns: list[str]) -> bool:
    parts = Path(path).parts
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    return any(
        fnmatch.fnmatch(c, p) or (p.startswith("**/") and fnmatch.fnmatch(c, p[3:]))
        for p in patterns
        for c in candidates
    )


def test_every_file_the_image_copies_is_in_the_build_context() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert not any(p.startswith("!") for p in patterns), "_dockerignored() knows no exceptions"
    sources = [
        source
        for i in _dockerfile()
        if i.keyword == "COPY" and "--from=" not in i.args
        for source in shlex.split(i.args)[:-1]
    ]
    assert sources
    for source in sources:
        assert (ROOT / source).exists(), f"COPY {source}: no such file"
        assert not _dockerignored(source, patterns), f"COPY {source}: left out by .dockerignore"


def test_image_health_check_passes_against_a_running_server(
    tmp_path: Path, settings: Settings
) -> None:
    (check,) = _final_stage("HEALTHCHECK")
    argv = _exec_form(check.args.split(" CMD ", 1)[1])
    assert argv[0] == "python"
    port = free_port()
    cli = Cli(write_config(tmp_path / "ConfigFile.properties", settings, HTTP_PORT=port))
    env = {**os.environ, "BATCHSCORE_HTTP_PORT": str(port)}
    with serving(cli, port):
        up = subprocess.run([sys.executable, *argv[1:]], env=env, timeout=30)
    down = subprocess.run([sys.executable, *argv[1:]], env=env, capture_output=True, timeout=30)
    assert (up.returncode, down.returncode != 0) == (0, True)


def _entrypoint(tmp_path: Path, *args: str, **env: str) -> list[str]:
    """Run the entry point with a `batchscore` on PATH that logs its arguments instead."""
    log = tmp_path / "calls"
    fake = tmp_path / "bin" / "batchscore"
    fake.parent.mkdir(exist_ok=True)
    fake.write_text(f'#!/bin/sh\necho "batchscore $*" >> {log}\n')
    fake.chmod(0o755)
    path = f"{fake.parent}{os.pathsep}{os.environ['PATH']}"
    subprocess.run(["sh", str(ENTRYPOINT), *args], env={**env, "PATH": path}, check=True)
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.parametrize(
    ("args", "env", "calls"),
    [
        ((), {}, ["batchscore init", "batchscore serve"]),
        (("serve", "--port", "9000"), {}, ["batchscore init", "batchscore serve --port 9000"]),
        (("serve",), {"INIT_ON_START": "0"}, ["batchscore serve"]),
        (("worker",), {}, ["batchscore worker"]),
        (("process-all", "--max-jobs", "3"), {}, ["batchscore process-all --max-jobs 3"]),
        (("sh", "-c", "true"), {}, []),
    ],
)
def test_entrypoint_runs_batchscore_and_initialises_only_before_serve(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], calls: list[str]
) -> None:
    assert _entrypoint(tmp_path, *args, **env) == calls


def _unit(path: Path) -> configparser.RawConfigParser:
    unit = configparser.RawConfigParser(strict=False)
    unit.optionxform = str  # type: ignore[assignment,method-assign]
    unit.read(path)
    return unit


@pytest.mark.parametrize("path", UNITS, ids=[u.name for u in UNITS])
def test_systemd_unit_runs_a_real_command_unprivileged(path: Path) -> None:
    service = _unit(path)["Service"]
    assert service["User"] not in ("root", "0")
    for key, value in {"NoNewPrivileges": "yes", "ProtectSystem": "strict"}.items():
        assert service[key] == value, f"{path.name}: {key}={service.get(key)}"
    program, *argv = shlex.split(service["ExecStart"].replace("%i", "1"))
    assert program.endswith("/.venv/bin/batchscore")
    _assert_batchscore_command(argv)


def test_systemd_units_exist_for_web_and_workers() -> None:
    assert {u.name for u in UNITS} >= {"batchscore-web.service", "batchscore-worker@.service"}


def _docker_compose_available() -> bool:
    if shutil.which("docker") is None:
        return False
    result = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=60)
    return result.returncode == 0


@pytest.mark.skipif(
    not _docker_compose_available(),
    reason="the docker CLI with its compose plugin is not installed (`docker compose version` "
    "fails); the JSON schema test above still checks compose.yaml",
)
def test_docker_compose_accepts_the_file() -> None:
    env = {**os.environ, "BATCHSCORE_SECRET_KEY": "x" * 64, "MARIADB_PASSWORD": "secret"}
    subprocess.run(
        ["docker", "compose", "-f", str(ROOT / "compose.yaml"), "config", "-q"],
        env=env,
        check=True,
        timeout=60,
    )

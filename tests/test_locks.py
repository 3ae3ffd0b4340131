"""The lock files pin what pyproject.toml asks for, agree with each other, and are what the
tests run on: a fresh machine tomorrow installs what was tested today."""

from __future__ import annotations

import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parents[1]


def pins(lock: str, only_here: bool = False) -> dict[str, str]:
    """name → version of every `name==version ; marker` line (with only_here, of those whose
    marker holds on this machine: the lock is one for every platform and Python from 3.11)."""
    found: dict[str, str] = {}
    for line in (ROOT / lock).read_text().splitlines():
        text = line.split("#")[0].strip()
        if text:
            requirement = Requirement(text)
            (pin,) = requirement.specifier
            assert pin.operator == "==", f"{lock}: {line!r} is not pinned with =="
            if not only_here or requirement.marker is None or requirement.marker.evaluate():
                found[canonicalize_name(requirement.name)] = pin.version
    return found


def required(extra: str | None = None) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    listed = project["optional-dependencies"][extra] if extra else project["dependencies"]
    return [Requirement(text) for text in listed]


def test_the_runtime_lock_pins_every_runtime_requirement_within_its_range() -> None:
    runtime = pins("requirements.lock")
    for requirement in required():
        version = runtime.get(canonicalize_name(requirement.name))
        assert version is not None, f"{requirement.name} is not in requirements.lock"
        assert requirement.specifier.contains(version, prereleases=True), (requirement, version)


def test_the_dev_lock_holds_the_other_locks_at_the_same_versions() -> None:
    dev = pins("requirements-dev.lock")
    for lock in ("requirements.lock", "requirements-s3.lock"):
        runtime = pins(lock)
        assert {name: dev.get(name) for name in runtime} == runtime, lock
    for requirement in required("dev"):
        if requirement.name != "batchscore":  # batchscore[s3]: the s3 extra, checked below
            assert canonicalize_name(requirement.name) in dev, requirement.name


def test_the_s3_extra_is_in_its_own_lock_only() -> None:
    """A local-only install carries no S3 client (~40 MB); the Docker image's lock has it."""
    runtime, s3 = pins("requirements.lock"), pins("requirements-s3.lock")
    assert "s3fs" not in runtime and "botocore" not in runtime
    assert {name: s3[name] for name in runtime} == runtime
    for requirement in required("s3"):
        version = s3.get(canonicalize_name(requirement.name))
        assert version is not None and requirement.specifier.contains(version), requirement


def test_the_tests_run_on_the_locked_versions() -> None:
    installed: dict[str, str] = {
        canonicalize_name(dist.metadata["Name"]): dist.version for dist in metadata.distributions()
    }
    locked = pins("requirements-dev.lock", only_here=True)
    assert {name: installed.get(name) for name in locked} == locked

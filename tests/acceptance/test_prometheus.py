"""deploy/prometheus and deploy/grafana against the real thing: Debian's promtool checks and
unit-tests the alert rules, Debian's Prometheus scrapes a live batchscore with them loaded,
and every query of the Grafana dashboard runs on what it scraped."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from processes import Cli, free_port, serving, write_config

from batchscore.config import Settings

pytestmark = [pytest.mark.slow, pytest.mark.network]  # real processes on loopback

DEPLOY = Path(__file__).parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "batchscore-rules.yml"
DASHBOARD = DEPLOY / "grafana" / "batchscore-dashboard.json"
EXAMPLE = Path(__file__).parents[2] / "examples" / "iris.csv"
PATIENCE_SECONDS = 90.0


def tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} is not installed: scripts/system-packages installs Debian's prometheus"
    return found


def test_the_alert_rules_are_valid_and_pass_their_unit_tests() -> None:
    checked = subprocess.run(
        [tool("promtool"), "check", "rules", str(RULES)], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 6 rules found" in checked.stdout
    tested = subprocess.run(
        [tool("promtool"), "test", "rules", "batchscore-rules.test.yml"],
        capture_output=True,
        text=True,
        cwd=RULES.parent,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr


@pytest.fixture
def prometheus(tmp_path: Path, settings: Settings) -> Iterator[str]:
    """A live batchscore (one job processed, one prediction) and a Prometheus scraping it
    every second with the rules loaded; the Prometheus API's base URL."""
    port = free_port()
    cli = Cli(write_config(tmp_path / "ConfigFile.properties", settings, HTTP_PORT=port))
    cli.run("submit", str(EXAMPLE))
    cli.run("process-all")
    config = tmp_path / "prometheus.yml"
    shutil.copy(RULES, tmp_path / RULES.name)
    config.write_text(
        (DEPLOY / "prometheus" / "prometheus.yml")
        .read_text()
        .replace("30s", "1s")
        .replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    )
    web = f"127.0.0.1:{free_port()}"
    cli.run("user", "add", "ops", "--password-stdin", input="a long password\n")
    token = cli.run("token", "create", "ops").stdout.splitlines()[-1]
    with serving(cli, port):
        predicted = httpx2.post(  # so that the per-model series exist
            f"http://127.0.0.1:{port}/api/models/iris/predict",
            json={"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert predicted.status_code == 200, predicted.text
        process = subprocess.Popen(
            [
                tool("prometheus"),
                f"--config.file={config}",
                f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                f"--web.listen-address={web}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            yield f"http://{web}"
        finally:
            process.terminate()
            process.communicate(timeout=60)


def query(base: str, expr: str) -> list[dict[str, Any]]:
    answer = httpx2.get(f"{base}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", (expr, answer)
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


def eventually(check: Any) -> Any:
    deadline = time.monotonic() + PATIENCE_SECONDS
    while True:
        try:
            found = check()
            if found:
                return found
        except (httpx2.HTTPError, ValueError):  # not up yet, or still starting (not JSON)
            pass
        assert time.monotonic() < deadline, "Prometheus never saw it"
        time.sleep(0.5)


def test_prometheus_scrapes_batchscore_and_runs_the_rules_and_the_dashboard(
    prometheus: str,
) -> None:
    base = prometheus
    up = eventually(lambda: query(base, 'up{job="batchscore"} == 1'))
    assert len(up) == 1
    [processed] = eventually(
        lambda: query(base, 'batchscore_jobs_finished_total{status="PROCESSED"}')
    )
    assert processed["value"][1] == "1"
    [rows] = query(base, "batchscore_rows_scored_total")
    assert rows["value"][1] == "150"
    groups = eventually(
        lambda: [
            g
            for g in httpx2.get(f"{base}/api/v1/rules", timeout=10).json()["data"]["groups"]
            if g["lastEvaluation"] > "2000"
        ]
    )
    [group] = groups
    assert {rule["name"] for rule in group["rules"]} >= {"BatchscoreDown", "BatchscoreNoWorkers"}
    assert all(rule["health"] == "ok" for rule in group["rules"]), group["rules"]
    assert not [r for r in group["rules"] if r["name"] == "BatchscoreDown" and r["alerts"]]

    scraped = set(httpx2.get(f"{base}/api/v1/label/__name__/values", timeout=10).json()["data"])
    dashboard = json.loads(DASHBOARD.read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            query(base, target["expr"])  # valid PromQL, runnable on what was scraped
            for name in re.findall(r"batchscore_[a-z_]+", target["expr"]):
                assert name in scraped, (panel["title"], name)

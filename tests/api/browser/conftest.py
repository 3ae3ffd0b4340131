"""A real headless Chromium (Debian's /usr/bin/chromium, driven by Playwright) on the panel,
served by a live uvicorn on 127.0.0.1."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import DESKTOP
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright
from processes import Cli, write_config

from batchscore.config import Settings

CHROMIUM = Path(os.environ.get("BATCHSCORE_TEST_CHROMIUM", "/usr/bin/chromium"))
# As this machine's probe starts it: no sandbox (root in CI), and nothing that phones home.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Records each browser notification's text, then lets the real Notification show it.
RECORD_NOTIFICATIONS = """
window.__notifications = [];
if ("Notification" in window) {
  window.Notification = new Proxy(window.Notification, {
    construct(target, args) {
      window.__notifications.push(args[1] && args[1].body);
      return new target(...args);
    },
  });
}
"""


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: run scripts/system-packages (Debian package chromium)")
    chromium = playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )
    yield chromium
    chromium.close()


@pytest.fixture
def context(browser: Browser, base_url: str) -> Iterator[BrowserContext]:
    """A fresh browser profile: no cookies, notifications allowed, English, UTC."""
    ctx = browser.new_context(
        base_url=base_url,
        viewport=DESKTOP,
        locale="en-US",
        timezone_id="UTC",
        accept_downloads=True,
    )
    ctx.grant_permissions(["notifications"], origin=base_url)
    ctx.add_init_script(RECORD_NOTIFICATIONS)
    ctx.set_default_timeout(10_000)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: BrowserContext) -> Iterator[Page]:
    """A tab; fails the test on any script error or console error the panel causes."""
    tab = context.new_page()
    problems: list[str] = []
    tab.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    tab.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}")
            if message.type == "error" and "status of 4" not in message.text
            else None
        ),
    )
    yield tab
    assert problems == []


@pytest.fixture
def cron(tmp_path: Path, settings: Settings) -> Cli:
    """`batchscore` in a subprocess on the test's database and folders: what cron runs."""
    return Cli(write_config(tmp_path / "ConfigFile.properties", settings))

"""Helpers for the panel's browser tests (tests/api/browser)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from playwright.sync_api import Locator, Page, ViewportSize

if TYPE_CHECKING:
    from api.conftest import Caller

DESKTOP: ViewportSize = {"width": 1280, "height": 800}
PHONE: ViewportSize = {"width": 390, "height": 844}


def sign_in(page: Page, caller: Caller) -> None:
    """Sign in through the form, as a person would (make_caller's password is pw-<name>)."""
    page.goto("/login")
    page.get_by_label("User name").fill(caller.user.username)
    page.get_by_label("Password").fill(f"pw-{caller.user.username}")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/")


def job_row(page: Page, job_id: int) -> Locator:
    """The jobs table's row of one job."""
    return page.locator(f'#jobs-body tr[data-id="{job_id}"]')

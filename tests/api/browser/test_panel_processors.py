"""The queue strip on the jobs page and the processors page, in a real browser: who takes the
jobs, what each processor is doing, how fast the last hour went."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest
from browser import sign_in
from playwright.sync_api import Page, expect
from sqlalchemy import Connection

from batchscore.db.engine import in_transaction
from batchscore.db.jobs import claim_next_job
from batchscore.db.workers import worker_seen, worker_stopped
from batchscore.scheduler.processor import process_one

pytestmark = [pytest.mark.browser, pytest.mark.network]

if TYPE_CHECKING:
    from api.conftest import Caller, Jobs

BUSY, IDLE, GONE = "scorer-1:4242:aaaa1111", "scorer-2:77:bbbb2222", "laptop:9:cccc3333"


@pytest.fixture
def fleet(jobs: Jobs, alice: Caller) -> int:
    """Three processors: one busy with alice's job (its id returned), one idle, one stopped;
    and two of her jobs processed a moment ago, one waiting."""
    for _ in range(2):
        process_one(jobs.ctx, job_id=jobs.make(alice, rows=10).id)
    busy = jobs.make(alice, filename="long.csv")
    jobs.make(alice, filename="next.csv")

    def register(conn: Connection) -> None:
        worker_seen(conn, BUSY, "worker", 12)
        worker_seen(conn, IDLE, "worker", 3)
        worker_seen(conn, GONE, "worker", 1)
        worker_stopped(conn, GONE, 1)
        claim_next_job(conn, worker_id=BUSY, lease_seconds=600, job_id=busy.id)

    in_transaction(jobs.ctx.engine, register)
    return busy.id


def test_the_jobs_page_shows_processors_waiting_jobs_and_the_last_hour(
    page: Page, alice: Caller, fleet: int
) -> None:
    sign_in(page, alice)
    strip = page.locator("#queue-strip")
    expect(strip).to_contain_text("2 processors running")  # the stopped one does not count
    expect(strip).to_contain_text("1 job waiting")
    expect(strip).to_contain_text("Last hour: 2 jobs processed, 0.033/min, 0.006 rows/s")
    expect(strip.locator("svg.sparkline polyline")).to_have_count(1)
    points = strip.locator("svg.sparkline polyline").get_attribute("points") or ""
    assert len(points.split()) == 60  # one point a minute
    strip.get_by_role("link", name="Processors →").click()
    page.wait_for_url("**/processors")


def test_the_processors_page_says_what_each_does(
    page: Page, admin: Caller, alice: Caller, fleet: int
) -> None:
    sign_in(page, admin)
    page.goto("/processors")

    busy = page.locator(f'tr[data-worker="{BUSY}"]')
    expect(busy.locator("td").first).to_contain_text("scorer-1")
    expect(busy.locator(".badge")).to_have_text("working")
    expect(busy.get_by_role("link", name=f"job #{fleet}")).to_have_attribute(
        "href", f"/jobs/{fleet}"
    )
    expect(page.locator(f'tr[data-worker="{IDLE}"] .badge')).to_have_text("idle")
    expect(page.locator(f'tr[data-worker="{GONE}"] .badge')).to_have_text("stopped")
    expect(page.locator(f'tr[data-worker="{BUSY}"] td.num')).to_have_text("12")


def test_a_plain_user_sees_that_a_processor_is_busy_not_with_whose_job(
    page: Page, bob: Caller, fleet: int
) -> None:
    sign_in(page, bob)
    page.goto("/processors")
    busy = page.locator(f'tr[data-worker="{BUSY}"]')
    expect(busy).to_contain_text("a job")
    expect(busy.get_by_role("link")).to_have_count(0)

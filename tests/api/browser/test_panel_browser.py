"""The panel in a real browser: what a person signing in, uploading and watching sees."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path
from typing import TYPE_CHECKING

import openpyxl
import pytest
from browser import PHONE, job_row, sign_in
from factories import csv_text, iris_csv
from jobstate import all_jobs
from playwright.sync_api import Page, ViewportSize, expect
from processes import Cli
from webhook_receiver import receiving

from batchscore.db.jobs import JobStatus
from batchscore.scheduler.context import Context
from batchscore.scheduler.processor import process_one
from batchscore.scheduler.webhooks import deliver_due
from batchscore.service.intake import submit_file

pytestmark = [pytest.mark.browser, pytest.mark.network]  # a real Chromium on a real server

if TYPE_CHECKING:
    from api.conftest import Caller, Jobs, Server

ROOT = Path(__file__).parents[3]
IRIS = ROOT / "examples" / "iris.csv"
LIVE_MS = 2_000  # a status change must show within 2 s, without reloading


def upload(page: Page, path: Path) -> int:
    """Choose the file, press Upload; the new job's id from the message."""
    page.get_by_label("Data file").set_input_files(path)
    page.get_by_role("button", name="Upload").click()
    message = page.locator("#upload-message")
    expect(message).to_contain_text("was queued as job")
    found = re.search(r"queued as job (\d+)", message.inner_text())
    assert found, message.inner_text()
    return int(found.group(1))


def test_a_workbook_sheet_chosen_in_the_reading_options_is_the_one_read(
    page: Page, alice: Caller, tmp_path: Path
) -> None:
    book = openpyxl.Workbook()
    notes = book.active
    assert notes is not None
    notes.append(["Measured in May"])
    flowers = book.create_sheet("Flowers")
    flowers.append(["sepal_length", "sepal_width", "petal_length", "petal_width"])
    flowers.append([5.1, 3.5, 1.4, 0.2])
    book.save(tmp_path / "two-sheets.xlsx")
    sign_in(page, alice)

    page.get_by_text("Reading and result options").click()
    page.get_by_label("Sheet (workbooks)").fill("Flowers")
    page.get_by_label("Text encoding (CSV)").select_option("Detect")
    upload(page, tmp_path / "two-sheets.xlsx")

    expect(page.locator("#upload-message")).to_contain_text(
        "(read as workbook, sheet 'Flowers', decimal point)."
    )


def test_upload_watch_it_finish_and_download(
    page: Page, alice: Caller, cron: Cli, tmp_path: Path
) -> None:
    sign_in(page, alice)
    page.evaluate("window.__sameDocument = true")  # gone if the page ever reloads
    job_id = upload(page, IRIS)
    line = job_row(page, job_id)
    expect(line.locator(".badge")).to_have_text("Pending")
    expect(line).to_contain_text("iris.csv")
    expect(page.locator("#no-processor")).to_contain_text("No job processor is running")

    cron.run("process-all")  # another process, as cron runs it

    expect(line.locator(".badge")).to_have_text("Processed", timeout=LIVE_MS)
    expect(page.locator("#no-processor")).to_be_hidden()
    expect(line).to_contain_text("150 / 150 rows")
    expect(page.locator(".toast p")).to_have_text(
        "iris.csv is ready — 150 rows, no errors", timeout=LIVE_MS
    )
    assert page.evaluate("window.__notifications") == ["iris.csv is ready — 150 rows, no errors"]
    assert page.evaluate("window.__sameDocument") is True

    with page.expect_download() as info:
        line.get_by_role("link", name="Download the result of iris.csv").click()
    download = info.value
    assert download.suggested_filename == "iris-predictions.xlsx"
    saved = tmp_path / "result.xlsx"
    download.save_as(saved)
    book = openpyxl.load_workbook(saved, read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    book.close()
    header = IRIS.read_text().splitlines()[0].split(",")
    assert rows[0] == (*header, "prediction", "probability", "warning", "error")
    assert len(rows) == 151
    assert rows[1][-4] == "setosa"


def test_notification_counts_rows_with_errors(
    page: Page, alice: Caller, cron: Cli, tmp_path: Path
) -> None:
    rows = [["5.1", "3.5", "1.4", "0.2"]] * 19 + [["5.1", "n/a", "1.4", "0.2"]]
    sales = tmp_path / "sales.csv"
    sales.write_text(csv_text(rows))
    sign_in(page, alice)
    upload(page, sales)
    cron.run("process-all")
    expect(page.locator(".toast")).to_contain_text(
        "sales.csv is ready — 20 rows, 1 with errors", timeout=LIVE_MS
    )


def test_upload_missing_a_feature_names_the_column(
    page: Page, alice: Caller, jobs: Jobs, tmp_path: Path
) -> None:
    missing = tmp_path / "no-petals.csv"
    missing.write_text("sepal_length,sepal_width,petal_length\n5.1,3.5,1.4\n")
    sign_in(page, alice)
    page.get_by_label("Data file").set_input_files(missing)
    page.get_by_role("button", name="Upload").click()
    message = page.locator("#upload-message")
    expect(message).to_contain_text("Missing column(s) petal_width. Model iris v1 needs")
    expect(message).to_have_class("alert alert-error")
    expect(page.locator("#jobs-empty")).to_be_visible()
    assert list(Path(jobs.ctx.settings.input_dir).iterdir()) == []


def test_model_chooser_shows_the_chosen_models_features(page: Page, alice: Caller) -> None:
    sign_in(page, alice)
    chooser = page.get_by_label("Model")
    expect(chooser.locator("option")).to_have_text(["iris · v1 (classification)"])
    expect(page.locator("#model-features")).to_have_text(
        "Needs columns: sepal_length sepal_width petal_length petal_width"
    )


def test_file_can_be_dropped_on_the_upload_area(page: Page, alice: Caller, jobs: Jobs) -> None:
    sign_in(page, alice)
    transfer = page.evaluate_handle(
        """text => {
            const data = new DataTransfer();
            data.items.add(new File([text], "dropped.csv", {type: "text/csv"}));
            return data;
        }""",
        iris_csv(4),
    )
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})
    expect(page.locator("#file-name")).to_contain_text("dropped.csv")
    page.get_by_role("button", name="Upload").click()
    expect(page.locator("#upload-message")).to_contain_text("dropped.csv was queued as job")
    expect(page.locator("#jobs-body")).to_contain_text("dropped.csv")


def test_in_progress_job_shows_its_progress_live(page: Page, alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice, filename="big.csv", rows=40)
    sign_in(page, alice)
    line = job_row(page, job.id)
    expect(line.locator(".badge")).to_have_text("Pending")
    jobs.report_progress(jobs.start(job), rows_done=10, rows_total=40)
    expect(line.locator(".badge")).to_have_text("In progress", timeout=LIVE_MS)
    expect(line).to_contain_text("25% · 10 / 40 rows")
    assert line.locator("progress").get_attribute("value") == "0.25"
    expect(line.get_by_role("button", name="Delete big.csv")).to_have_count(0)


def test_failed_job_shows_its_error_and_can_be_retried(
    page: Page, alice: Caller, jobs: Jobs
) -> None:
    job = jobs.make(alice, "FAILED", filename="photo.csv")
    sign_in(page, alice)
    line = job_row(page, job.id)
    expect(line.locator(".badge")).to_have_text("Failed")
    show = line.get_by_role("button", name="Show error photo.csv")
    show.click()
    detail = page.locator(f"#error-{job.id}")
    assert job.error_message
    expect(detail).to_have_text(job.error_message)
    expect(line.get_by_role("button", name="Hide error photo.csv")).to_have_attribute(
        "aria-expanded", "true"
    )
    line.get_by_role("button", name="Retry photo.csv").click()
    expect(line.locator(".badge")).to_have_text("Pending", timeout=LIVE_MS)
    expect(detail).to_have_count(0)
    retried = jobs.get(job.id)
    assert retried.status is JobStatus.PENDING and retried.error_message is None


def test_a_pending_job_is_cancelled_from_the_table_and_retried(
    page: Page, alice: Caller, jobs: Jobs
) -> None:
    job = jobs.make(alice, filename="wrong.csv")
    sign_in(page, alice)
    line = job_row(page, job.id)
    line.get_by_role("button", name="Cancel wrong.csv").click()
    expect(line.locator(".badge")).to_have_text("Cancelled", timeout=LIVE_MS)
    expect(page.locator("#toasts")).to_contain_text("wrong.csv cancelled.")
    assert jobs.get(job.id).status is JobStatus.CANCELLED
    expect(line.get_by_role("button", name="Cancel wrong.csv")).to_have_count(0)
    line.get_by_role("button", name="Retry wrong.csv").click()
    expect(line.locator(".badge")).to_have_text("Pending", timeout=LIVE_MS)


def test_a_running_job_is_cancelled_from_its_page(page: Page, alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice, "IN_PROGRESS", filename="long.csv")
    sign_in(page, alice)
    page.goto(f"/jobs/{job.id}")
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#job .badge")).to_have_text("CANCELLED", timeout=LIVE_MS)
    expect(page.get_by_role("button", name="Retry")).to_be_visible()
    assert jobs.get(job.id).status is JobStatus.CANCELLED


def test_retry_failed_queues_every_failed_job_at_once(
    page: Page, alice: Caller, jobs: Jobs
) -> None:
    failed = [jobs.make(alice, "FAILED", filename=f"bad-{n}.csv") for n in range(2)]
    sign_in(page, alice)
    for job in failed:
        expect(job_row(page, job.id).locator(".badge")).to_have_text("Failed")
    page.get_by_role("button", name="Retry failed").click()
    expect(page.locator("#toasts")).to_contain_text("2 failed jobs queued again.")
    for job in failed:
        expect(job_row(page, job.id).locator(".badge")).to_have_text("Pending", timeout=LIVE_MS)
    page.get_by_role("button", name="Archive failed").click()
    expect(page.locator("#toasts")).to_contain_text("There are no failed jobs.")


def test_archive_hides_a_job_until_archived_jobs_are_shown(
    page: Page, alice: Caller, jobs: Jobs
) -> None:
    job = jobs.make(alice, "PROCESSED", filename="old.csv")
    sign_in(page, alice)
    line = job_row(page, job.id)
    line.get_by_role("button", name="Archive old.csv").click()
    expect(line).to_have_count(0)
    assert jobs.get(job.id).archived
    page.get_by_label("Show archived").check()
    expect(line.locator(".tag")).to_have_text("archived")
    line.get_by_role("button", name="Unarchive old.csv").click()
    expect(line.locator(".tag")).to_have_count(0)
    assert not jobs.get(job.id).archived


def test_delete_asks_first_and_removes_the_job_and_its_files(
    page: Page, alice: Caller, jobs: Jobs
) -> None:
    job = jobs.make(alice, "PROCESSED", filename="done.csv")
    files = jobs.files(job)
    sign_in(page, alice)
    line = job_row(page, job.id)
    dialog = page.get_by_role("dialog")

    line.get_by_role("button", name="Delete done.csv").click()
    expect(dialog).to_contain_text("Delete done.csv?")
    page.keyboard.press("Escape")  # changed my mind
    expect(dialog).to_be_hidden()
    assert all(path.exists() for path in files)

    line.get_by_role("button", name="Delete done.csv").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(line).to_have_count(0)
    expect(page.locator(".toast")).to_contain_text("done.csv deleted.")
    assert not any(path.exists() for path in files)


def test_status_filter_shows_only_that_status(page: Page, alice: Caller, jobs: Jobs) -> None:
    done = jobs.make(alice, "PROCESSED", filename="done.csv")
    failed = jobs.make(alice, "FAILED", filename="broken.csv")
    sign_in(page, alice)
    body = page.locator("#jobs-body")
    expect(body.locator("tr[data-id]")).to_have_count(2)
    page.get_by_label("Status").select_option("FAILED")
    expect(body.locator("tr[data-id]")).to_have_count(1)
    expect(body.locator(f'tr[data-id="{failed.id}"]')).to_be_visible()
    page.get_by_label("Status").select_option("PROCESSED")
    expect(body.locator("tr[data-id]")).to_have_attribute("data-id", str(done.id))


def test_job_page_shows_metadata_first_rows_and_error_rows(
    page: Page, alice: Caller, jobs: Jobs
) -> None:
    rows = [["5.1", "3.5", "1.4", "0.2"]] * 25 + [["6.0", "oops", "4.0", "1.2"]]
    job = jobs.upload(alice, csv_text(rows), filename="mixed.csv").json()
    process_one(jobs.ctx, job_id=job["id"])
    sign_in(page, alice)
    page.get_by_role("link", name="mixed.csv", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("mixed.csv")
    expect(page.locator(".meta")).to_contain_text("iris v1")
    expect(page.locator(".meta")).to_contain_text("26 of 26")
    first = page.locator("section[aria-labelledby=first-rows] tbody tr")
    expect(first).to_have_count(20)
    errors = page.locator("section[aria-labelledby=error-rows] tbody tr")
    expect(errors).to_have_count(1)
    expect(errors.locator("td").first).to_have_text("27")  # its row in Excel: the header is row 1
    expect(errors).to_contain_text("sepal_width: 'oops' is not a number")
    expect(page.get_by_role("link", name="Download result")).to_have_attribute(
        "href", f"/api/jobs/{job['id']}/result"
    )


def test_job_page_follows_a_running_job(page: Page, alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice, filename="wait.csv")
    sign_in(page, alice)
    page.goto(f"/jobs/{job.id}")
    expect(page.locator("#job .badge")).to_have_text("PENDING")
    process_one(jobs.ctx, job_id=job.id)
    expect(page.locator("#job .badge")).to_have_text("PROCESSED", timeout=LIVE_MS + 3_000)


def test_wrong_password_says_so(page: Page, alice: Caller) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/login\?next=/$"))
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("not-her-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Wrong user name or password.")
    expect(page.get_by_label("User name")).to_have_value("alice")


def test_form_without_its_csrf_token_is_rejected(page: Page, alice: Caller) -> None:
    page.goto("/login")
    page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    page.get_by_label("User name").fill("alice")
    page.get_by_label("Password").fill("pw-alice")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("security token is missing")
    page.goto("/")
    assert "/login" in page.url  # not signed in


def test_forged_api_call_without_csrf_header_is_rejected(
    page: Page, alice: Caller, jobs: Jobs
) -> None:
    job = jobs.make(alice, "PROCESSED")
    sign_in(page, alice)
    status = page.evaluate(
        "id => fetch(`/api/jobs/${id}`, {method: 'DELETE'}).then(r => r.status)", job.id
    )
    assert status == 403
    assert jobs.get(job.id).status is JobStatus.PROCESSED


def test_other_users_jobs_never_appear(page: Page, alice: Caller, bob: Caller, jobs: Jobs) -> None:
    mine = jobs.make(alice, "PROCESSED", filename="alice.csv")
    theirs = [
        jobs.make(bob, state, filename=f"bob-{state.lower()}.csv")
        for state in ("PENDING", "PROCESSED", "FAILED")
    ]
    sign_in(page, alice)
    body = page.locator("#jobs-body")
    expect(body.locator("tr[data-id]")).to_have_count(1)
    for status in ("", "PENDING", "PROCESSED", "FAILED"):
        page.get_by_label("Status").select_option(status)
        page.wait_for_timeout(300)
        expect(body).not_to_contain_text("bob-")
    page.get_by_label("Status").select_option("")
    page.get_by_label("Show archived").check()
    expect(body).not_to_contain_text("bob-")
    expect(body.locator(f'tr[data-id="{mine.id}"]')).to_have_count(1)
    page.goto(f"/jobs/{theirs[1].id}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Not found")


def test_token_page_creates_shows_once_and_revokes(page: Page, alice: Caller) -> None:
    sign_in(page, alice)
    page.get_by_role("link", name="API tokens").click()
    page.get_by_label("Name").fill("nightly export")
    page.get_by_role("button", name="Create token").click()
    token = page.get_by_label("New API token").input_value()
    assert token.startswith("bs_")
    response = page.request.get("/api/jobs", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 200
    page.goto("/tokens")
    expect(page.get_by_label("New API token")).to_have_count(0)
    page.get_by_role("button", name="Revoke token nightly export").click()
    expect(page.locator("tbody")).to_contain_text("revoked")
    response = page.request.get("/api/jobs", headers={"Authorization": f"Bearer {token}"})
    assert response.status == 403


def test_sign_out_returns_to_the_sign_in_page(page: Page, alice: Caller) -> None:
    sign_in(page, alice)
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status").first).to_have_text("You are signed out.")
    page.goto("/")
    assert "/login" in page.url


def test_keyboard_alone_reaches_upload_and_job_actions(
    page: Page, alice: Caller, jobs: Jobs
) -> None:
    job = jobs.make(alice, "PROCESSED", filename="keys.csv")
    sign_in(page, alice)
    expect(job_row(page, job.id)).to_be_visible()
    reached = []
    for _ in range(45):  # past the filters and the sortable headers
        page.keyboard.press("Tab")
        reached.append(
            page.evaluate("document.activeElement.id || document.activeElement.textContent.trim()")
        )
    for target in ("file", "model", "format", "upload-button", "Download", "Archive", "Delete"):
        assert target in reached, reached
    page.locator(f'#jobs-body tr[data-id="{job.id}"] [data-action=delete]').focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("dialog")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()


def test_phone_width_shows_jobs_as_cards_without_sideways_scrolling(
    page: Page, alice: Caller, jobs: Jobs
) -> None:
    jobs.make(alice, "PROCESSED", filename="a-rather-long-file-name-from-the-finance-team.csv")
    jobs.make(alice, "FAILED", filename="broken.csv")
    page.set_viewport_size(PHONE)
    sign_in(page, alice)
    expect(page.locator("#jobs-body tr[data-id]")).to_have_count(2)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    assert page.locator("#jobs-table thead").bounding_box()["height"] <= 1  # type: ignore[index]
    expect(page.get_by_role("button", name="Upload")).to_be_visible()


def test_upload_again_after_a_lost_answer_finds_the_first_job(
    page: Page, alice: Caller, ctx: Context
) -> None:
    """The server queues the first press's file but its answer is lost (the page sees the
    connection drop); pressing Upload again shows that job, and nothing is queued twice."""
    sign_in(page, alice)
    page.evaluate(LOSE_THE_FIRST_UPLOAD_ANSWER)
    page.get_by_label("Data file").set_input_files(IRIS)
    page.get_by_role("button", name="Upload").click()
    message = page.locator("#upload-message")
    expect(message).to_contain_text("did not reach the server")
    [first] = all_jobs(ctx)
    page.get_by_role("button", name="Upload").click()
    expect(message).to_contain_text(f"iris.csv was already queued as job {first.id} (read as")
    assert [job.id for job in all_jobs(ctx)] == [first.id]


# In the page: the first upload's answer reads as status 0, as when the connection drops.
LOSE_THE_FIRST_UPLOAD_ANSWER = """() => {
  const open = XMLHttpRequest.prototype.open;
  const status = Object.getOwnPropertyDescriptor(XMLHttpRequest.prototype, "status").get;
  let first = true;
  XMLHttpRequest.prototype.open = function (method, url, ...rest) {
    this.answerLost = first && method === "POST" && url === "/api/jobs";
    first = first && !this.answerLost;
    return open.call(this, method, url, ...rest);
  };
  Object.defineProperty(XMLHttpRequest.prototype, "status", {
    get() { return this.answerLost ? 0 : status.call(this); },
  });
}"""


def test_job_page_shows_its_webhook_and_what_the_receiver_answered(
    page: Page, alice: Caller, ctx: Context
) -> None:
    allowing = dataclasses.replace(
        ctx, settings=dataclasses.replace(ctx.settings, webhook_allow_private=True)
    )
    with receiving(503, 200) as receiver:
        job = submit_file(
            allowing,
            io.BytesIO(IRIS.read_bytes()),
            "iris.csv",
            owner_id=alice.user.id,
            callback_url=receiver.url,
        )
        process_one(ctx, job_id=job.id)
        deliver_due(allowing)  # the receiver answers 503: to be tried again
    sign_in(page, alice)
    page.goto(f"/jobs/{job.id}")
    expect(page.get_by_text("Webhook", exact=True)).to_be_visible()
    row = page.locator("#deliveries tbody tr")
    expect(row).to_contain_text("job.processed")
    expect(row).to_contain_text("Pending")
    expect(row).to_contain_text("The receiver answered 503 Service Unavailable.")


def test_a_token_made_on_the_tokens_page_may_only_what_was_ticked(
    page: Page, alice: Caller, server: Server
) -> None:
    sign_in(page, alice)
    page.goto("/tokens")
    page.get_by_label("Name", exact=True).fill("public page")
    page.get_by_role("checkbox", name=re.compile("^predict ")).check()
    page.get_by_label("Predict only with models").fill("iris")
    page.get_by_role("button", name="Create token").click()
    token = page.locator("#token-value").input_value()
    row = page.get_by_role("row", name=re.compile("public page"))
    expect(row).to_contain_text("predict")
    expect(row).to_contain_text("models: iris")
    with server.client(headers={"Authorization": f"Bearer {token}"}) as program:
        setosa = {"sepal_length": 5.1, "sepal_width": 3.5, "petal_length": 1.4, "petal_width": 0.2}
        assert program.post("/api/models/iris/predict", json=setosa).status_code == 200
        assert program.get("/api/jobs").status_code == 403


def test_the_api_docs_render_under_the_panels_policy_and_lead_back(
    page: Page, alice: Caller
) -> None:
    sign_in(page, alice)
    page.goto("/docs")

    expect(page.locator(".opblock-summary-path").first).to_be_visible()  # Swagger UI drew it
    expect(page.get_by_text("/api/models/{name}/predict", exact=True)).to_be_visible()
    page.get_by_role("link", name="← batchscore panel").click()
    page.wait_for_url("**/")
    expect(page.get_by_role("heading", name="Score a file")).to_be_visible()


@pytest.mark.parametrize("viewport", [PHONE, None], ids=["390px", "1280px"])
def test_notices_never_cover_a_button_and_only_the_last_three_stay(
    page: Page, alice: Caller, jobs: Jobs, viewport: ViewportSize | None
) -> None:
    if viewport is not None:
        page.set_viewport_size(viewport)
    made = [jobs.make(alice, filename=f"file-{n}.csv") for n in range(5)]
    sign_in(page, alice)
    for n, job in enumerate(made):
        job_row(page, job.id).get_by_role("button", name=f"Cancel file-{n}.csv").click()
        expect(job_row(page, job.id).locator(".badge")).to_have_text("Cancelled", timeout=LIVE_MS)

    notices = page.locator("#toasts .toast")
    expect(notices).to_have_count(3)
    expect(notices.first).to_contain_text("file-4.csv cancelled.")  # the newest first
    covered = page.evaluate(
        """() => {
          const notices = [...document.querySelectorAll('#toasts .toast')]
            .map(t => t.getBoundingClientRect());
          const meets = (r, t) =>
            r.left < t.right && t.left < r.right && r.top < t.bottom && t.top < r.bottom;
          return [...document.querySelectorAll('button, a.button')]
            .filter(b => !b.closest('#toasts'))
            .filter(b => notices.some(t => meets(b.getBoundingClientRect(), t)))
            .map(b => b.textContent);
        }"""
    )
    assert covered == []


def test_the_upload_form_keeps_its_choices_for_the_next_file(page: Page, alice: Caller) -> None:
    sign_in(page, alice)
    page.get_by_label("Result", exact=True).select_option("csv")
    page.get_by_text("Reading and result options").click()
    page.get_by_label("Decimal mark").select_option(",")
    upload(page, IRIS)

    expect(page.get_by_label("Result", exact=True)).to_have_value("csv")
    expect(page.get_by_label("Decimal mark")).to_have_value(",")
    expect(page.locator("#file-name")).to_have_text("or drop it here")  # only the file is cleared
    assert page.get_by_label("Data file").evaluate("input => input.files.length") == 0


def showing(first: int, last: int, total: int) -> str:
    """What the pager says: rows first to last (an en dash between) of total."""
    return f"{first}\u2013{last} of {total}"


def shown_files(page: Page) -> list[str]:
    return page.locator("#jobs-body tr[data-id] .file-cell a").all_inner_texts()


def test_the_jobs_table_searches_sorts_and_pages(page: Page, alice: Caller, jobs: Jobs) -> None:
    for n in range(52):
        jobs.make(alice, filename=f"batch-{n:02}.csv")
    jobs.make(alice, filename="Quarterly_Sales_Report_With_A_Very_Long_Name_2026.csv")
    sign_in(page, alice)
    expect(page.locator("#page-text")).to_have_text(showing(1, 50, 53))

    page.get_by_role("button", name="Next →").click()
    expect(page.locator("#page-text")).to_have_text(showing(51, 53, 53))
    assert shown_files(page) == ["batch-02.csv", "batch-01.csv", "batch-00.csv"]
    expect(page.get_by_role("button", name="Next →")).to_be_disabled()
    page.get_by_role("button", name="← Previous").click()
    expect(page.locator("#page-text")).to_have_text(showing(1, 50, 53))

    by_file = page.locator('th[data-sort="filename"] button')
    by_file.click()  # A to Z
    expect(page.locator("#jobs-body tr[data-id]").first).to_contain_text("batch-00.csv")
    expect(page.locator('th[data-sort="filename"]')).to_have_attribute("aria-sort", "ascending")
    by_file.click()  # Z to A
    expect(page.locator("#jobs-body tr[data-id]").first).to_contain_text("Quarterly_Sales")

    page.get_by_label("Find").fill("sales")
    expect(page.locator("#page-text")).to_have_text(showing(1, 1, 1))
    page.get_by_label("Find").fill("no such file")
    expect(page.locator("#jobs-none")).to_be_visible()
    expect(page.locator("#jobs-empty")).to_be_hidden()


def test_the_date_filter_takes_the_users_own_days(page: Page, alice: Caller, jobs: Jobs) -> None:
    jobs.make(alice, filename="today.csv")
    sign_in(page, alice)
    today = page.evaluate("() => new Date().toLocaleDateString('en-CA')")  # YYYY-MM-DD, local
    page.get_by_label("From").fill(today)
    page.get_by_label("to", exact=True).fill(today)
    expect(page.locator("#page-text")).to_have_text(showing(1, 1, 1))
    page.get_by_label("From").fill("2020-01-01")
    page.get_by_label("to", exact=True).fill("2020-01-31")
    expect(page.locator("#jobs-none")).to_be_visible()


def test_an_admins_table_names_each_jobs_owner(
    page: Page, alice: Caller, bob: Caller, admin: Caller, jobs: Jobs
) -> None:
    mine = jobs.make(alice, filename="a.csv")
    theirs = jobs.make(bob, filename="b.csv")
    sign_in(page, admin)
    expect(job_row(page, mine.id).locator("td.owner")).to_have_text("alice")
    expect(job_row(page, theirs.id).locator("td.owner")).to_have_text("bob")
    expect(page.locator("th", has_text="Owner")).to_have_count(1)


def test_a_plain_users_table_has_no_owner_column(page: Page, alice: Caller, jobs: Jobs) -> None:
    job = jobs.make(alice, filename="a.csv")
    sign_in(page, alice)
    expect(job_row(page, job.id)).to_be_visible()
    expect(page.locator("td.owner, th", has_text="Owner")).to_have_count(0)

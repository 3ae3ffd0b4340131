"""The panel over real HTTP without a browser: sign-in, the session cookie, CSRF, the sign-in
brake, pages and their errors, API tokens. (tests/api/browser drives it in Chromium.)"""

from __future__ import annotations

import dataclasses
import re
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import TYPE_CHECKING

import httpx2
import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from panel_client import PanelClient

from batchscore.api.session import COOKIE, SALT
from batchscore.config import Secret, Settings
from batchscore.db.engine import in_transaction
from batchscore.db.users import list_tokens
from batchscore.scheduler.context import Context
from batchscore.scheduler.processor import process_one

if TYPE_CHECKING:
    from api.conftest import Caller, Jobs, Server, StartServer


def cookie_header(response: httpx2.Response) -> str:
    cookies = [v for k, v in response.headers.multi_items() if k == "set-cookie"]
    assert len(cookies) == 1, cookies
    return cookies[0]


# --- signing in and out ------------------------------------------------------------------


def test_panel_redirects_to_sign_in_when_nobody_is_signed_in(panel: PanelClient) -> None:
    response = panel.http.get("/jobs/1")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/jobs/1"


def test_sign_in_form_sets_an_anonymous_session_cookie(panel: PanelClient) -> None:
    response = panel.http.get("/login")
    assert response.status_code == 200
    cookie = cookie_header(response)
    assert cookie.startswith(f"{COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP: the browser would drop a Secure cookie


@pytest.mark.network  # uvicorn's proxy headers set the scheme
def test_session_cookie_is_secure_when_served_over_https(panel: PanelClient) -> None:
    # uvicorn trusts X-Forwarded-Proto from 127.0.0.1, as from a TLS-terminating proxy there.
    response = panel.http.get("/login", headers={"X-Forwarded-Proto": "https"})
    assert "; Secure" in cookie_header(response)


def test_sign_in_opens_the_panel(panel: PanelClient, alice: Caller) -> None:
    response = panel.sign_in("alice")
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    page = panel.http.get("/")
    assert page.status_code == 200
    assert "Signed in as <strong>alice</strong>" in page.text


def test_sign_in_issues_a_new_csrf_token(panel: PanelClient, alice: Caller) -> None:
    before = panel.csrf("/login")
    panel.sign_in("alice")
    assert panel.csrf("/") != before  # a token seen before sign-in is worth nothing after


def test_session_cookie_from_before_sign_in_stays_signed_out(
    panel: PanelClient, alice: Caller, server: Server
) -> None:
    """Session fixation: a cookie planted before the victim signs in never becomes hers."""
    panel.csrf("/login")
    planted = panel.http.cookies[COOKIE]
    assert panel.sign_in("alice").status_code == 303
    assert panel.http.cookies[COOKIE] != planted
    with server.client(cookies={COOKIE: planted}) as attacker:
        response = attacker.get("/", headers={"Accept": "text/html"})
    assert (response.status_code, response.headers["location"]) == (303, "/login?next=/")


@pytest.mark.parametrize(
    ("username", "password", "status", "message"),
    [
        ("alice", "wrong", 401, "Wrong user name or password."),
        ("nobody", "pw-nobody", 401, "Wrong user name or password."),
        ("alice", "", 401, "Enter your user name and password."),
        ("", "pw-alice", 401, "Enter your user name and password."),
    ],
)
def test_sign_in_refused_with_a_clear_message(
    panel: PanelClient, alice: Caller, username: str, password: str, status: int, message: str
) -> None:
    response = panel.sign_in(username, password)
    assert response.status_code == status
    assert message in response.text
    assert panel.http.get("/").status_code == 303  # still signed out


def test_sign_in_goes_on_to_the_page_asked_for(panel: PanelClient, alice: Caller) -> None:
    token = panel.csrf("/login?next=/tokens")
    form = {"csrf_token": token, "username": "alice", "password": "pw-alice", "next": "/tokens"}
    response = panel.http.post("/login", data=form)
    assert response.headers["location"] == "/tokens"


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example"])
def test_sign_in_never_sends_you_to_another_site(
    panel: PanelClient, alice: Caller, target: str
) -> None:
    form = {"csrf_token": panel.csrf(), "username": "alice", "password": "pw-alice", "next": target}
    assert panel.http.post("/login", data=form).headers["location"] == "/"


def test_sign_out_ends_the_session(panel: PanelClient, alice: Caller) -> None:
    panel.sign_in("alice")
    response = panel.http.post("/logout", data={"csrf_token": panel.csrf("/")})
    assert response.status_code == 303
    assert response.headers["location"] == "/login?signed_out=1"
    assert panel.http.get("/").status_code == 303
    assert "You are signed out." in panel.http.get("/login?signed_out=1").text


def test_tampered_session_cookie_counts_as_signed_out(
    panel: PanelClient, alice: Caller, server: Server
) -> None:
    panel.sign_in("alice")
    value = panel.http.cookies[COOKIE]
    forged = value.replace(value[5], "A" if value[5] != "A" else "B", 1)
    with server.client(cookies={COOKIE: forged}) as other:
        assert other.get("/", headers={"Accept": "text/html"}).status_code == 303
        assert other.get("/api/jobs").status_code == 401


def session_cookie(settings: Settings, user_id: int, age_seconds: int = 0) -> str:
    """A session cookie signed with the server's secret, as if issued `age_seconds` ago."""

    class Signer(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - age_seconds

    serializer = URLSafeTimedSerializer(str(settings.secret_key), salt=SALT, signer=Signer)
    return serializer.dumps({"user": user_id, "csrf": "x"})


@pytest.mark.parametrize(("age_hours", "status"), [(0, 200), (11.9, 200), (12.1, 401)])
def test_session_lasts_session_hours(
    server: Server, alice: Caller, settings: Settings, age_hours: float, status: int
) -> None:
    cookie = session_cookie(settings, alice.user.id, int(age_hours * 3600))
    with server.client(cookies={COOKIE: cookie}) as browser:
        assert browser.get("/api/jobs").status_code == status


def test_session_signed_with_another_secret_is_refused(
    server: Server, alice: Caller, settings: Settings
) -> None:
    other = dataclasses.replace(settings, secret_key=Secret("another secret"))
    with server.client(cookies={COOKIE: session_cookie(other, 1)}) as browser:
        assert browser.get("/api/jobs").status_code == 401


def test_session_of_a_deleted_user_counts_as_signed_out(
    server: Server, settings: Settings, alice: Caller
) -> None:
    with server.client(cookies={COOKIE: session_cookie(settings, 999)}) as c:
        assert c.get("/api/jobs").status_code == 401


# --- CSRF ------------------------------------------------------------------------------------


def test_sign_in_without_csrf_token_is_refused(panel: PanelClient, alice: Caller) -> None:
    panel.csrf()
    response = panel.http.post("/login", data={"username": "alice", "password": "pw-alice"})
    assert response.status_code == 403
    assert "security token is missing or out of date" in response.text
    assert panel.http.get("/").status_code == 303


def test_sign_in_with_another_sessions_csrf_token_is_refused(
    panel: PanelClient, alice: Caller, server: Server
) -> None:
    stranger = PanelClient(server.client())
    try:
        token = stranger.csrf()
    finally:
        stranger.close()
    panel.csrf()
    form = {"csrf_token": token, "username": "alice", "password": "pw-alice"}
    assert panel.http.post("/login", data=form).status_code == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/logout"),
        ("POST", "/tokens"),
        ("POST", "/api/jobs/{id}/archive"),
        ("POST", "/api/jobs/{id}/retry"),
        ("DELETE", "/api/jobs/{id}"),
        ("POST", "/process_file?id={id}"),
        ("GET", "/process_file?id={id}"),
        ("POST", "/process_all"),
        ("GET", "/process_all"),
    ],
)
def test_change_by_session_without_csrf_token_is_refused_and_changes_nothing(
    panel: PanelClient, alice: Caller, jobs: Jobs, method: str, path: str
) -> None:
    job = jobs.make(alice, "PENDING" if "process" in path else "FAILED")
    panel.sign_in("alice")
    response = panel.http.request(method, path.format(id=job.id), data={"name": "x"})
    assert response.status_code == 403
    assert jobs.get(job.id) == job
    assert in_transaction(jobs.ctx.engine, lambda c: list_tokens(c, alice.user.id))[1:] == []
    assert panel.http.get("/").status_code == 200  # still signed in


def test_api_change_by_session_with_csrf_header_works(
    panel: PanelClient, alice: Caller, jobs: Jobs
) -> None:
    job = jobs.make(alice, "PROCESSED")
    panel.sign_in("alice")
    token = panel.csrf("/")
    response = panel.http.post(f"/api/jobs/{job.id}/archive", headers={"X-CSRF-Token": token})
    assert response.status_code == 200
    assert jobs.get(job.id).archived


def test_api_reads_by_session_need_no_csrf_token(
    panel: PanelClient, alice: Caller, jobs: Jobs
) -> None:
    job = jobs.make(alice)
    panel.sign_in("alice")
    body = panel.http.get("/api/jobs", headers={"Accept": "application/json"}).json()
    assert [j["id"] for j in body["jobs"]] == [job.id]


# --- the sign-in brake ----------------------------------------------------------------------


Braked = Callable[..., PanelClient]


@pytest.fixture
def braked(settings: Settings, alice: Caller, start_server: StartServer) -> Iterator[Braked]:
    """A panel client of a server with a tight brake: 3 failures per user by default."""
    with ExitStack() as stack:

        def start(
            per_user: int = 3, per_address: int = 100, window_seconds: float = 900
        ) -> PanelClient:
            changed = dataclasses.replace(
                settings,
                login_failures_per_user=per_user,
                login_failures_per_address=per_address,
                login_window_seconds=window_seconds,
            )
            client = PanelClient(start_server(changed).client())
            stack.callback(client.close)
            return client

        yield start


def test_repeated_failures_for_a_user_pause_sign_in(braked: Braked) -> None:
    client = braked()
    for _ in range(3):
        assert client.sign_in("alice", "guess").status_code == 401
    refused = client.sign_in("alice")  # even the right password, while braked
    assert refused.status_code == 429
    assert "Too many failed sign-ins" in refused.text
    assert "Try again in 15 minutes." in refused.text
    assert 840 < int(refused.headers["retry-after"]) <= 900
    assert client.http.get("/").status_code == 303


def test_user_brake_does_not_lock_out_other_users(braked: Braked, bob: Caller) -> None:
    client = braked()
    for _ in range(3):
        client.sign_in("alice", "guess")
    assert client.sign_in("bob").status_code == 303


def test_user_name_case_does_not_escape_the_brake(braked: Braked) -> None:
    client = braked()
    for name in ("alice", "ALICE", "Alice"):
        client.sign_in(name, "guess")
    assert client.sign_in("alice").status_code == 429


def test_repeated_failures_from_one_address_pause_sign_in_for_every_name(
    braked: Braked, bob: Caller
) -> None:
    client = braked(per_user=100, per_address=4)
    for name in ("x1", "x2", "x3", "x4"):  # a different name each time: a spraying attack
        assert client.sign_in(name, "guess").status_code == 401
    assert client.sign_in("bob").status_code == 429


def test_successful_sign_in_clears_the_users_failures(braked: Braked) -> None:
    client = braked()
    for _ in range(2):
        client.sign_in("alice", "guess")
    assert client.sign_in("alice").status_code == 303
    client.http.post("/logout", data={"csrf_token": client.csrf("/")})
    for _ in range(2):
        assert client.sign_in("alice", "guess").status_code == 401
    assert client.sign_in("alice").status_code == 303


def test_failures_older_than_the_window_do_not_count(braked: Braked) -> None:
    client = braked(window_seconds=0.001)
    for _ in range(5):
        assert client.sign_in("alice", "guess").status_code == 401
    assert client.sign_in("alice").status_code == 303


# --- pages -------------------------------------------------------------------------------


def test_panel_lists_the_installed_models_and_their_features(
    panel: PanelClient, alice: Caller
) -> None:
    panel.sign_in("alice")
    page = panel.http.get("/").text
    assert re.search(r'<option value="iris" data-features="sepal_length, sepal_width', page)
    assert "<code>petal_width</code>" in page


def test_panel_pages_forbid_inline_scripts_and_framing(panel: PanelClient, alice: Caller) -> None:
    pages = [panel.http.get("/login")]
    panel.sign_in("alice")
    pages += [panel.http.get(path) for path in ("/", "/tokens", "/models", "/models/iris")]
    for page in pages:
        assert page.status_code == 200
        policy = page.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert "unsafe-inline" not in policy


def test_job_page_shows_the_result_and_its_error_rows(
    panel: PanelClient, alice: Caller, jobs: Jobs
) -> None:
    rows = ["5.1,3.5,1.4,0.2"] * 30 + ["5.1,abc,1.4,0.2"] + ["5.1,3.5,1.4,0.2"] * 9
    text = "sepal_length,sepal_width,petal_length,petal_width\n" + "\n".join(rows) + "\n"
    job_id = jobs.upload(alice, text, filename="with-error.csv").json()["id"]
    process_one(jobs.ctx, job_id=job_id)
    panel.sign_in("alice")
    page = panel.http.get(f"/jobs/{job_id}")
    assert page.status_code == 200
    assert "First 20 rows of the result" in page.text
    assert "Rows with errors (1)" in page.text
    assert "sepal_width: &#39;abc&#39; is not a number" in page.text
    assert re.search(r'<td class="num">32</td>', page.text)  # its row in Excel: line 32
    assert f'href="/api/jobs/{job_id}/result"' in page.text
    assert f'href="/api/jobs/{job_id}/errors"' in page.text  # the rows with errors, to fix


def test_job_page_says_so_when_the_result_file_is_gone(
    panel: PanelClient, alice: Caller, jobs: Jobs
) -> None:
    job = jobs.make(alice, "PROCESSED")
    jobs.files(job)[1].unlink()
    panel.sign_in("alice")
    page = panel.http.get(f"/jobs/{job.id}")
    assert page.status_code == 200
    assert "The result file cannot be read" in page.text


def test_someone_elses_job_page_is_not_found(
    panel: PanelClient, alice: Caller, bob: Caller, jobs: Jobs
) -> None:
    job = jobs.make(bob, "PROCESSED", filename="bobs-secret.csv")
    panel.sign_in("alice")
    page = panel.http.get(f"/jobs/{job.id}")
    assert page.status_code == 404
    assert "not found" in page.text and "bobs-secret" not in page.text
    assert page.headers["content-type"].startswith("text/html")


def test_unknown_job_page_is_a_page_for_a_browser_and_json_for_a_program(
    panel: PanelClient, alice: Caller, jobs: Jobs
) -> None:
    unknown = jobs.unknown_id()
    panel.sign_in("alice")
    page = panel.http.get(f"/jobs/{unknown}")
    assert page.status_code == 404
    assert "<h1>Not found</h1>" in page.text
    api = alice.client.get(f"/api/jobs/{unknown}", headers={"Accept": "text/html"})
    assert api.status_code == 404
    assert api.json()["error"]["code"] == "not_found"


def test_admin_sees_every_job_in_the_panel_api(
    panel: PanelClient, admin: Caller, alice: Caller, jobs: Jobs
) -> None:
    job = jobs.make(alice)
    panel.sign_in("root")
    assert "All jobs" in panel.http.get("/").text
    listed = panel.http.get("/api/jobs").json()["jobs"]
    assert [j["id"] for j in listed] == [job.id]


# --- API tokens -------------------------------------------------------------------------------


def test_token_created_in_the_panel_is_shown_once_and_works(
    panel: PanelClient, alice: Caller, server: Server
) -> None:
    panel.sign_in("alice")
    page = panel.http.post("/tokens", data={"csrf_token": panel.csrf("/tokens"), "name": "etl"})
    assert page.status_code == 201
    token = re.search(r'id="token-value" value="(bs_[^"]+)"', page.text)
    assert token
    with server.client(headers={"Authorization": f"Bearer {token[1]}"}) as c:
        assert c.get("/api/jobs").status_code == 200
    again = panel.http.get("/tokens").text
    assert token[1] not in again and "etl" in again


@pytest.mark.parametrize("name", ["", "   ", "x" * 101])
def test_token_with_a_bad_name_is_refused_with_the_rule(
    panel: PanelClient, alice: Caller, ctx: Context, name: str
) -> None:
    panel.sign_in("alice")
    page = panel.http.post("/tokens", data={"csrf_token": panel.csrf("/tokens"), "name": name})
    assert page.status_code == 422
    assert "A token name is 1 to 100 characters" in page.text
    assert len(in_transaction(ctx.engine, lambda c: list_tokens(c, alice.user.id))) == 1


def test_token_revoked_in_the_panel_stops_working(
    panel: PanelClient, alice: Caller, ctx: Context
) -> None:
    token_id = in_transaction(ctx.engine, lambda c: list_tokens(c, alice.user.id))[0].id
    panel.sign_in("alice")
    response = panel.http.post(
        f"/tokens/{token_id}/revoke", data={"csrf_token": panel.csrf("/tokens")}
    )
    assert response.status_code == 303
    assert alice.client.get("/api/jobs").status_code == 403
    assert "revoked" in panel.http.get("/tokens").text


@pytest.mark.parametrize("token_id", ["own-other", 999999, 2**64])
def test_revoking_a_token_that_is_not_yours_is_not_found(
    panel: PanelClient, alice: Caller, bob: Caller, ctx: Context, token_id: object
) -> None:
    if token_id == "own-other":
        token_id = in_transaction(ctx.engine, lambda c: list_tokens(c, bob.user.id))[0].id
    panel.sign_in("alice")
    response = panel.http.post(
        f"/tokens/{token_id}/revoke", data={"csrf_token": panel.csrf("/tokens")}
    )
    assert response.status_code == 404
    assert bob.client.get("/api/jobs").status_code == 200


@pytest.mark.parametrize(
    ("name", "status", "said"),
    [("no-such-model", 404, "no-such-model"), ("bad name!", 422, "Invalid model name")],
)
def test_a_model_page_for_no_model_is_a_page_saying_why(
    panel: PanelClient, alice: Caller, name: str, status: int, said: str
) -> None:
    panel.sign_in("alice")
    page = panel.http.get(f"/models/{name}")
    assert page.status_code == status, page.text
    assert page.headers["content-type"].startswith("text/html")
    assert said in page.text and "Traceback" not in page.text


def test_a_job_failed_for_its_rows_offers_them_on_its_page(
    panel: PanelClient, alice: Caller, jobs: Jobs
) -> None:
    rows = ["5.1,3.5,1.4,0.2"] * 3 + ["5.1,abc,1.4,0.2"] * 2
    text = "sepal_length,sepal_width,petal_length,petal_width\n" + "\n".join(rows) + "\n"
    job_id = jobs.upload(alice, text, filename="bad.csv").json()["id"]
    process_one(jobs.ctx, job_id=job_id)
    panel.sign_in("alice")

    page = panel.http.get(f"/jobs/{job_id}")

    assert page.status_code == 200
    assert "2 of 5 rows (40.0%) could not be scored" in page.text
    assert "<dt>Rows with errors</dt><dd>2</dd>" in page.text
    assert f'href="/api/jobs/{job_id}/errors"' in page.text
    assert f'href="/api/jobs/{job_id}/result"' not in page.text

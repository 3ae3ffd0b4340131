"""`batchscore user list|add|passwd|admin|remove` and `batchscore token create|list|revoke`
through the real command."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from processes import Cli

from batchscore.credentials import TOKEN_PREFIX, token_digest
from batchscore.db.engine import in_transaction
from batchscore.db.jobs import JobFilter, list_jobs
from batchscore.db.users import find_token, find_user
from batchscore.errors import NotAuthenticated
from batchscore.scheduler.context import Context
from batchscore.service import accounts

EXAMPLE = Path(__file__).parents[2] / "examples" / "iris.csv"


def add_user(cli: Cli, name: str, password: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        cli.args("user", "add", name, "--password-stdin", *extra),
        input=password + "\n",
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_user_add_stores_an_argon2_hash_not_the_password(cli: Cli, ctx: Context) -> None:
    result = add_user(cli, "carol", "correct horse", "--admin")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("User carol created (id ") and result.stdout.endswith(
        ", admin).\n"
    )
    found = in_transaction(ctx.engine, lambda c: find_user(c, "carol"))
    assert found is not None
    user, password_hash = found
    assert user.is_admin and password_hash.startswith("$argon2id$")
    assert "correct horse" not in password_hash


def test_user_add_refuses_a_taken_name_and_a_short_password(cli: Cli) -> None:
    assert add_user(cli, "dave", "long enough").returncode == 0
    again = add_user(cli, "dave", "long enough")
    assert (again.returncode, again.stderr.strip()) == (1, "error: User 'dave' already exists.")
    short = add_user(cli, "erin", "short")
    assert short.stderr.strip() == "error: The password must have at least 8 characters."


def test_token_is_shown_once_stored_hashed_and_revocable(cli: Cli, ctx: Context) -> None:
    add_user(cli, "frank", "long enough")
    token = cli.run("token", "create", "frank", "--name", "laptop").stdout.splitlines()[-1]
    assert token.startswith(TOKEN_PREFIX) and len(token) > 40
    found = in_transaction(ctx.engine, lambda c: find_token(c, token_digest(token)))
    assert found is not None and found[0].name == "laptop" and found[0].revoked_at is None
    listed = cli.run("token", "list", "frank").stdout
    assert "laptop" in listed and "active" in listed and token not in listed
    cli.run("token", "revoke", str(found[0].id))
    revoked = in_transaction(ctx.engine, lambda c: find_token(c, token_digest(token)))
    assert revoked is not None and revoked[0].revoked_at is not None


def test_a_scoped_token_from_the_command_line(cli: Cli, ctx: Context) -> None:
    add_user(cli, "gina", "long enough")
    made = cli.run(
        "token", "create", "gina", "--scope", "predict", "--scope", "models:read", "--model", "iris"
    ).stdout
    assert "it may: predict, models:read (predicting with iris only)" in made
    found = in_transaction(ctx.engine, lambda c: find_token(c, token_digest(made.split()[-1])))
    assert found is not None
    assert (found[0].scopes, found[0].models) == (("predict", "models:read"), ("iris",))
    listed = cli.run("token", "list", "gina").stdout
    assert "predict, models:read (predicting with iris only)" in listed
    wrong = cli.run("token", "create", "gina", "--scope", "everything", check=False)
    assert wrong.returncode == 2 and "invalid choice: 'everything'" in wrong.stderr


def test_token_for_unknown_user_says_how_to_add_one(cli: Cli) -> None:
    result = cli.run("token", "create", "nobody", check=False)
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: User 'nobody' not found. Add one with `batchscore user add NAME`."
    )


def test_submit_for_a_user_makes_the_job_theirs(cli: Cli, ctx: Context) -> None:
    add_user(cli, "gina", "long enough")
    cli.run("submit", str(EXAMPLE), "--user", "gina")
    found = in_transaction(ctx.engine, lambda c: find_user(c, "gina"))
    assert found is not None
    gina = found[0]
    jobs = in_transaction(ctx.engine, lambda c: list_jobs(c, JobFilter(owner_id=gina.id)))
    assert [job.original_filename for job in jobs] == ["iris.csv"]


def test_users_are_listed_promoted_given_a_new_password_and_removed(cli: Cli, ctx: Context) -> None:
    add_user(cli, "hal", "first password")
    cli.run("token", "create", "hal")
    cli.run("submit", str(EXAMPLE), "--user", "hal")

    assert cli.run("user", "admin", "hal", "on").stdout == "hal is now an admin.\n"
    listed = cli.run("user", "list").stdout.splitlines()
    assert listed[0].split() == ["USER", "ADMIN", "CREATED"]
    assert listed[1].split()[:2] == ["hal", "yes"]
    changed = subprocess.run(
        cli.args("user", "passwd", "hal", "--password-stdin"),
        input="second password\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert changed.stdout == "Password of hal changed.\n"
    assert accounts.log_in(ctx, "hal", "second password", "127.0.0.1").is_admin
    with pytest.raises(NotAuthenticated):
        accounts.log_in(ctx, "hal", "first password", "127.0.0.1")

    removed = cli.run("user", "remove", "hal").stdout
    assert removed.startswith("User hal removed, with their API tokens. Their jobs are kept")
    assert in_transaction(ctx.engine, lambda c: find_user(c, "hal")) is None
    (job,) = in_transaction(ctx.engine, lambda c: list_jobs(c))
    assert job.owner_id is None  # kept, for admins
    tokens = in_transaction(
        ctx.engine, lambda c: c.exec_driver_sql("SELECT COUNT(*) FROM api_tokens").scalar()
    )
    assert tokens == 0
    assert cli.run("user", "list").stdout == "No users. Add one with `batchscore user add NAME`.\n"


def test_a_user_command_on_a_missing_user_says_how_to_add_one(cli: Cli) -> None:
    for action in (["passwd", "ghost"], ["admin", "ghost", "off"], ["remove", "ghost"]):
        result = cli.run("user", *action, check=False)
        assert (result.returncode, result.stderr) == (
            1,
            "error: User 'ghost' not found. Add one with `batchscore user add NAME`.\n",
        )

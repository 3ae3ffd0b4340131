"""`batchscore user add` and `batchscore token create|list|revoke` through the real command."""

from __future__ import annotations

import subprocess
from pathlib import Path

from processes import Cli

from batchscore.credentials import TOKEN_PREFIX, token_digest
from batchscore.db.engine import in_transaction
from batchscore.db.jobs import list_jobs
from batchscore.db.users import find_token, find_user
from batchscore.scheduler.context import Context

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
    jobs = in_transaction(ctx.engine, lambda c: list_jobs(c, owner_id=gina.id))
    assert [job.original_filename for job in jobs] == ["iris.csv"]

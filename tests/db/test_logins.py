"""The sign-in brake's memory on a real database: counting, the window, forgetting."""

from __future__ import annotations

import pytest

from batchscore.db.engine import Engine, in_transaction
from batchscore.db.logins import clear_login_failures, record_login_failure, seconds_until_allowed
from batchscore.db.tables import login_failures

WINDOW = 900.0


def fail(engine: Engine, *keys: str, window: float = WINDOW) -> None:
    in_transaction(engine, lambda c: record_login_failure(c, list(keys), window_seconds=window))


def wait(engine: Engine, key: str, limit: int = 3, window: float = WINDOW) -> float:
    return in_transaction(
        engine, lambda c: seconds_until_allowed(c, key, limit=limit, window_seconds=window)
    )


def test_key_is_allowed_below_the_limit(engine: Engine) -> None:
    fail(engine, "user:alice", "user:alice")
    assert wait(engine, "user:alice") == 0.0


def test_key_waits_about_the_window_once_at_the_limit(engine: Engine) -> None:
    fail(engine, "user:alice")
    fail(engine, "user:alice")
    fail(engine, "user:alice")
    assert WINDOW - 60 < wait(engine, "user:alice") <= WINDOW


def test_failures_count_per_key(engine: Engine) -> None:
    for _ in range(3):
        fail(engine, "user:alice", "address:10.0.0.1")
    assert wait(engine, "user:bob") == 0.0
    assert wait(engine, "address:10.0.0.2") == 0.0
    assert wait(engine, "address:10.0.0.1") > 0


def test_failures_outside_the_window_are_not_counted_and_are_pruned(engine: Engine) -> None:
    for _ in range(3):
        fail(engine, "user:alice", window=0.0001)
    assert wait(engine, "user:alice", window=0.0001) == 0.0
    fail(engine, "user:alice", window=0.0001)  # the next failure prunes the old ones
    rows = in_transaction(engine, lambda c: c.execute(login_failures.select()).all())
    assert len(rows) <= 2


def test_clearing_forgets_only_that_key(engine: Engine) -> None:
    for _ in range(3):
        fail(engine, "user:alice", "address:10.0.0.1")
    in_transaction(engine, lambda c: clear_login_failures(c, "user:alice"))
    assert wait(engine, "user:alice") == 0.0
    assert wait(engine, "address:10.0.0.1") > 0


@pytest.mark.parametrize("limit", [1, 5])
def test_limit_is_the_number_of_failures_allowed_in_the_window(engine: Engine, limit: int) -> None:
    for _ in range(limit - 1):
        fail(engine, "user:alice")
    assert wait(engine, "user:alice", limit=limit) == 0.0
    fail(engine, "user:alice")
    assert wait(engine, "user:alice", limit=limit) > 0

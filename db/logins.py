"""Failed sign-ins: every statement on `login_failures`, the memory of the sign-in brake.

Kept in the database, not in a process, so every server worker and host applies one limit.
Callers own the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, delete, insert, select

from batchscore.db.engine import utcnow
from batchscore.db.tables import login_failures


def record_login_failure(conn: Connection, keys: Sequence[str], *, window_seconds: float) -> None:
    """Note one failed sign-in under each key; forget those keys' failures older than the window."""
    table = login_failures
    conn.execute(
        delete(table).where(table.c.key.in_(keys), table.c.failed_at < utcnow(-window_seconds))
    )
    for key in keys:
        conn.execute(insert(table).values(key=key, failed_at=utcnow()))


def seconds_until_allowed(
    conn: Connection, key: str, *, limit: int, window_seconds: float
) -> float:
    """0 while `key` has fewer than `limit` failures in the window; else the seconds until the
    oldest of its last `limit` failures leaves the window."""
    table = login_failures
    recent = conn.execute(
        select(table.c.failed_at, utcnow().label("now"))
        .where(table.c.key == key, table.c.failed_at >= utcnow(-window_seconds))
        .order_by(table.c.failed_at.desc(), table.c.id.desc())
        .limit(limit)
    ).all()
    if len(recent) < limit:
        return 0.0
    oldest, now = recent[-1]
    elapsed: float = (now - oldest).total_seconds()
    return max(0.0, window_seconds - elapsed)


def clear_login_failures(conn: Connection, key: str) -> None:
    """Forget a key's failures (after a successful sign-in)."""
    conn.execute(delete(login_failures).where(login_failures.c.key == key))

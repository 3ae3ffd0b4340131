"""Ids are never handed out again on SQLite: users, api_tokens and jobs get AUTOINCREMENT

Without it SQLite gives a new row max(id) + 1, so deleting the newest job and uploading again
reused its id (the old result URL then served the new file), and a removed user's id went to
the next user added (with the removed user's signed-in sessions). MariaDB's AUTO_INCREMENT
never reuses ids, so there is nothing to do there. The rebuilt tables keep every row and id;
SQLite then counts on from the highest id in each.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:00:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("users", "api_tokens", "jobs")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)

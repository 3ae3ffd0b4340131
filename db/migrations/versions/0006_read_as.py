"""jobs.read_as: how a score job's file is read (encoding, delimiter, decimal mark, sheet)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 16:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("read_as", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("read_as")

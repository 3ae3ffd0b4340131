"""jobs.summary: a processed score job's predictions at a glance, and how right they were

Jobs processed before keep NULL: their pages show no charts.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("summary", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("summary")

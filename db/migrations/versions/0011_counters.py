"""counters: monotonic totals for /metrics (jobs finished, rows, durations, webhooks)

They start at zero here; the job-table gauges (jobs by status, queue depth) are unchanged.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 04:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("label", sa.String(64), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.PrimaryKeyConstraint("name", "label", name="pk_counters"),
    )


def downgrade() -> None:
    op.drop_table("counters")

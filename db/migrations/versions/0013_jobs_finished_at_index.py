"""jobs.finished_at indexed: the panel's last-hour throughput reads only the last hour

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 19:50:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_jobs_finished_at", "jobs", ["finished_at"])


def downgrade() -> None:
    op.drop_index("ix_jobs_finished_at", table_name="jobs")

"""jobs.idempotency_key and request_sha256: a client's retry of an upload finds the first job

A unique index on (owner_id, idempotency_key) makes concurrent identical requests create one
job. Existing jobs have no key (NULL, which the index does not compare).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

INDEX = "ix_jobs_owner_id_idempotency_key"


def upgrade() -> None:
    with op.batch_alter_table("jobs") as batch:
        batch.add_column(sa.Column("idempotency_key", sa.String(255), nullable=True))
        batch.add_column(sa.Column("request_sha256", sa.String(64), nullable=True))
    op.create_index(INDEX, "jobs", ["owner_id", "idempotency_key"], unique=True)


def downgrade() -> None:
    op.drop_index(INDEX, "jobs")
    with op.batch_alter_table("jobs") as batch:
        batch.drop_column("request_sha256")
        batch.drop_column("idempotency_key")

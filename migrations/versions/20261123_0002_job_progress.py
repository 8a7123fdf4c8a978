"""Jobs: live progress, the worker's lease and cancel requests on requests; queue indexes.

Revision ID: 0002_jobs
Revises: 0001
Create Date: 2026-11-23 09:00:00

Progress lives in the database so every process (bot, CLI, other workers) can read it; the
lease (worker, heartbeat_at) lets a redelivered job tell a dead owner from a live one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_jobs"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = (
    ("progress_image", sa.Integer()),
    ("progress_step", sa.Integer()),
    ("progress_steps", sa.Integer()),
    ("cancel_requested_by", sa.String(length=100)),
    ("worker", sa.String(length=200)),
    ("heartbeat_at", sa.DateTime(timezone=True)),
)


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        for name, type_ in COLUMNS:
            batch.add_column(sa.Column(name, type_, nullable=True))
    op.create_index("ix_requests_queue_state_created", "requests", ["queue", "state", "created_at"])
    op.create_index("ix_requests_requested_by_state", "requests", ["requested_by", "state"])


def downgrade() -> None:
    op.drop_index("ix_requests_requested_by_state", table_name="requests")
    op.drop_index("ix_requests_queue_state_created", table_name="requests")
    with op.batch_alter_table("requests") as batch:
        for name, _ in reversed(COLUMNS):
            batch.drop_column(name)

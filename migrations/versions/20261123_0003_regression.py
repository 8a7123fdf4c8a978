"""Regression suite: per-render outputs, run plans, golden output paths, scheduler claims.

Revision ID: 0003_regress
Revises: 0002_jobs
Create Date: 2026-11-23 09:05:00

Each render of a regression run is its own row, written as it finishes, so a run stopped
half-way resumes where it stopped and is never summarised as if it had finished.
`scheduler_locks` holds one row per claimed occurrence of a scheduled job (and, on SQLite,
the lease of the job running now), which keeps two schedulers from running the same night.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_regress"
down_revision = "0002_jobs"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("regression_runs") as batch:
        batch.add_column(sa.Column("profile_hash", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("plan", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
        batch.add_column(sa.Column("triggered_by", sa.String(length=100), nullable=True))
    with op.batch_alter_table("golden_outputs") as batch:
        batch.add_column(sa.Column("artifact_path", sa.Text(), nullable=True))
        batch.add_column(sa.Column("regression_run_id", sa.String(length=32), nullable=True))
    op.create_table(
        "regression_outputs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("brief_id", sa.String(length=100), nullable=False),
        sa.Column("family", sa.String(length=30), nullable=False),
        sa.Column("expect", sa.String(length=10), nullable=False),
        sa.Column("seed_index", sa.Integer(), nullable=False),
        sa.Column("repeat", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=True),
        sa.Column("image_id", sa.String(length=32), nullable=True),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("verdict", sa.String(length=10), nullable=True),
        sa.Column("artifact_path", sa.Text(), nullable=True),
        sa.Column("latency_s", sa.Float(), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("peak_memory_bytes", sa.BigInteger(), nullable=True),
        sa.Column("memory_kind", sa.String(length=10), nullable=True),
        sa.Column("checks", sa.JSON(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("stability", sa.JSON(), nullable=True),
        sa.Column("drift_mad", sa.Float(), nullable=True),
        sa.Column("drift_ssim", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["regression_runs.id"], name=op.f("fk_regression_outputs_run_id_regression_runs")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regression_outputs")),
        sa.UniqueConstraint("run_id", "brief_id", "seed_index", "repeat", name="uq_regression_outputs_render"),
    )
    op.create_index(op.f("ix_regression_outputs_run_id"), "regression_outputs", ["run_id"], unique=False)
    op.create_table(
        "scheduler_locks",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_locks")),
    )


def downgrade() -> None:
    op.drop_table("scheduler_locks")
    op.drop_index(op.f("ix_regression_outputs_run_id"), table_name="regression_outputs")
    op.drop_table("regression_outputs")
    with op.batch_alter_table("golden_outputs") as batch:
        batch.drop_column("regression_run_id")
        batch.drop_column("artifact_path")
    with op.batch_alter_table("regression_runs") as batch:
        batch.drop_column("triggered_by")
        batch.drop_column("plan")
        batch.drop_column("profile_hash")

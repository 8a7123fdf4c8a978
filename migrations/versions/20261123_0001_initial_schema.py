"""Initial schema: every table of brandgate.db.models, and the append-only guard on audit_events.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 08:48:47.782626

The audit trail's guard lives in the database, not in our code, so that nothing short of
dropping the triggers (which needs the table owner's rights) can rewrite history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# The refusal message names the table so an operator seeing it in a log knows why.
SQLITE_GUARDS = [
    """CREATE TRIGGER audit_events_refuse_update BEFORE UPDATE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER audit_events_refuse_delete BEFORE DELETE ON audit_events
       BEGIN SELECT RAISE(ABORT, 'audit_events is append-only: DELETE refused'); END""",
]
POSTGRES_GUARDS = [
    """CREATE FUNCTION audit_events_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN
         RAISE EXCEPTION 'audit_events is append-only: % refused', TG_OP
           USING ERRCODE = 'insufficient_privilege';
       END $$""",
    """CREATE TRIGGER audit_events_refuse_update_delete BEFORE UPDATE OR DELETE ON audit_events
       FOR EACH ROW EXECUTE FUNCTION audit_events_refuse_change()""",
    """CREATE TRIGGER audit_events_refuse_truncate BEFORE TRUNCATE ON audit_events
       FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse_change()""",
]

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=60), nullable=False),
        sa.Column("subject_type", sa.String(length=30), nullable=True),
        sa.Column("subject_id", sa.String(length=64), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
        sa.UniqueConstraint("hash", name=op.f("uq_audit_events_hash")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_events_seq")),
    )
    op.create_index(op.f("ix_audit_events_created_at"), "audit_events", ["created_at"], unique=False)
    op.create_index(op.f("ix_audit_events_kind"), "audit_events", ["kind"], unique=False)
    op.create_index("ix_audit_events_subject", "audit_events", ["subject_type", "subject_id"], unique=False)

    _guard_audit_events()

    op.create_table(
        "model_profiles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("profile", sa.JSON(), nullable=False),
        sa.Column("profile_hash", sa.String(length=64), nullable=False),
        sa.Column("model_path", sa.Text(), nullable=False),
        sa.Column("model_revision", sa.String(length=64), nullable=True),
        sa.Column("previous_active_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["previous_active_id"],
            ["model_profiles.id"],
            name=op.f("fk_model_profiles_previous_active_id_model_profiles"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_profiles")),
        sa.UniqueConstraint("name", name=op.f("uq_model_profiles_name")),
    )
    op.create_index(op.f("ix_model_profiles_status"), "model_profiles", ["status"], unique=False)

    op.create_table(
        "regression_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("suite", sa.String(length=200), nullable=False),
        sa.Column("suite_hash", sa.String(length=64), nullable=False),
        sa.Column("profile_name", sa.String(length=64), nullable=False),
        sa.Column("baseline_run_id", sa.String(length=32), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("seeds", sa.Integer(), nullable=False),
        sa.Column("concurrency", sa.Integer(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_regression_runs")),
    )
    op.create_table(
        "requests",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("requested_by", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=100), nullable=True),
        sa.Column("kit_name", sa.String(length=64), nullable=False),
        sa.Column("kit_hash", sa.String(length=64), nullable=False),
        sa.Column("brief", sa.JSON(), nullable=False),
        sa.Column("brief_hash", sa.String(length=64), nullable=False),
        sa.Column("profile_name", sa.String(length=64), nullable=False),
        sa.Column("profile_hash", sa.String(length=64), nullable=True),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("n_images", sa.Integer(), nullable=False),
        sa.Column("queue", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("stage", sa.String(length=40), nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("parent_image_id", sa.String(length=32), nullable=True),
        sa.Column("stage_timings", sa.JSON(), nullable=False),
        sa.Column("gpu_seconds", sa.Float(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_requests")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_requests_idempotency_key")),
    )
    op.create_index(op.f("ix_requests_created_at"), "requests", ["created_at"], unique=False)
    op.create_index(op.f("ix_requests_kit_name"), "requests", ["kit_name"], unique=False)
    op.create_index(op.f("ix_requests_state"), "requests", ["state"], unique=False)

    op.create_table(
        "golden_outputs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("brief_id", sa.String(length=100), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["model_profiles.id"],
            name=op.f("fk_golden_outputs_profile_id_model_profiles"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_golden_outputs")),
        sa.UniqueConstraint("profile_id", "brief_id", "seed", name="uq_golden_outputs_key"),
    )
    op.create_index(op.f("ix_golden_outputs_profile_id"), "golden_outputs", ["profile_id"], unique=False)

    op.create_table(
        "images",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("request_id", sa.String(length=32), nullable=False),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("parent_image_id", sa.String(length=32), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("phash", sa.String(length=16), nullable=True),
        sa.Column("media_type", sa.String(length=40), nullable=False),
        sa.Column("width", sa.Integer(), nullable=False),
        sa.Column("height", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.String(length=200), nullable=False),
        sa.Column("model_revision", sa.String(length=64), nullable=False),
        sa.Column("generation_config", sa.JSON(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("timings", sa.JSON(), nullable=False),
        sa.Column("gpu_seconds", sa.Float(), nullable=False),
        sa.Column("peak_memory_bytes", sa.BigInteger(), nullable=True),
        sa.Column("memory_kind", sa.String(length=10), nullable=True),
        sa.Column("cost_usd", sa.Float(), nullable=False),
        sa.Column("verdict", sa.String(length=10), nullable=False),
        sa.Column("manifest_sha256", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["parent_image_id"], ["images.id"], name=op.f("fk_images_parent_image_id_images")),
        sa.ForeignKeyConstraint(["request_id"], ["requests.id"], name=op.f("fk_images_request_id_requests")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_images")),
        sa.UniqueConstraint("request_id", "index", name="uq_images_request_index"),
    )
    op.create_index("ix_images_created_at_id", "images", ["created_at", "id"], unique=False)
    op.create_index(op.f("ix_images_phash"), "images", ["phash"], unique=False)
    op.create_index(op.f("ix_images_request_id"), "images", ["request_id"], unique=False)
    op.create_index(op.f("ix_images_sha256"), "images", ["sha256"], unique=False)
    op.create_index(op.f("ix_images_verdict"), "images", ["verdict"], unique=False)

    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("image_id", sa.String(length=32), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("decided_by", sa.String(length=100), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint("decision IN ('approved', 'rejected')", name=op.f("ck_approvals_decision")),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name=op.f("fk_approvals_image_id_images")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approvals")),
        sa.UniqueConstraint("image_id", name=op.f("uq_approvals_image_id")),
    )
    op.create_table(
        "check_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("image_id", sa.String(length=32), nullable=False),
        sa.Column("check_id", sa.String(length=10), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("confidence", sa.Float(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["image_id"], ["images.id"], name=op.f("fk_check_results_image_id_images")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_check_results")),
        sa.UniqueConstraint("image_id", "check_id", name="uq_check_results_image_check"),
    )
    op.create_index(op.f("ix_check_results_check_id"), "check_results", ["check_id"], unique=False)
    op.create_index(op.f("ix_check_results_image_id"), "check_results", ["image_id"], unique=False)


def _guard_audit_events() -> None:
    dialect = op.get_bind().dialect.name
    guards = {"sqlite": SQLITE_GUARDS, "postgresql": POSTGRES_GUARDS}.get(dialect)
    if guards is None:
        raise RuntimeError(f"no append-only guard for {dialect}; brandgate supports SQLite and PostgreSQL")
    for statement in guards:
        op.execute(statement)


def downgrade() -> None:
    op.drop_index(op.f("ix_check_results_image_id"), table_name="check_results")
    op.drop_index(op.f("ix_check_results_check_id"), table_name="check_results")

    op.drop_table("check_results")
    op.drop_table("approvals")
    op.drop_index(op.f("ix_images_verdict"), table_name="images")
    op.drop_index(op.f("ix_images_sha256"), table_name="images")
    op.drop_index(op.f("ix_images_request_id"), table_name="images")
    op.drop_index(op.f("ix_images_phash"), table_name="images")
    op.drop_index("ix_images_created_at_id", table_name="images")

    op.drop_table("images")
    op.drop_index(op.f("ix_golden_outputs_profile_id"), table_name="golden_outputs")

    op.drop_table("golden_outputs")
    op.drop_index(op.f("ix_requests_state"), table_name="requests")
    op.drop_index(op.f("ix_requests_kit_name"), table_name="requests")
    op.drop_index(op.f("ix_requests_created_at"), table_name="requests")

    op.drop_table("requests")
    op.drop_table("regression_runs")
    op.drop_index(op.f("ix_model_profiles_status"), table_name="model_profiles")

    op.drop_table("model_profiles")
    op.drop_index("ix_audit_events_subject", table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_kind"), table_name="audit_events")
    op.drop_index(op.f("ix_audit_events_created_at"), table_name="audit_events")

    # Dropping the table drops its triggers; the PostgreSQL function goes by itself.
    op.drop_table("audit_events")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION audit_events_refuse_change()")

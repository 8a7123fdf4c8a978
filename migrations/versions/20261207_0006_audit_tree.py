"""The Merkle tree over the audit trail: stored complete subtrees and signed tree heads.

Revision ID: 0006_audit_tree
Revises: 0005_evidence
Create Date: 2026-12-07 19:00:00

Trails recorded before this need no rewriting: leaf `i` of the tree is event seq `i + 1`,
hashed from the chain hash it already carries, so every existing event is a leaf, in order,
from the moment this runs. The subtree cache fills when the first head is made (`brandgate
audit heads --make`, or the scheduler). Both tables are append-only, guarded like the rest
of the evidence (0005): a head once signed, and the subtrees under it, are never changed.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_audit_tree"
down_revision = "0005_evidence"
branch_labels = None
depends_on = None

TABLES = ("audit_tree_nodes", "audit_tree_heads")
UNIQUE_KEYS = {
    "audit_tree_nodes": "level = NEW.level AND position = NEW.position",
    "audit_tree_heads": "id = NEW.id OR size = NEW.size",
}


def upgrade() -> None:
    op.create_table(
        "audit_tree_nodes",
        sa.Column("level", sa.SmallInteger(), autoincrement=False, nullable=False),
        sa.Column("position", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("hash", sa.LargeBinary(length=32), nullable=False),
        sa.PrimaryKeyConstraint("level", "position", name=op.f("pk_audit_tree_nodes")),
    )
    op.create_table(
        "audit_tree_heads",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("root", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_tree_heads")),
        sa.UniqueConstraint("size", name=op.f("uq_audit_tree_heads_size")),
    )
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for table in TABLES:  # brandgate_refuse_change() comes from 0005
            op.execute(f"""CREATE TRIGGER {table}_refuse_update_delete BEFORE UPDATE OR DELETE ON {table}
                           FOR EACH ROW EXECUTE FUNCTION brandgate_refuse_change()""")  # fmt: skip
            op.execute(f"""CREATE TRIGGER {table}_refuse_truncate BEFORE TRUNCATE ON {table}
                           FOR EACH STATEMENT EXECUTE FUNCTION brandgate_refuse_change()""")  # fmt: skip
    elif dialect == "sqlite":
        for table in TABLES:
            for action in ("UPDATE", "DELETE"):
                op.execute(f"""CREATE TRIGGER {table}_refuse_{action.lower()} BEFORE {action} ON {table}
                    BEGIN SELECT RAISE(ABORT, '{table} is append-only: {action} refused'); END""")  # fmt: skip
            op.execute(f"""CREATE TRIGGER {table}_refuse_replace BEFORE INSERT ON {table}
                WHEN EXISTS (SELECT 1 FROM {table} WHERE {UNIQUE_KEYS[table]})
                BEGIN SELECT RAISE(ABORT, '{table} is append-only: a row with this key exists (REPLACE refused)');
                END""")  # fmt: skip
    else:
        raise RuntimeError(f"no append-only guard for {dialect}; brandgate supports SQLite and PostgreSQL")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in TABLES:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER {table}_refuse_update_delete ON {table}")
            op.execute(f"DROP TRIGGER {table}_refuse_truncate ON {table}")
        else:
            for action in ("update", "delete", "replace"):
                op.execute(f"DROP TRIGGER {table}_refuse_{action}")
    op.drop_table("audit_tree_heads")
    op.drop_table("audit_tree_nodes")

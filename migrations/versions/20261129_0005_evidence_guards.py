"""Evidence is append-only in the database: images, check results, approvals and what a request asked.

Revision ID: 0005_evidence
Revises: 0004_phash_index
Create Date: 2026-11-29 01:30:00

0001 guarded only audit_events. Every row the audit export prints is now guarded the same way:
UPDATE and DELETE are refused by triggers, TRUNCATE too on PostgreSQL. On SQLite, REPLACE
(`REPLACE INTO`, `INSERT OR REPLACE`) deletes the conflicting row by conflict resolution, which
fires no DELETE trigger unless recursive_triggers is on in the connection doing it; so a
BEFORE INSERT trigger refuses any insert whose key is already taken, which also refuses an
UPSERT before its DO UPDATE. A request row is partly the job's state (state, stage, progress,
lease, running cost): only the columns that say what was asked are refused an UPDATE.

A later migration that must change evidence, or that rebuilds a guarded table on SQLite
(Alembic batch mode drops and re-creates the table, and its triggers with it), has to drop
and re-create these guards itself; a test fails at head when one is missing.
"""

from __future__ import annotations

from alembic import op

revision = "0005_evidence"
down_revision = "0004_phash_index"
branch_labels = None
depends_on = None

# table -> the keys an insert must not collide with (each a SQL condition on NEW)
UNIQUE_KEYS = {
    "audit_events": "id = NEW.id OR seq = NEW.seq OR hash = NEW.hash",
    "images": 'id = NEW.id OR (request_id = NEW.request_id AND "index" = NEW."index")',
    "check_results": "id = NEW.id OR (image_id = NEW.image_id AND check_id = NEW.check_id)",
    "approvals": "id = NEW.id OR image_id = NEW.image_id",
    "requests": "id = NEW.id OR (NEW.idempotency_key IS NOT NULL AND idempotency_key = NEW.idempotency_key)",
}
# Wholly append-only; audit_events got its UPDATE/DELETE guards in 0001.
WHOLE_TABLES = ("images", "check_results", "approvals")
# What a request asked; the other columns of requests are the job's state.
REQUEST_ASKED = (
    "id", "idempotency_key", "requested_by", "source", "channel", "kit_name", "kit_hash", "brief", "brief_hash",
    "profile_name", "profile_hash", "seed", "n_images", "queue", "parent_image_id", "created_at",
)  # fmt: skip


def _sqlite_guards() -> list[str]:
    found = []
    for table, key in UNIQUE_KEYS.items():
        found.append(
            f"""CREATE TRIGGER {table}_refuse_replace BEFORE INSERT ON {table}
            WHEN EXISTS (SELECT 1 FROM {table} WHERE {key})
            BEGIN SELECT RAISE(ABORT, '{table} is append-only: a row with this key exists (REPLACE refused)'); END"""
        )
    for table in WHOLE_TABLES:
        for action in ("UPDATE", "DELETE"):
            found.append(
                f"""CREATE TRIGGER {table}_refuse_{action.lower()} BEFORE {action} ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} is append-only: {action} refused'); END"""
            )
    changed = " OR ".join(f'NEW."{c}" IS NOT OLD."{c}"' for c in REQUEST_ASKED)
    found.append(
        f"""CREATE TRIGGER requests_refuse_update BEFORE UPDATE ON requests WHEN {changed}
        BEGIN SELECT RAISE(ABORT, 'requests: what a request asked is append-only: UPDATE refused'); END"""
    )
    found.append(
        """CREATE TRIGGER requests_refuse_delete BEFORE DELETE ON requests
        BEGIN SELECT RAISE(ABORT, 'requests is append-only: DELETE refused'); END"""
    )
    return found


def _postgres_guards() -> list[str]:
    found = [
        """CREATE FUNCTION brandgate_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
               USING ERRCODE = 'insufficient_privilege';
           END $$""",
    ]
    for table in WHOLE_TABLES:
        found.append(
            f"""CREATE TRIGGER {table}_refuse_update_delete BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION brandgate_refuse_change()"""
        )
        found.append(
            f"""CREATE TRIGGER {table}_refuse_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION brandgate_refuse_change()"""
        )
    # json has no equality operator: compare its text, which PostgreSQL keeps as written.
    changed = " OR ".join(
        f'NEW."{c}"::text IS DISTINCT FROM OLD."{c}"::text' if c == "brief" else f'NEW."{c}" IS DISTINCT FROM OLD."{c}"'
        for c in REQUEST_ASKED
    )
    found += [
        f"""CREATE FUNCTION brandgate_requests_guard() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN
             IF TG_OP = 'DELETE' THEN
               RAISE EXCEPTION 'requests is append-only: DELETE refused' USING ERRCODE = 'insufficient_privilege';
             END IF;
             IF {changed} THEN
               RAISE EXCEPTION 'requests: what a request asked is append-only: UPDATE refused'
                 USING ERRCODE = 'insufficient_privilege';
             END IF;
             RETURN NEW;
           END $$""",
        """CREATE TRIGGER requests_refuse_change BEFORE UPDATE OR DELETE ON requests
           FOR EACH ROW EXECUTE FUNCTION brandgate_requests_guard()""",
        """CREATE TRIGGER requests_refuse_truncate BEFORE TRUNCATE ON requests
           FOR EACH STATEMENT EXECUTE FUNCTION brandgate_refuse_change()""",
    ]
    return found


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    guards = {"sqlite": _sqlite_guards, "postgresql": _postgres_guards}.get(dialect)
    if guards is None:
        raise RuntimeError(f"no append-only guard for {dialect}; brandgate supports SQLite and PostgreSQL")
    for statement in guards():
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in WHOLE_TABLES:
            op.execute(f"DROP TRIGGER {table}_refuse_update_delete ON {table}")
            op.execute(f"DROP TRIGGER {table}_refuse_truncate ON {table}")
        op.execute("DROP TRIGGER requests_refuse_change ON requests")
        op.execute("DROP TRIGGER requests_refuse_truncate ON requests")
        op.execute("DROP FUNCTION brandgate_requests_guard()")
        op.execute("DROP FUNCTION brandgate_refuse_change()")
        return
    for table in UNIQUE_KEYS:
        op.execute(f"DROP TRIGGER {table}_refuse_replace")
    for table in WHOLE_TABLES:
        op.execute(f"DROP TRIGGER {table}_refuse_update")
        op.execute(f"DROP TRIGGER {table}_refuse_delete")
    op.execute("DROP TRIGGER requests_refuse_update")
    op.execute("DROP TRIGGER requests_refuse_delete")

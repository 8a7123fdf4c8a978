"""Least privilege on PostgreSQL: what the application's role may do to each table, granted by the owner.

Migrations run as the tables' owner; the bot, workers and scheduler connect as another role that
can read everything but only insert evidence. Triggers already refuse UPDATE, DELETE and
TRUNCATE of evidence, but a table's owner can disable triggers; a role that is not the owner
cannot, and without the privileges it cannot even try.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

# Rows the export prints or the chain binds: read and insert, nothing else.
EVIDENCE_TABLES = ("audit_events", "images", "check_results", "approvals")
# A request's job state, the only columns of `requests` the application may update.
REQUEST_STATE_COLUMNS = (
    "state", "stage", "failure_reason", "attempts", "stage_timings", "gpu_seconds", "cost_usd", "started_at",
    "finished_at", "progress_image", "progress_step", "progress_steps", "cancel_requested_by", "worker",
    "heartbeat_at",
)  # fmt: skip
# Mutable state the export does not trust: the model registry, regression runs, scheduler claims.
STATE_TABLES = ("model_profiles", "golden_outputs", "regression_runs", "regression_outputs", "scheduler_locks")
SCHEDULER_JOBS_TABLE = "apscheduler_jobs"


def grant_app_role(connection: Connection, role: str) -> None:
    """Reset and grant `role`'s privileges on every brandgate table; run as the owner after migrating."""
    who = connection.dialect.identifier_preparer.quote(role)
    exists = connection.execute(text("SELECT 1 FROM pg_roles WHERE rolname = :r"), {"r": role}).first()
    if exists is None:
        raise LookupError(f"PostgreSQL role {role!r} does not exist; create it (CREATE ROLE {role} LOGIN ...) first")
    _create_scheduler_jobs_table(connection)
    quote = connection.dialect.identifier_preparer.quote
    schema = quote(connection.execute(text("SELECT current_schema()")).scalar_one())
    everything = (*EVIDENCE_TABLES, "requests", *STATE_TABLES, SCHEDULER_JOBS_TABLE, "alembic_version")
    for statement in (
        f"REVOKE ALL ON {', '.join(everything)} FROM {who}",
        f"GRANT USAGE ON SCHEMA {schema} TO {who}",
        f"GRANT SELECT, INSERT ON {', '.join(EVIDENCE_TABLES)} TO {who}",
        f"GRANT SELECT, INSERT, UPDATE ({', '.join(REQUEST_STATE_COLUMNS)}) ON requests TO {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON {', '.join((*STATE_TABLES, SCHEDULER_JOBS_TABLE))} TO {who}",
        f"GRANT SELECT ON alembic_version TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {who}",
    ):
        connection.execute(text(statement))


def _create_scheduler_jobs_table(connection: Connection) -> None:
    """APScheduler creates its job table on first start; create it now, as the owner, so the
    application's role needs no CREATE privilege on the schema."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    store = SQLAlchemyJobStore(engine=connection.engine, tablename=SCHEDULER_JOBS_TABLE)
    store.jobs_t.create(connection, checkfirst=True)


__all__ = ["EVIDENCE_TABLES", "REQUEST_STATE_COLUMNS", "STATE_TABLES", "grant_app_role"]

"""The scheduler process: the nightly suite, audit anchors and review desk posts on crons, one run per occurrence.

APScheduler 3 keeps its jobs in the `apscheduler_jobs` table, so they survive restarts and a
run missed while the process was down still starts (once, coalesced) within the grace time.
APScheduler itself does not coordinate two schedulers on one job store, so every run first
claims its occurrence: a row in `scheduler_locks` keyed by job and fire time (the primary key
makes the claim atomic on every database), and while the work runs it holds a PostgreSQL
advisory lock (on SQLite, a lease row) so no two runs of the job overlap.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select, text
from sqlalchemy.exc import IntegrityError

from brandgate.db.audit import verify_chain
from brandgate.db.engine import make_engine, process_engine
from brandgate.db.models import SchedulerLock
from brandgate.db.schema import ensure_current
from brandgate.db.tree import TrailNotSigned, TreeHead, latest_head, make_head, read_only
from brandgate.errors import ConfigError
from brandgate.regress import actions
from brandgate.regress.channel_posts import post_alert
from brandgate.regress.suite import load_suite
from brandgate.settings import Settings, get_settings
from brandgate.trail_key import signing_trail_key, trail_key_path

log = logging.getLogger(__name__)

NIGHTLY_JOB_ID = "nightly-regression"
NIGHTLY_JOB_REF = "brandgate.scheduler:nightly_job"
JOBS_TABLE = "apscheduler_jobs"
ANCHOR_JOB_ID = "audit-anchor"
ANCHOR_JOB_REF = "brandgate.scheduler:anchor_job"
HEAD_JOB_ID = "audit-tree-head"
HEAD_JOB_REF = "brandgate.scheduler:tree_head_job"
REMINDER_JOB_ID = "review-reminders"
REMINDER_JOB_REF = "brandgate.scheduler:reminder_job"
REPORT_JOB_ID = "governance-report"
REPORT_JOB_REF = "brandgate.scheduler:report_job"
LEASE = timedelta(hours=6)  # longer than any suite run; a crashed holder frees the job after it


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def cron_trigger(expression: str, setting: str = "BRANDGATE_NIGHTLY_CRON") -> Any:
    from apscheduler.triggers.cron import CronTrigger

    try:
        return CronTrigger.from_crontab(expression, timezone=UTC)
    except ValueError as exc:
        raise ConfigError(f"{setting} {expression!r} is not a crontab line (e.g. '0 2 * * *'): {exc}") from None


def latest_fire_time(expression: str, now: datetime, setting: str = "BRANDGATE_NIGHTLY_CRON") -> datetime:
    """The newest time the cron fired at or before `now`: names the occurrence a run belongs to."""
    trigger = cron_trigger(expression, setting)
    moment = now - timedelta(days=400)
    latest = None
    fire = trigger.get_next_fire_time(None, moment)
    while fire is not None and fire <= now:
        latest = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    return latest or now


def build_scheduler(settings: Settings, engine: Engine, job_ref: str = NIGHTLY_JOB_REF) -> Any:
    """A background scheduler on our database's job store with the nightly job in it.

    A job already in the store keeps its next run time (so a missed run still fires after a
    restart); only a changed cron line reschedules it.
    """
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    trigger = cron_trigger(settings.nightly_cron)
    scheduler = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBS_TABLE)},
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": settings.scheduler_misfire_grace_s},
        timezone=UTC,
    )
    scheduler.start(paused=True)
    _keep_job(scheduler, NIGHTLY_JOB_ID, job_ref, trigger, "nightly regression suite", settings.nightly_cron)
    if settings.slack_compliance_channel:
        anchor_trigger = cron_trigger(settings.audit_anchor_cron, "BRANDGATE_AUDIT_ANCHOR_CRON")
        _keep_job(scheduler, ANCHOR_JOB_ID, ANCHOR_JOB_REF, anchor_trigger, "audit chain head to the compliance "
                  "channel", settings.audit_anchor_cron)  # fmt: skip
    elif scheduler.get_job(ANCHOR_JOB_ID) is not None:
        scheduler.remove_job(ANCHOR_JOB_ID)
    if trail_key_path(settings).exists():
        head_trigger = cron_trigger(settings.audit_head_cron, "BRANDGATE_AUDIT_HEAD_CRON")
        _keep_job(scheduler, HEAD_JOB_ID, HEAD_JOB_REF, head_trigger, "signed head of the audit tree",
                  settings.audit_head_cron)  # fmt: skip
    elif scheduler.get_job(HEAD_JOB_ID) is not None:
        scheduler.remove_job(HEAD_JOB_ID)
    # The review desk's posts need Slack: reminders wherever a bot token is set, the report with its channel.
    review_jobs = {
        REMINDER_JOB_ID: (REMINDER_JOB_REF, settings.review_reminder_cron, "BRANDGATE_REVIEW_REMINDER_CRON",
                          "reminders of decisions waiting past a kit's SLA", bool(settings.slack_bot_token)),
        REPORT_JOB_ID: (REPORT_JOB_REF, settings.governance_report_cron, "BRANDGATE_GOVERNANCE_REPORT_CRON",
                        "weekly governance report", bool(settings.slack_governance_channel)),
    }  # fmt: skip
    for job_id, (ref, cron, setting, name, wanted) in review_jobs.items():
        if wanted:
            _keep_job(scheduler, job_id, ref, cron_trigger(cron, setting), name, cron)
        elif scheduler.get_job(job_id) is not None:
            scheduler.remove_job(job_id)
    return scheduler


def _keep_job(scheduler: Any, job_id: str, job_ref: str, trigger: Any, name: str, cron: str) -> None:
    job = scheduler.get_job(job_id)
    if job is None:
        scheduler.add_job(job_ref, trigger, id=job_id, name=name, replace_existing=True)
        log.info("scheduled %s: %s", job_id, cron)
    elif str(job.trigger) != str(trigger) or job.func_ref != job_ref:
        scheduler.modify_job(job_id, func=job_ref)
        scheduler.reschedule_job(job_id, trigger=trigger)
        log.info("rescheduled %s: %s", job_id, cron)
    else:
        log.info("kept %s from the job store; next run %s", job_id, job.next_run_time)


def stop_scheduler(scheduler: Any, wait: bool = True) -> None:
    """Shut down without touching the stored jobs.

    APScheduler 3's background loop processes due jobs once more after `shutdown()` (with its
    executors already closed): the run fails to start but the store still moves the job to its
    next fire time, so a run due at that moment would be lost. Detaching the job store first
    leaves the job exactly as it was for the next start.
    """
    scheduler.pause()
    scheduler.remove_jobstore("default", shutdown=True)
    scheduler.shutdown(wait=wait)


# --- one run per occurrence, one run at a time -----------------------------------------------------


def claim_occurrence(engine: Engine, job_id: str, occurrence: datetime, holder: str) -> bool:
    """True for the one caller that claims this fire time of the job; every other caller gets False."""
    name = f"{job_id}@{occurrence.astimezone(UTC).isoformat()}"
    try:
        with engine.begin() as connection:
            connection.execute(
                insert(SchedulerLock).values(
                    name=name, holder=holder, acquired_at=datetime.now(UTC), expires_at=datetime.max.replace(tzinfo=UTC)
                )
            )
    except IntegrityError:
        return False
    return True


def _advisory_key(job_id: str) -> int:
    return int.from_bytes(hashlib.sha256(f"brandgate.scheduler:{job_id}".encode()).digest()[:8], "big", signed=True)


@contextmanager
def job_lock(engine: Engine, job_id: str, holder: str) -> Iterator[bool]:
    """Yields True while this process alone runs the job; False when another holds it."""
    if engine.dialect.name == "postgresql":
        key = _advisory_key(job_id)
        with engine.connect() as connection:
            got = bool(connection.execute(select(func.pg_try_advisory_lock(key))).scalar())
            connection.commit()
            try:
                yield got
            finally:
                if got:
                    connection.execute(select(func.pg_advisory_unlock(key)))
                    connection.commit()
        return
    name = f"{job_id}:running"
    now = datetime.now(UTC)
    got = False
    with engine.begin() as connection:
        # an expired lease is a crashed holder's: take it over
        connection.execute(delete(SchedulerLock).where(SchedulerLock.name == name, SchedulerLock.expires_at < now))
        try:
            connection.execute(
                insert(SchedulerLock).values(name=name, holder=holder, acquired_at=now, expires_at=now + LEASE)
            )
            got = True
        except IntegrityError:
            got = False
    if not got:
        yield False
        return
    try:
        yield True
    finally:
        with engine.begin() as connection:
            connection.execute(delete(SchedulerLock).where(SchedulerLock.name == name, SchedulerLock.holder == holder))


def run_guarded(
    settings: Settings,
    engine: Engine,
    job_id: str,
    work: Callable[[], None],
    now: datetime | None = None,
    cron: str | None = None,
) -> bool:
    """Run `work` for the current occurrence unless another scheduler has it; True when it ran here."""
    holder = holder_name()
    occurrence = latest_fire_time(cron or settings.nightly_cron, now or datetime.now(UTC))
    if not claim_occurrence(engine, job_id, occurrence, holder):
        log.info("%s for %s is already claimed by another scheduler; skipping", job_id, occurrence.isoformat())
        return False
    with job_lock(engine, job_id, holder) as got:
        if not got:
            log.warning("%s is still running elsewhere; skipping the %s run", job_id, occurrence.isoformat())
            return False
        work()
    return True


def nightly_job() -> None:
    """What the stored job calls: the suite on the active profile, guarded against double runs."""
    settings = get_settings()
    engine = process_engine(settings)

    def work() -> None:
        suite = load_suite(settings.regress_suite, settings)
        with actions.database(settings) as sessions:
            result = actions.nightly(settings, sessions, suite)
        log.info("nightly run %s: %s; %s", result.run.run_id, result.run.status, "; ".join(result.notes) or "ok")

    run_guarded(settings, engine, NIGHTLY_JOB_ID, work)


def post_chain_head(settings: Settings, engine: Engine) -> str:
    """Verify the chain and post its head to the compliance channel; returns the text posted.

    The message is an anchor kept where the database's owners cannot edit it: pasted whole
    into `brandgate audit verify --anchor`, it proves the trail still holds that event.
    """
    report = verify_chain(engine)
    fault = report.first_break
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    if fault is None:
        text = (f"brandgate audit chain head on {today}: seq {report.head_seq} hash {report.head_hash} "
                f"({report.events} events, chain intact). Keep this message; check the trail later with "
                f"`brandgate audit verify --anchor {report.head_seq}:{report.head_hash}`")  # fmt: skip
        head = _latest_signed_head(settings, engine)
        if head is not None:
            text += (f". Signed tree head: size {head.size} root {head.root.hex()}; prove the trail only grew since "
                     f"with `brandgate audit verify --since-head {head.text}`")  # fmt: skip
    else:
        text = (f"brandgate audit chain BROKEN on {today} at seq {fault.seq} ({fault.kind}): {fault.message}. "
                "No head posted; run `brandgate audit verify`")  # fmt: skip
    post_alert(settings, text, compliance=True)
    log.info("posted the audit chain head", extra={"event": "audit.anchor_posted", "seq": report.head_seq})
    return text


def _latest_signed_head(settings: Settings, engine: Engine) -> TreeHead | None:
    """A head over the trail as it is now where this process holds the trail key, else the latest one made."""
    if trail_key_path(settings).exists():
        try:
            return make_head(engine, signing_trail_key(settings))[0]
        except TrailNotSigned as exc:
            log.warning("no tree head made: %s", exc)
    with read_only(engine) as connection, connection.begin():
        return latest_head(connection)


def tree_head_job() -> None:
    """What the stored head job calls: sign a head over the trail, guarded against double runs."""
    settings = get_settings()
    engine = make_engine(settings)

    def work() -> None:
        head, made = make_head(engine, signing_trail_key(settings))
        log.info("audit tree head %s: size %d", "signed" if made else "unchanged", head.size,
                 extra={"event": "audit.head_signed", "size": head.size})  # fmt: skip

    try:
        run_guarded(settings, engine, HEAD_JOB_ID, work, cron=settings.audit_head_cron)
    except TrailNotSigned as exc:
        log.error("no tree head signed: %s", exc, extra={"event": "audit.head_refused"})
    finally:
        engine.dispose()


def anchor_job() -> None:
    """What the stored anchor job calls: the chain head to the compliance channel, once a day."""
    settings = get_settings()
    engine = make_engine(settings)

    def work() -> None:
        post_chain_head(settings, engine)

    try:
        run_guarded(settings, engine, ANCHOR_JOB_ID, work, cron=settings.audit_anchor_cron)
    finally:
        engine.dispose()


def reminder_job() -> None:
    """What the stored reminder job calls: each kit's overdue decisions to its managers."""
    # Lazy: the Slack SDK and matplotlib load only when a review desk job runs.
    from brandgate.review_posts import send_review_reminders

    settings = get_settings()
    engine = make_engine(settings)
    try:
        # No occurrence claim here: each kit's reminder claims its own SLA period.
        sent = send_review_reminders(settings, engine, datetime.now(UTC))
        log.info("review reminders: %d sent", len(sent), extra={"event": "review.reminders", "sent": len(sent)})
    finally:
        engine.dispose()


def report_job() -> None:
    """What the stored report job calls: the weekly governance report, once per occurrence."""
    # Lazy, as above.
    from brandgate.review_posts import post_governance_report

    settings = get_settings()
    engine = make_engine(settings)

    def work() -> None:
        post_governance_report(settings, engine, datetime.now(UTC))

    try:
        run_guarded(settings, engine, REPORT_JOB_ID, work, cron=settings.governance_report_cron)
    finally:
        engine.dispose()


def serve(settings: Settings, stop: threading.Event | None = None) -> None:
    """Run the scheduler until SIGTERM/SIGINT (or `stop`)."""
    engine = process_engine(settings)
    ensure_current(engine)
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
    scheduler = build_scheduler(settings, engine)
    scheduler.resume()
    job = scheduler.get_job(NIGHTLY_JOB_ID)
    log.info("scheduler running; next nightly run %s", job.next_run_time if job else "none")
    try:
        stop.wait()
    finally:
        stop_scheduler(scheduler)


def stored_next_run(engine: Engine, job_id: str = NIGHTLY_JOB_ID) -> datetime | None:
    """The next run time as the job store has it (a restart must not move it)."""
    with engine.connect() as connection:
        value = connection.execute(
            text(f"SELECT next_run_time FROM {JOBS_TABLE} WHERE id = :id"), {"id": job_id}
        ).scalar()
    return datetime.fromtimestamp(float(value), UTC) if value is not None else None

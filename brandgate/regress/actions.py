"""What the commands and the scheduler do: run or resume a suite, promote, roll back, the nightly run."""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from brandgate import model_registry
from brandgate.db.audit import append_event
from brandgate.db.engine import make_sessionmaker, process_engine
from brandgate.db.models import ModelProfileRow, RegressionRun
from brandgate.db.schema import ensure_current
from brandgate.errors import UserError
from brandgate.jobs.queues import open_queue
from brandgate.regress.channel_posts import RUN_NAMES, post_alert, post_report
from brandgate.regress.gate import Comparison, evaluate
from brandgate.regress.report import RunView, write_comparison, write_report
from brandgate.regress.runner import RunOptions, SuiteRunner, find_run, load_view, suite_for_run
from brandgate.regress.suite import Suite
from brandgate.settings import Settings
from pipeline.profiles import load_profile

log = logging.getLogger(__name__)


def queue_settings(settings: Settings, concurrency: int) -> Settings:
    """The settings the suite's queue runs under.

    The suite is an operator's measurement, not a marketer's traffic: per-user limits and kit
    budgets would stop it part-way (hundreds of images from one 'user'), so they are lifted for
    the run; the local pool gets as many workers as the run keeps requests in flight.
    """
    lifted: dict[str, Any] = {
        "local_workers": max(concurrency, int(getattr(settings, "local_workers", 1))),
        "max_jobs_per_user": max(concurrency, int(getattr(settings, "max_jobs_per_user", 1))),
        "max_daily_images_per_user": 10**9,
        "max_queue_length": max(concurrency * 2, int(getattr(settings, "max_queue_length", 1))),
        "kit_daily_budget_usd": math.inf,
    }
    known = type(settings).model_fields
    return settings.model_copy(update={k: v for k, v in lifted.items() if k in known})


@contextmanager
def database(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = process_engine(settings)
    ensure_current(engine)
    yield make_sessionmaker(engine)


@contextmanager
def suite_runner(
    settings: Settings,
    sessions: sessionmaker[Session],
    concurrency: int,
    stop: threading.Event | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> Iterator[SuiteRunner]:
    queue = open_queue(queue_settings(settings, concurrency))
    try:
        yield SuiteRunner(settings, sessions, queue, stop=stop, on_progress=on_progress)
    finally:
        queue.close()


def options_from(settings: Settings, seeds: int | None, concurrency: int | None, **extra: Any) -> RunOptions:
    return RunOptions(
        seeds=seeds if seeds is not None else settings.regress_seeds,
        concurrency=concurrency if concurrency is not None else settings.regress_concurrency,
        tolerance=settings.watchdog_tolerance,
        timeout_s=settings.regress_render_timeout_s,
        **extra,
    )


def _profile_hash(settings: Settings, profile: str) -> str:
    try:
        return str(load_profile(profile, settings).content_hash())
    except ValueError as exc:  # InvalidInput: unknown profile, bad file, device it cannot run on
        raise UserError(f"--profile: {exc}") from None


def run_suite(
    settings: Settings,
    sessions: sessionmaker[Session],
    suite: Suite,
    profile: str,
    options: RunOptions,
    stop: threading.Event | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> RunView:
    """Start and finish one run; an interrupt leaves it `incomplete` (RunInterrupted is raised)."""
    if not suite.briefs:
        raise UserError(f"{suite.path}: no brief in the suite (or the slice) can run")
    digest = _profile_hash(settings, profile)
    with sessions.begin() as session:  # goldens and drift are kept for the active profile: know which
        model_registry.ensure_active(session, settings, options.triggered_by)
    with suite_runner(settings, sessions, options.concurrency, stop, on_progress) as runner:
        run_id = runner.start(suite, profile, options, profile_hash=digest)
        log.info(
            "regression run %s: %d brief(s), %d seed(s), profile %s", run_id, len(suite.briefs), options.seeds, profile
        )
        return runner.execute(run_id, suite)


def resume_run(
    settings: Settings,
    sessions: sessionmaker[Session],
    run_id: str,
    suite_path: Path | None = None,
    stop: threading.Event | None = None,
    on_progress: Callable[[int, int], None] | None = None,
) -> RunView:
    run_id = find_run(sessions, run_id)
    with sessions() as session:
        run = session.get(RegressionRun, run_id)
        assert run is not None
        if run.status in ("complete", "flagged"):
            raise UserError(f"run {run_id} is already {run.status}; nothing to resume")
        concurrency = run.concurrency
    suite = suite_for_run(sessions, run_id, suite_path, settings)
    with suite_runner(settings, sessions, concurrency, stop, on_progress) as runner:
        return runner.execute(run_id, suite)


def report(
    settings: Settings,
    run: RunView,
    out_dir: Path | None,
    baseline: RunView | None = None,
    post: bool = False,
    sessions: sessionmaker[Session] | None = None,
) -> tuple[Path, Path]:
    """The run's own report and summary; with `post`, the Slack summary beside the previous run."""
    html_path, json_path = write_report(run, out_dir or settings.regress_reports_dir, baseline)
    if post:
        previous = previous_run(sessions, run) if sessions is not None else None
        post_report(settings, run, html_path, last=previous, names=RUN_NAMES)
    return html_path, json_path


def previous_run(sessions: sessionmaker[Session], run: RunView) -> RunView | None:
    """The latest finished run of the same profile on the same suite file before `run`, whatever its outcome."""
    with sessions() as session:
        this = session.get(RegressionRun, run.run_id)
        if this is None:
            return None
        row = session.scalars(
            select(RegressionRun)
            .where(
                RegressionRun.profile_name == this.profile_name,
                RegressionRun.suite_hash == this.suite_hash,
                RegressionRun.status != "running",
                RegressionRun.id != this.id,
                RegressionRun.started_at < this.started_at,
            )
            .order_by(RegressionRun.started_at.desc())
            .limit(1)
        ).first()
        run_id = row.id if row is not None else None
    return load_view(sessions, run_id) if run_id is not None else None


# --- the model gate ---------------------------------------------------------------------------------


@dataclass
class PromotionResult:
    comparison: Comparison
    promoted: bool
    candidate: str
    active: str
    reports: list[Path] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "promoted": self.promoted,
            "candidate": self.candidate,
            "active": self.active,
            **self.comparison.to_json(),
            "reports": [str(p) for p in self.reports],
        }


def promote(
    settings: Settings,
    sessions: sessionmaker[Session],
    candidate: str,
    suite: Suite,
    options: RunOptions,
    actor: str,
    out_dir: Path | None = None,
    on_progress: Callable[[str, int, int], None] | None = None,
) -> PromotionResult:
    """Run the suite on the active profile and the candidate with the same seeds; promote only if all holds.

    `on_progress(which, done, todo)` follows each run's renders (`which`: baseline, candidate).
    """
    with sessions.begin() as session:
        current = model_registry.ensure_active(session, settings, actor)
        cand = model_registry.register(session, candidate, settings)
        if cand.id == current.id:
            raise UserError(f"profile {candidate!r} is already active; nothing to promote")
        active_name = current.name
    def following(which: str) -> Callable[[int, int], None] | None:
        if on_progress is None:
            return None
        return lambda done, todo: on_progress(which, done, todo)

    baseline = run_suite(settings, sessions, suite, active_name, options, on_progress=following("baseline"))
    cand_view = run_suite(
        settings,
        sessions,
        suite,
        candidate,
        RunOptions(**{**options.__dict__, "baseline_run_id": baseline.run_id}),
        on_progress=following("candidate"),
    )
    comparison = evaluate(cand_view, baseline, settings)
    payload = {
        "candidate_run": cand_view.run_id,
        "baseline_run": baseline.run_id,
        "suite": str(suite.path),
        "suite_hash": suite.content_hash,
        "criteria": [c.to_json() for c in comparison.criteria],
    }
    with sessions.begin() as session:
        row = session.scalars(select(ModelProfileRow).where(ModelProfileRow.name == candidate)).one()
        now_active = model_registry.active(session)
        if now_active is None or now_active.name != active_name:
            raise UserError(
                f"the active profile changed to {now_active.name if now_active else 'none'} during the "
                "gate run; run the promotion again"
            )
        if comparison.passed:
            model_registry.make_active(session, row, actor, payload)
        else:
            append_event(
                session,
                actor=actor,
                kind="model.promotion_refused",
                subject_type="model_profile",
                subject_id=candidate,
                payload={**payload, "failed_criteria": comparison.failed},
            )
    html, summary = write_comparison(comparison, out_dir or settings.regress_reports_dir)
    return PromotionResult(comparison, comparison.passed, candidate, active_name, [html, summary])


def rollback(settings: Settings, sessions: sessionmaker[Session], actor: str, reason: str) -> tuple[str, str]:
    with sessions.begin() as session:
        model_registry.ensure_active(session, settings, actor)
        return model_registry.rollback(session, actor, reason)


# --- the nightly run ----------------------------------------------------------------------------------


@dataclass
class NightlyResult:
    run: RunView
    comparison: Comparison | None
    rolled_back: tuple[str, str] | None
    reports: tuple[Path, Path]
    notes: list[str] = field(default_factory=list)


def last_good_run(sessions: sessionmaker[Session], profile: str, suite_hash: str, before: str) -> RunView | None:
    """The latest complete run of this profile on the same suite file, other than `before`."""
    with sessions() as session:
        row = session.scalars(
            select(RegressionRun)
            .where(
                RegressionRun.profile_name == profile,
                RegressionRun.suite_hash == suite_hash,
                RegressionRun.status == "complete",
                RegressionRun.id != before,
            )
            .order_by(RegressionRun.started_at.desc())
            .limit(1)
        ).first()
        run_id = row.id if row is not None else None
    return load_view(sessions, run_id) if run_id is not None else None


def nightly(
    settings: Settings,
    sessions: sessionmaker[Session],
    suite: Suite,
    actor: str = "scheduler",
    stop: threading.Event | None = None,
) -> NightlyResult:
    """The suite on the active profile; criteria broken against its last good run → alert, maybe roll back."""
    with sessions.begin() as session:
        active_name = model_registry.ensure_active(session, settings, actor).name
    options = options_from(settings, None, None, triggered_by=actor)
    run = run_suite(settings, sessions, suite, active_name, options, stop)
    baseline = last_good_run(sessions, active_name, suite.content_hash, run.run_id)
    comparison = evaluate(run, baseline, settings) if baseline is not None else None
    notes: list[str] = []
    rolled: tuple[str, str] | None = None
    broken = comparison is not None and not comparison.passed
    if run.status == "flagged":
        broken = True
        notes.append("the determinism watchdog tripped on the active profile")
    if broken:
        failed = comparison.failed if comparison is not None else ["watchdog clean"]
        notes.append(f"nightly run {run.run_id} on {active_name} broke: {', '.join(failed)}")
        if settings.auto_rollback:
            try:
                rolled = rollback(settings, sessions, actor, f"nightly run {run.run_id} broke: {', '.join(failed)}")
                notes.append(f"rolled back {rolled[0]} → {rolled[1]}")
            except UserError as exc:
                notes.append(f"could not roll back: {exc}")
    paths = write_report(run, settings.regress_reports_dir, baseline, gate=comparison)
    if broken and settings.slack_report_channel and settings.slack_bot_token is not None:
        post_alert(settings, ":rotating_light: " + "; ".join(notes))
    if settings.slack_report_channel and settings.slack_bot_token is not None:
        post_report(settings, run, paths[0], last=previous_run(sessions, run), gate=comparison)
    return NightlyResult(run, comparison, rolled, paths, notes)

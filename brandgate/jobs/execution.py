"""Executing one queued request on a worker: claim, heartbeat, progress, cancel, retry policy.

Shared by the local pool and the Celery task, so both backends behave the same on a crash,
a cancel or a database outage.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.orm import Session, sessionmaker

from brandgate.db.models import Request
from brandgate.jobs.state import Progress, beat, claim, release
from brandgate.logs import in_request
from brandgate.metrics import Metrics
from brandgate.requests import lifecycle
from brandgate.requests.failures import DatabaseUnavailable, is_database_outage
from brandgate.requests.run import RequestRun, RunHooks, WorkerParts
from policies.engine import ImageReport

log = logging.getLogger(__name__)

Outcome = Literal["done", "failed", "cancelled", "retry", "busy", "missing", "skipped"]


class JobHooks(RunHooks):
    """Publishes progress and renews the lease from a monitor thread; reads cancel requests.

    The generation thread only writes to memory here: the database round trips happen on the
    monitor thread, a few times a second, so a slow database never slows a denoising step.
    """

    def __init__(self, sessions: sessionmaker[Session], request_id: str, worker: str, metrics: Metrics,
                 interval_s: float) -> None:
        self._sessions = sessions
        self._request_id = request_id
        self._worker = worker
        self._metrics = metrics
        self._interval = interval_s
        self._progress: Progress | None = None
        self._published: Progress | None = None
        self._cancel_by: str | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._watch, name=f"monitor-{request_id[:8]}", daemon=True)
        self.stage: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def cancel_now(self, by: str) -> None:
        """In-process cancel (local backend): no need to wait for the next poll."""
        self._cancel_by = by

    def progress(self, stage: str, image: int | None = None, step: int | None = None,
                 steps: int | None = None) -> None:
        self.stage = stage
        changed_stage = self._progress is None or self._progress.stage != stage
        self._progress = Progress(stage, image, step, steps)
        if changed_stage:
            self._wake.set()

    def cancelled_by(self) -> str | None:
        return self._cancel_by

    def stage_timed(self, stage: str, seconds: float) -> None:
        self._metrics.stage(stage, seconds)

    def image_recorded(self, verdict: str, report: ImageReport, kit: str, gpu_seconds: float,
                       cost_usd: float) -> None:
        self._metrics.image(verdict)
        for check in report.checks:
            if check.status in ("fail", "error"):
                self._metrics.check_failed(check.id, check.status)
        self._metrics.spent(kit, gpu_seconds, cost_usd)

    def spent(self, kit: str, gpu_seconds: float, cost_usd: float) -> None:
        self._metrics.spent(kit, gpu_seconds, cost_usd)

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stop.is_set():
                break
            progress = self._progress
            try:
                lost, cancel_by = beat(
                    self._sessions, self._request_id, self._worker,
                    progress if progress != self._published else None,
                )
            except Exception as exc:  # an outage: the run itself will notice and retry
                log.warning("heartbeat failed: %s", exc,
                            extra={"event": "job.heartbeat_failed", "request_id": self._request_id})
                continue
            self._published = progress
            if cancel_by and not self._cancel_by:
                self._cancel_by = cancel_by
            if lost and not self._cancel_by:
                # Another worker took the job over (we were presumed dead): stop spending GPU on it.
                log.error("lost the lease on the job; stopping",
                          extra={"event": "job.lease_lost", "request_id": self._request_id})
                self._cancel_by = "lease-lost"


@dataclass(frozen=True)
class Executed:
    outcome: Outcome
    error: str | None = None  # why it failed or must be retried


@dataclass
class JobExecutor:
    """Runs claimed requests with one process's parts; `execute` is safe to call from threads."""

    parts: WorkerParts
    metrics: Metrics
    heartbeat_s: float = 0.25

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self.parts.sessions

    def execute(
        self, request_id: str, worker: str,
        on_hooks: Callable[[str, JobHooks | None], None] | None = None,
        last_error: str | None = None,
    ) -> Executed:
        """Claim and run; `last_error` is why the previous attempt stopped (for the final reason)."""
        with in_request(request_id):  # every line logged meanwhile, by any stage, names the request
            return self._execute(request_id, worker, on_hooks, last_error)

    def _execute(
        self, request_id: str, worker: str,
        on_hooks: Callable[[str, JobHooks | None], None] | None,
        last_error: str | None,
    ) -> Executed:
        settings = self.parts.settings
        try:
            claimed = claim(self.sessions, settings, request_id, worker, last_error)
        except Exception as exc:
            if is_database_outage(exc):
                log.warning("cannot claim %s: database unavailable", request_id,
                            extra={"event": "job.claim_failed", "request_id": request_id})
                return Executed("retry", last_error or f"database unavailable: {exc}")
            raise
        if claimed.result == "exhausted":
            self.metrics.job_finished("failed")
            return Executed("failed", claimed.detail)
        if claimed.result == "gone":
            return Executed("skipped")
        if claimed.result in ("missing", "busy"):
            return Executed(claimed.result)
        hooks = JobHooks(self.sessions, request_id, worker, self.metrics,
                         min(self.heartbeat_s, settings.job_lease_s / 3))
        if on_hooks is not None:
            on_hooks(request_id, hooks)
        hooks.start()
        try:
            result = RequestRun(self.parts, hooks)(request_id)
        except DatabaseUnavailable as exc:
            log.warning("database unavailable; will retry: %s", exc,
                        extra={"event": "job.retry", "request_id": request_id, "attempt": claimed.attempt})
            hooks.stop()
            self._hand_back(request_id, worker, str(exc))
            return Executed("retry", str(exc))
        except Exception as exc:  # a bug in a stage we did not classify: fail it, keep the worker
            log.exception("request crashed", extra={"event": "request.crashed", "request_id": request_id})
            hooks.stop()
            self._fail(request_id, hooks.stage, f"internal error: {type(exc).__name__}: {exc}")
            self.metrics.job_finished("failed")
            return Executed("failed", str(exc))
        finally:
            hooks.stop()
            if on_hooks is not None:
                on_hooks(request_id, None)
        # Screening refusing a brief in the worker (its kit changed after intake) is the policy
        # working: counted as refused, so an alert on failed jobs does not page for wording.
        refused = result.state == "failed" and result.stage == "screening"
        self.metrics.job_finished("refused" if refused else result.state)
        return Executed(result.state, result.reason)  # type: ignore[arg-type]

    def _hand_back(self, request_id: str, worker: str, reason: str) -> None:
        try:
            release(self.sessions, request_id, worker, reason)
        except Exception as exc:  # still down: the lease expires and the retry takes it over
            log.warning("could not hand the job back: %s", exc,
                        extra={"event": "job.release_failed", "request_id": request_id})

    def _fail(self, request_id: str, stage: str | None, reason: str) -> None:
        with self.sessions() as session, session.begin():
            row = session.get(Request, request_id)
            if row is None or row.state != "running":
                return
            lifecycle.fail(session, row, stage, reason)


def backoff(settings_delay: float, attempt: int) -> float:
    """Delay before retry `attempt` (1-based): doubling, capped at a minute."""
    return float(min(60.0, settings_delay * (2 ** max(0, attempt - 1))))



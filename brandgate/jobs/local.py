"""The embedded default: worker threads in this process, reading their work from the database.

Nothing else has to run. Because the requests table is the queue, a process that stops
leaves its work there: the next one picks up queued requests and takes over running ones
whose heartbeat has gone stale.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine

from brandgate.errors import DatabaseError
from brandgate.jobs.contract import RequestStatus
from brandgate.jobs.execution import JobExecutor, JobHooks, backoff
from brandgate.jobs.request_side import QueueFront
from brandgate.jobs.state import next_queued, orphaned, worker_identity
from brandgate.metrics import Metrics, get_metrics
from brandgate.requests.run import WorkerParts
from brandgate.requests.states import TERMINAL_STATES
from brandgate.settings import Settings

log = logging.getLogger(__name__)

# Previews first: a pile of HQ exports must not hold up the next preview.
QUEUE_ORDER = ("preview", "export")
POLL_S = 0.5


class LocalQueue(QueueFront):
    def __init__(self, settings: Settings, *, engine: Engine | None = None, workers: int | None = None,
                 parts: WorkerParts | None = None, metrics: Metrics | None = None,
                 start_workers: bool = True) -> None:
        super().__init__(settings, engine)
        self.parts = parts or WorkerParts.from_settings(settings, self.sessions)
        self.metrics = metrics or get_metrics()
        self.metrics.watch_jobs(self.sessions)
        self.executor = JobExecutor(self.parts, self.metrics)
        self._wakeup = threading.Condition()
        self._stopping = threading.Event()
        self._running: dict[str, JobHooks] = {}
        self._running_lock = threading.Lock()
        # Requests given up after job_max_attempts retries that the database would not let us
        # record (read-only, full): the attempt count lives here when it cannot be written there.
        self._abandoned: dict[str, str] = {}
        count = workers or settings.local_workers
        self._threads = [
            threading.Thread(target=self._work, name=f"brandgate-local-{i}", daemon=True) for i in range(count)
        ]
        if start_workers:
            self.start()

    def start(self) -> None:
        for thread in self._threads:
            if not thread.is_alive():
                thread.start()

    def _queued(self, request_id: str) -> None:
        with self._wakeup:
            self._wakeup.notify()

    def cancel(self, request_id: str, by: str) -> RequestStatus:
        status = super().cancel(request_id, by)
        with self._running_lock:
            hooks = self._running.get(request_id)
        if hooks is not None:
            hooks.cancel_now(by)
        return status

    def _track(self, request_id: str, hooks: JobHooks | None) -> None:
        with self._running_lock:
            if hooks is None:
                self._running.pop(request_id, None)
            else:
                self._running[request_id] = hooks

    def _next(self) -> str | None:
        with self.sessions() as session:
            for queue in QUEUE_ORDER:
                request_id = next_queued(session, queue)
                if request_id is not None and request_id not in self._abandoned:
                    return request_id
            with self._running_lock:
                mine = set(self._running)
            for queue in QUEUE_ORDER:
                for request_id in orphaned(session, self.settings, queue):
                    if request_id not in mine and request_id not in self._abandoned:
                        return request_id
        return None

    def _work(self) -> None:
        worker = worker_identity()
        retry_id: str | None = None
        retry_error: str | None = None
        retries = 0
        while not self._stopping.is_set():
            try:
                request_id = retry_id or self._next()
            except Exception as exc:  # database away: wait and look again
                log.warning("cannot read the queue: %s", exc, extra={"event": "queue.read_failed"})
                self._stopping.wait(backoff(self.settings.job_retry_delay_s, 1))
                continue
            if request_id is None:
                with self._wakeup:
                    self._wakeup.wait(POLL_S)
                continue
            executed = self.executor.execute(request_id, worker, on_hooks=self._track, last_error=retry_error)
            # One more than the database's own count allows: where it can record, its "exhausted" comes first.
            if executed.outcome == "retry" and retries + 1 > self.settings.job_max_attempts:
                log.error("giving up on %s after %d attempts the database would not record: %s", request_id,
                          retries + 1, executed.error, extra={"event": "job.abandoned", "request_id": request_id})
                self._abandoned[request_id] = f"{retries + 1} attempts, the last: {executed.error}"
                retry_id, retry_error, retries = None, None, 0
            elif executed.outcome == "retry":
                retries += 1
                retry_id, retry_error = request_id, executed.error
                self._stopping.wait(backoff(self.settings.job_retry_delay_s, retries))
            else:
                retry_id, retry_error, retries = None, None, 0

    def wait(self, request_id: str, timeout: float) -> RequestStatus:
        status = super().wait(request_id, timeout)
        why = self._abandoned.get(request_id)
        if why is not None and status.state not in TERMINAL_STATES:
            raise DatabaseError(
                f"request {request_id} could not be finished: the database would not record it ({why}); the"
                f" trail still shows it {status.state}. Fix the database (read-only? full?), then run"
                f" `brandgate status {request_id}`"
            )
        return status

    def close(self) -> None:
        """Stop taking work; a job in progress finishes first (or its lease lets another take it)."""
        self._stopping.set()
        with self._wakeup:
            self._wakeup.notify_all()
        for thread in self._threads:
            if thread.is_alive():
                thread.join(timeout=60)
        self.parts.close()
        super().close()

"""The Celery app: Redis broker, late acknowledgement, prefetch 1, preview and export queues.

A message carries only the request ID; the database holds the request, its lease and its
attempts. A worker process that dies mid-job (OOM killer, SIGKILL) is noticed by Celery's
parent process, which puts the message back (`reject_on_worker_lost`); the next delivery
sees the dead owner, counts the attempt and resumes after the last recorded image.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from dataclasses import dataclass
from typing import Any

from celery import Celery, Task
from celery.signals import worker_process_init, worker_ready
from kombu.entity import Queue

from brandgate.db.engine import make_sessionmaker, process_engine
from brandgate.jobs.execution import JobExecutor, backoff
from brandgate.jobs.state import orphaned, worker_identity
from brandgate.metrics import bind_metrics_port, get_metrics
from brandgate.requests.run import WorkerParts
from brandgate.settings import Settings

log = logging.getLogger(__name__)

TASK_NAME = "brandgate.run_request"
HEALTH_COMMAND = "brandgate_worker"
QUEUES = ("preview", "export")
# A message that arrives before its request's transaction commits waits this long for the row.
MISSING_RETRIES = 40
MISSING_DELAY_S = 0.25


def build_celery(settings: Settings) -> Celery:
    """One app per settings; built on demand, never at import."""
    app = Celery("brandgate", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_queues=tuple(Queue(name) for name in QUEUES),  # type: ignore[no-untyped-call]
        task_default_queue="preview",
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        # Socket timeouts: a TLS handshake (rediss://) against a plain Redis otherwise waits forever.
        broker_transport_options={
            "visibility_timeout": settings.broker_visibility_timeout_s,
            "socket_connect_timeout": 5,
            "socket_timeout": 10,
        },
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=3,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        enable_utc=True,
    )
    app.conf.brandgate_settings = settings

    @app.task(  # type: ignore[untyped-decorator]
        name=TASK_NAME, bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None
    )
    def run_request(task: Task, request_id: str, last_error: str | None = None) -> str:  # type: ignore[type-arg]
        runtime = worker_runtime(settings)
        executed = runtime.executor.execute(request_id, worker_identity(), last_error=last_error)
        outcome = executed.outcome
        retries = task.request.retries or 0
        if outcome == "retry":
            raise task.retry(
                kwargs={"last_error": executed.error},
                countdown=backoff(settings.job_retry_delay_s, retries + 1),
            )
        if outcome == "busy":
            # Someone else holds a fresh lease; look again once it would have gone stale.
            raise task.retry(countdown=settings.job_lease_s)
        if outcome == "missing":
            if retries < MISSING_RETRIES:
                raise task.retry(countdown=MISSING_DELAY_S)
            log.error("no request %s in the database; dropping its message", request_id,
                      extra={"event": "job.dropped", "request_id": request_id})
        return outcome

    return app


@dataclass
class WorkerRuntime:
    """What one worker process builds after the fork: engine, parts (models, signer), job executor."""

    settings: Settings
    executor: JobExecutor


_runtime_lock = threading.Lock()
_runtime: WorkerRuntime | None = None


def worker_runtime(settings: Settings) -> WorkerRuntime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            sessions = make_sessionmaker(process_engine(settings))
            metrics = get_metrics()
            metrics.watch_jobs(sessions)
            parts = WorkerParts.from_settings(settings, sessions)
            _runtime = WorkerRuntime(settings, JobExecutor(parts, metrics))
        return _runtime


@worker_process_init.connect  # type: ignore[untyped-decorator]
def _fresh_process(**_: Any) -> None:
    """A forked pool process must not reuse its parent's connections or models."""
    global _runtime
    _runtime = None


def serve_metrics_in_pool(settings: Settings, concurrency: int) -> list[int]:
    """Each pool process (one per GPU) serves its own /metrics, on a port of its own.

    The ports are bound here, in the worker's main process, before the pool forks: pool
    process k (billiard's index, kept by its replacement) serves on the k-th. A port another
    worker on this host holds is skipped, so two workers are both scraped; when no port is
    left in BRANDGATE_METRICS_PORT … + METRICS_PORT_SPAN the worker refuses to start.
    """
    if not settings.metrics_port:
        return []
    listeners: list[socket.socket] = []
    last = settings.metrics_port + settings.metrics_port_span - 1
    for _ in range(concurrency):
        start = listeners[-1].getsockname()[1] + 1 if listeners else settings.metrics_port
        listeners.append(bind_metrics_port(start, last - start + 1))
    ports = [int(listener.getsockname()[1]) for listener in listeners]
    log.info("metrics of pool process(es) on port(s) %s", ", ".join(map(str, ports)),
             extra={"event": "metrics.ports", "ports": ports, "wanted_port": settings.metrics_port})

    @worker_process_init.connect(weak=False)  # type: ignore[untyped-decorator]
    def _serve(**_: Any) -> None:
        from billiard.process import current_process

        index = int(getattr(current_process(), "index", 0) or 0)
        get_metrics().serve_on(listeners[index % len(listeners)], wanted=settings.metrics_port + index)

    return ports


def answer_health(queues: tuple[str, ...], metrics_ports: list[int]) -> None:
    """Register the `brandgate_worker` remote-control command: `brandgate health` broadcasts it and
    each worker that is consuming answers with its queues and metrics ports."""
    from celery.worker.control import inspect_command

    @inspect_command(name=HEALTH_COMMAND)  # type: ignore[untyped-decorator]
    def _describe(state: Any, **_: Any) -> dict[str, Any]:
        return {"queues": list(queues), "metrics_ports": metrics_ports, "pid": os.getpid()}


def requeue_orphans_on_start(app: Celery, settings: Settings, queues: tuple[str, ...]) -> None:
    """When a worker comes up, re-send running jobs whose worker is gone (lost messages included)."""

    @worker_ready.connect(weak=False)  # type: ignore[untyped-decorator]
    def _requeue(**_: Any) -> None:
        try:
            with make_sessionmaker(process_engine(settings))() as session:
                found = [(q, rid) for q in queues for rid in orphaned(session, settings, q)]
        except Exception as exc:
            log.warning("cannot look for orphaned jobs: %s", exc, extra={"event": "job.orphan_scan_failed"})
            return
        for queue, request_id in found:
            app.send_task(TASK_NAME, args=[request_id], queue=queue)
            log.warning("re-sent orphaned job", extra={"event": "job.orphan_requeued",
                                                       "request_id": request_id, "queue": queue})

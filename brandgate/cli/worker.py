"""`brandgate worker`: the long-running process that runs jobs (one per GPU)."""

from __future__ import annotations

import logging
import signal
import threading

import click

from brandgate.cli.output import emit_json, say
from brandgate.db.engine import process_engine
from brandgate.db.schema import ensure_current
from brandgate.errors import UserError
from brandgate.logs import configure_logging
from brandgate.settings import Settings, get_settings

log = logging.getLogger(__name__)


@click.command("worker")
@click.option("--queues", "queues", default="preview", show_default=True,
              help="preview, export, or both as 'preview,export'.")
@click.option("--concurrency", type=int, default=1, show_default=True,
              help="Job processes (Celery) or threads (local); keep 1 per GPU.")
@click.option("--hostname", default=None, help="Celery node name (default: QUEUES@host).")
def worker(queues: str, concurrency: int, hostname: str | None) -> None:
    """Run jobs from the queue named by BRANDGATE_QUEUE, serving /metrics on BRANDGATE_METRICS_PORT."""
    settings = get_settings()
    configure_logging(settings.log_format)
    names = tuple(q.strip() for q in queues.split(",") if q.strip())
    unknown = [q for q in names if q not in ("preview", "export")]
    if not names or unknown:
        raise UserError(f"--queues: {', '.join(unknown) or 'nothing'} is not preview or export")
    if concurrency < 1:
        raise UserError("--concurrency: give 1 or more")
    if settings.queue == "celery":
        _celery_worker(names, concurrency, hostname)
    else:
        _local_worker(concurrency)


def _celery_worker(queues: tuple[str, ...], concurrency: int, hostname: str | None) -> None:
    # Lazy: celery, kombu and redis load only for a worker of the celery backend.
    from brandgate.jobs.celery_app import build_celery, requeue_orphans_on_start, serve_metrics_in_pool

    settings = get_settings()
    check_database(settings)
    app = build_celery(settings)
    serve_metrics_in_pool(settings)
    requeue_orphans_on_start(app, settings, queues)
    app.worker_main([
        "worker",
        "--queues", ",".join(queues),
        "--concurrency", str(concurrency),
        "--pool", "prefork",
        "--hostname", hostname or f"{'-'.join(queues)}@%h",
        "--loglevel", "INFO",
        "--without-gossip",
        "--without-mingle",
    ])


def check_database(settings: Settings) -> None:
    """Reachable and migrated, or a DatabaseError saying what to do."""
    ensure_current(process_engine(settings))


def _local_worker(threads: int) -> None:
    # Lazy: the local pool brings the request run and every check; `health` needs neither.
    from brandgate.jobs.local import LocalQueue

    settings = get_settings()
    queue = LocalQueue(settings, workers=threads)
    if settings.metrics_port:
        queue.metrics.serve(settings.metrics_port)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    log.info("local worker running", extra={"event": "worker.started", "threads": threads})
    while not stop.wait(1.0):
        pass
    queue.close()


@click.command("health")
@click.option("--json", "as_json", is_flag=True)
def health(as_json: bool) -> None:
    """Exit 0 when the database is reachable and migrated (and the broker answers, for Celery)."""
    settings = get_settings()
    check_database(settings)
    report = {"database": "ok", "broker": None}
    if settings.queue == "celery":
        # Lazy: celery, kombu and redis load only when the celery backend is configured.
        from brandgate.jobs.celery_queue import CeleryQueue

        front = CeleryQueue(settings)
        try:
            front.check_broker()
        finally:
            front.close()
        report["broker"] = "ok"
    if as_json:
        emit_json(report)
    else:
        say("healthy: " + ", ".join(f"{k} {v}" for k, v in report.items() if v))


def register(cli: click.Group) -> None:
    cli.add_command(worker)
    cli.add_command(health)

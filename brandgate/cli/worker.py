"""`brandgate worker`: the long-running process that runs jobs (one per GPU)."""

from __future__ import annotations

import logging
import signal
import sys
import threading

import click

from brandgate.cli.output import emit_json, say
from brandgate.db.engine import process_engine
from brandgate.db.schema import ensure_current
from brandgate.errors import EXIT_FAILURE, BrandgateError, UserError
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
    from brandgate.jobs.celery_app import answer_health, build_celery, requeue_orphans_on_start, serve_metrics_in_pool

    settings = get_settings()
    check_database(settings)
    app = build_celery(settings)
    answer_health(queues, serve_metrics_in_pool(settings, concurrency))
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
    from brandgate.metrics import bind_metrics_port

    settings = get_settings()
    # the port first: a worker that would serve no metrics refuses before it takes any job
    port = bind_metrics_port(settings.metrics_port, settings.metrics_port_span) if settings.metrics_port else None
    queue = LocalQueue(settings, workers=threads)
    if port is not None:
        queue.metrics.serve_on(port, wanted=settings.metrics_port)
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
    """Exit 0 when every check holds: database reachable and migrated, and for Celery the broker
    answers and a worker consumes each queue; the signing keys load and sign; disk is free."""
    # Lazy: the checks bring celery and the C2PA SDK, which `worker` of the local backend does not need.
    from brandgate.health import run_checks

    settings = get_settings()
    checks = run_checks(settings)
    healthy = all(c.ok for c in checks)
    by_name = {c.name: c for c in checks}
    if as_json:
        broker = by_name.get("broker")
        emit_json(
            {
                "healthy": healthy,
                "database": "ok" if by_name["database"].ok else "failed",
                "broker": None if settings.queue != "celery" else ("ok" if broker and broker.ok else "failed"),
                "checks": [c.to_json() for c in checks],
            }
        )
    else:
        for check in checks:
            say(check.line())
    if not healthy:
        failed = ", ".join(c.name for c in checks if not c.ok)
        if as_json:
            sys.exit(EXIT_FAILURE)
        raise Unhealthy(f"unhealthy: {failed}")
    if not as_json:
        say("healthy")


class Unhealthy(BrandgateError):
    """A check of `health` failed; its line says which and why."""


def register(cli: click.Group) -> None:
    cli.add_command(worker)
    cli.add_command(health)

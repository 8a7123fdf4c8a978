"""Prometheus metrics: jobs by state, queue depth, stage latency, check failures, cost.

Jobs by state and queue depth are read from the database at scrape time, so every process
that serves /metrics (each worker, the bot) reports the same numbers. The rest are counted
by the process that did the work.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterator
from http.server import ThreadingHTTPServer

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import MetricsHandler
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from brandgate.db.models import Request
from brandgate.errors import BrandgateError
from brandgate.requests.states import STATES

log = logging.getLogger(__name__)

JOB_STATES = STATES
STAGE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)


class JobCollector(Collector):
    """`brandgate_jobs{state}` and `brandgate_queue_depth{queue}` from the requests table."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    def collect(self) -> Iterator[GaugeMetricFamily]:
        jobs = GaugeMetricFamily("brandgate_jobs", "Requests by state.", labels=["state"])
        depth = GaugeMetricFamily("brandgate_queue_depth", "Requests waiting, by queue.", labels=["queue"])
        try:
            with self._sessions() as session:
                by_state = dict(
                    session.execute(select(Request.state, func.count()).group_by(Request.state)).tuples().all()
                )
                by_queue = dict(
                    session.execute(
                        select(Request.queue, func.count())
                        .where(Request.state == "queued")
                        .group_by(Request.queue)
                    ).tuples().all()
                )
        except Exception as exc:  # a scrape must answer even while the database is away
            log.warning("metrics: cannot read job counts: %s", exc, extra={"event": "metrics.db_error"})
            return
        for state in JOB_STATES:
            jobs.add_metric([state], by_state.get(state, 0))
        for queue in ("preview", "export"):
            depth.add_metric([queue], by_queue.get(queue, 0))
        yield jobs
        yield depth


class Metrics:
    """The metrics one process reports; `observe_*` are called by the job runner."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.stage_seconds = Histogram(
            "brandgate_stage_seconds",
            "Wall time of each pipeline stage.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=self.registry,
        )
        self.check_failures = Counter(
            "brandgate_check_failures_total",
            "Checks that failed or errored, by check ID and status.",
            ["check_id", "status"],
            registry=self.registry,
        )
        self.images = Counter(
            "brandgate_images_total", "Images produced, by verdict.", ["verdict"], registry=self.registry
        )
        self.cost = Counter(
            "brandgate_cost_usd_total", "GPU cost spent, by kit.", ["kit"], registry=self.registry
        )
        self.gpu_seconds = Counter(
            "brandgate_gpu_seconds_total", "GPU (or CPU) seconds spent generating.", ["kit"],
            registry=self.registry,
        )
        self.finished = Counter(
            "brandgate_jobs_finished_total", "Jobs that ended, by final state.", ["state"],
            registry=self.registry,
        )
        self._job_collector: JobCollector | None = None
        self.port: int | None = None  # where this process serves /metrics, once it does

    def watch_jobs(self, sessions: sessionmaker[Session]) -> None:
        """Report jobs by state and queue depth from this database (once per process)."""
        if self._job_collector is None:
            self._job_collector = JobCollector(sessions)
            self.registry.register(self._job_collector)

    def stage(self, stage: str, seconds: float) -> None:
        self.stage_seconds.labels(stage=stage).observe(seconds)

    def check_failed(self, check_id: str, status: str) -> None:
        self.check_failures.labels(check_id=check_id, status=status).inc()

    def image(self, verdict: str) -> None:
        self.images.labels(verdict=verdict).inc()

    def spent(self, kit: str, gpu_seconds: float, cost_usd: float) -> None:
        if gpu_seconds > 0:
            self.gpu_seconds.labels(kit=kit).inc(gpu_seconds)
        if cost_usd > 0:
            self.cost.labels(kit=kit).inc(cost_usd)

    def job_finished(self, state: str) -> None:
        self.finished.labels(state=state).inc()

    def exposition(self) -> bytes:
        """The text format a Prometheus scrape gets (the bot's /metrics serves this)."""
        return bytes(generate_latest(self.registry))

    def serve(self, port: int, addr: str = "0.0.0.0", span: int = 1) -> int:
        """Serve /metrics on the first free port of `port` … `port + span - 1`; returns the port taken."""
        listener = bind_metrics_port(port, span, addr)
        return self.serve_on(listener, wanted=port)

    def serve_on(self, listener: socket.socket, wanted: int | None = None) -> int:
        """Serve /metrics on a socket already bound and listening (a Celery pool process is handed one)."""
        server = ThreadingHTTPServer(listener.getsockname()[:2], MetricsHandler.factory(self.registry),
                                     bind_and_activate=False)
        server.socket.close()
        server.socket = listener
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
        port = int(listener.getsockname()[1])
        self.port = port
        announce_metrics_port(port, wanted)
        return port


class MetricsPortBusy(BrandgateError):
    """Every port a process may serve /metrics on is taken."""


def bind_metrics_port(port: int, span: int, addr: str = "0.0.0.0") -> socket.socket:
    """A listening socket on the first free port of `port` … `port + span - 1`, or MetricsPortBusy.

    Two workers on one host each take their own port this way instead of the second serving
    nothing; which one each took is logged and answered to `brandgate health`.
    """
    last = min(port + max(span, 1) - 1, 65535)
    for candidate in range(port, last + 1):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        # a restarted worker gets its old port back although scrapes left it in TIME_WAIT;
        # a port another process listens on stays refused (that takes SO_REUSEPORT)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind((addr, candidate))
            listener.listen(64)
        except OSError:
            listener.close()
            continue
        listener.set_inheritable(True)
        return listener
    raise MetricsPortBusy(
        f"metrics ports {port}-{last} are all taken; give each worker its own BRANDGATE_METRICS_PORT "
        "(or a wider BRANDGATE_METRICS_PORT_SPAN)"
    )


def announce_metrics_port(port: int, wanted: int | None = None) -> None:
    extra = {"event": "metrics.serving", "port": port, "pid": os.getpid()}
    if wanted is not None and port != wanted:
        log.warning("metrics port %d was taken; serving /metrics on :%d instead", wanted, port,
                    extra={**extra, "wanted_port": wanted})
    else:
        log.info("metrics on :%d/metrics", port, extra=extra)


_lock = threading.Lock()
_metrics: Metrics | None = None


def get_metrics() -> Metrics:
    """The process's metrics, made on first use (never at import)."""
    global _metrics
    with _lock:
        if _metrics is None:
            _metrics = Metrics()
        return _metrics

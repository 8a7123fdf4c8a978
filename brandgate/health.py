"""What `brandgate health` checks: database, broker, consuming workers, signing keys, free disk; each bounded."""

from __future__ import annotations

import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from brandgate.db.engine import process_engine
from brandgate.db.schema import ensure_current
from brandgate.settings import Settings


@dataclass(frozen=True)
class HealthCheck:
    """One line of `health`: what was checked, whether it held, and what was seen (or what to do)."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{self.name}: {'ok' if self.ok else 'FAILED'}: {self.detail}"

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "detail": self.detail}


class _Unhealthy(Exception):
    """A check's own finding (as opposed to an error it ran into)."""


def bounded(name: str, check: Callable[[], str], timeout_s: float) -> HealthCheck:
    """Run `check` in a daemon thread and give up after `timeout_s`: a broker that never answers (a
    `rediss://` URL against a plain Redis waits forever for its TLS handshake) is a failed line,
    not a hung command."""
    outcome: list[HealthCheck] = []

    def run() -> None:
        try:
            outcome.append(HealthCheck(name, True, check()))
        except _Unhealthy as exc:
            outcome.append(HealthCheck(name, False, str(exc)))
        except Exception as exc:  # any failure of the thing checked is the finding itself
            outcome.append(HealthCheck(name, False, _one_line(exc)))

    thread = threading.Thread(target=run, name=f"health-{name}", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if outcome:
        return outcome[0]
    return HealthCheck(name, False, f"no answer within {timeout_s:g} s")


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:300]


def run_checks(settings: Settings) -> list[HealthCheck]:
    """Every check, always all of them, so one run of `health` names every problem."""
    timeout = settings.health_timeout_s
    _load_libraries(settings)
    checks = [bounded("database", lambda: _database(settings), timeout)]
    if settings.queue == "celery":
        broker = bounded("broker", lambda: _broker(settings), timeout)
        if not broker.ok and broker.detail.startswith("no answer") and settings.broker_url.startswith("rediss://"):
            broker = HealthCheck(
                "broker", False, f"{broker.detail}: a rediss:// (TLS) URL against a Redis that does not "
                "speak TLS never finishes its handshake; check the scheme and port of BRANDGATE_BROKER_URL"
            )
        checks.append(broker)
        if broker.ok:
            # a broadcast waits its whole timeout for replies; the thread gets a little more
            checks.append(bounded("workers", lambda: _workers(settings, timeout / 2), timeout))
        else:
            checks.append(HealthCheck("workers", False, "not checked: the broker did not answer"))
    else:
        checks.append(
            HealthCheck("workers", True, "not checked: BRANDGATE_QUEUE=local runs jobs inside each command")
        )
    checks.append(bounded("signing keys", lambda: _signing_keys(settings), timeout))
    checks.append(bounded("disk", lambda: _disk(settings), timeout))
    return checks


def _load_libraries(settings: Settings) -> None:
    """Import what the checks use before any clock starts: the bound is on the services' answers,
    and on a busy host importing celery alone can take longer than a check may."""
    if settings.queue == "celery":
        # Lazy: celery, kombu and redis load only when the celery backend is configured.
        import brandgate.jobs.celery_queue  # noqa: F401
    # Lazy: the C2PA SDK loads for `health` only, not for every command of this module's callers.
    import pipeline.provenance.signer  # noqa: F401


def _database(settings: Settings) -> str:
    ensure_current(process_engine(settings))
    return "reachable and migrated"


def _broker(settings: Settings) -> str:
    # Lazy: celery, kombu and redis load only when the celery backend is configured.
    from brandgate.jobs.celery_queue import CeleryQueue, redact

    front = CeleryQueue(settings)
    try:
        front.check_broker()
    finally:
        front.close()
    return f"answers at {redact(settings.broker_url)}"


def _workers(settings: Settings, wait_s: float) -> str:
    """Broadcast `brandgate_worker`: a worker that answers is consuming from the broker right now."""
    # Lazy: as above, only for the celery backend.
    from brandgate.jobs.celery_app import HEALTH_COMMAND, QUEUES, build_celery

    app = build_celery(settings)
    try:
        replies = app.control.broadcast(HEALTH_COMMAND, reply=True, timeout=wait_s) or []
    finally:
        app.close()
    nodes: dict[str, dict[str, Any]] = {}
    for reply in replies:
        for node, answer in (reply or {}).items():
            if isinstance(answer, dict) and "queues" in answer:
                nodes[str(node)] = answer
    described = "; ".join(
        f"{node} ({', '.join(a.get('queues') or [])}; metrics "
        + (", ".join(f":{p}" for p in a.get("metrics_ports") or []) or "off")
        + ")"
        for node, a in sorted(nodes.items())
    )
    consumed = {q for a in nodes.values() for q in a.get("queues") or []}
    missing = [q for q in QUEUES if q not in consumed]
    if not nodes:
        raise _Unhealthy(
            f"no worker answered within {wait_s:g} s; start `brandgate worker --queues preview` and "
            "`brandgate worker --queues export` against this broker"
        )
    if missing:
        raise _Unhealthy(
            f"no worker consumes the {' and '.join(missing)} queue ({described}); start "
            + " and ".join(f"`brandgate worker --queues {q}`" for q in missing)
        )
    return f"{len(nodes)} consuming: {described}"


def _signing_keys(settings: Settings) -> str:
    """The signer is built as a worker builds it, which signs and reads back a probe image."""
    # Lazy: the C2PA SDK loads for this check only.
    from pipeline.keys import key_paths
    from pipeline.provenance.signer import Signer

    Signer.from_settings(settings)
    return f"the key and chain load and sign a probe image (chain {key_paths(settings).signing_chain.name})"


def _disk(settings: Settings) -> str:
    places = {"artifacts": Path(settings.artifacts_dir)}
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        places["database"] = Path(url.database)
    seen, low = [], []
    for what, path in places.items():
        free = shutil.disk_usage(_existing(path)).free
        seen.append(f"{what} {_gib(free)} free")
        if free < settings.health_min_free_bytes:
            low.append(f"{what} has {_gib(free)} free, under {_gib(settings.health_min_free_bytes)}")
    if low:
        raise _Unhealthy("; ".join(low) + " (BRANDGATE_HEALTH_MIN_FREE_BYTES); free space before new images fail")
    return ", ".join(seen)


def _existing(path: Path) -> Path:
    """The nearest folder that exists: the artifacts folder is made on first use."""
    path = path.resolve()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _gib(size: int) -> str:
    return f"{size / 1024**3:.1f} GiB"

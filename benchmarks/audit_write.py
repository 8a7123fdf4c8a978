"""Audit trail figures: chained events appended per second (4 writers) and the cost of a 100 000-image export.

Run: .venv/bin/python benchmarks/audit_write.py [--events 400] [--images 100000] [--no-postgres]
PostgreSQL is expected on 127.0.0.1:5432 (user postgres, trust); a scratch database is made and dropped.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from brandgate.db.audit import append_event, verify_chain  # noqa: E402
from brandgate.db.engine import make_engine, make_sessionmaker  # noqa: E402
from brandgate.db.models import CheckResultRow, Image, Request  # noqa: E402
from brandgate.db.schema import upgrade  # noqa: E402
from brandgate.settings import Settings  # noqa: E402

WRITERS = 4
CHECKS = (("BG101", "fail", "flag"), ("BG201", "pass", "flag"), ("BG301", "pass", "flag"), ("BG601", "pass", "reject"))


def _writer(url: str, count: int, per_transaction: int, start: multiprocessing.synchronize.Barrier) -> None:
    engine = make_engine(Settings(database_url=url))
    sessions = make_sessionmaker(engine)
    with engine.connect():
        pass  # connected before the clock starts
    start.wait()
    for first in range(0, count, per_transaction):
        with sessions.begin() as session:
            for n in range(first, min(count, first + per_transaction)):
                append_event(
                    session,
                    actor=f"writer-{os.getpid()}",
                    kind="image.checked",
                    subject_type="image",
                    subject_id=uuid.uuid4().hex,
                    payload={"n": n, "verdict": "pass", "cost_usd": 0.0123},
                )
    engine.dispose()


def events_per_second(url: str, events_per_writer: int, per_transaction: int) -> float:
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WRITERS + 1)
    workers = [
        context.Process(target=_writer, args=(url, events_per_writer, per_transaction, start)) for _ in range(WRITERS)
    ]
    for worker in workers:
        worker.start()
    start.wait()  # every writer has imported and connected: start the clock
    began = time.perf_counter()
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit(f"a writer failed (exit {worker.exitcode})")
    return WRITERS * events_per_writer / (time.perf_counter() - began)


def seed_images(url: str, images: int) -> None:
    """Bulk rows the way the pipeline records them: 8 images per request, 4 check rows per image."""
    engine = make_engine(Settings(database_url=url))
    base = datetime(2026, 11, 1, tzinfo=UTC)
    batch = 5000
    with engine.begin() as connection:
        for first in range(0, images, batch):
            requests, rows, checks = [], [], []
            for n in range(first, min(images, first + batch)):
                request_id = f"req{n // 8:08d}"
                when = base + timedelta(seconds=n)
                if n % 8 == 0:
                    requests.append(dict(
                        id=request_id, idempotency_key=None, requested_by="U0BENCH", source="slack", channel="C1",
                        kit_name="acme" if n % 16 else "nordwind", kit_hash="a" * 64,
                        brief={"kit": "acme", "prompt": "five red apples on a table", "headline": "Fresh Deals"},
                        brief_hash="b" * 64, profile_name="tiny", profile_hash=None, seed=n, n_images=8,
                        queue="preview", state="done", attempts=1, stage_timings={}, gpu_seconds=12.0,
                        cost_usd=0.1, created_at=when,
                    ))  # fmt: skip
                image_id = f"img{n:010d}"
                rows.append(dict(
                    id=image_id, request_id=request_id, index=n % 8, kind="preview", sha256=f"{n:064x}",
                    media_type="image/png", width=512, height=512, model_id="brandgate/tiny-sd", model_revision="r1",
                    generation_config={"steps": 4, "guidance": 5.0}, seed=n, timings={"generate": 1.5},
                    gpu_seconds=1.5, cost_usd=0.00104, verdict="flag", created_at=when,
                ))  # fmt: skip
                for check_id, status, severity in CHECKS:
                    checks.append(dict(
                        image_id=image_id, check_id=check_id, name=f"check-{check_id}", status=status,
                        severity=severity, confidence=0.93, message=f"{check_id}: {status}",
                        evidence={"similarity": 0.91}, duration_ms=12.5,
                    ))  # fmt: skip
            if requests:
                connection.execute(insert(Request.__table__), requests)
            connection.execute(insert(Image.__table__), rows)
            connection.execute(insert(CheckResultRow.__table__), checks)
    engine.dispose()


EXPORT_CHILD = """
import resource, sys, time
from pathlib import Path
from brandgate.artifacts import atomic_file
from brandgate.db.engine import make_engine
from brandgate.db.export import FORMATS, export_records
from brandgate.settings import Settings
engine = make_engine(Settings(database_url=sys.argv[1]))
began = time.perf_counter()
with atomic_file(Path(sys.argv[3]), "w") as handle:
    count = FORMATS[sys.argv[2]](export_records(engine), handle)
print(count, time.perf_counter() - began, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def export_cost(url: str, fmt: str, out: Path) -> tuple[float, float, float, int]:
    """Seconds exporting (after imports), seconds of the whole `brandgate audit export` command, peak RSS MB."""
    measured = subprocess.run(
        [sys.executable, "-c", EXPORT_CHILD, url, fmt, str(out)], cwd=ROOT, check=True, capture_output=True, text=True
    )
    count, seconds, peak_mb = measured.stdout.split()
    env = {**os.environ, "BRANDGATE_DATABASE_URL": url}
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "brandgate", "audit", "export", "--format", fmt, "--out", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return float(seconds), time.perf_counter() - began, float(peak_mb), int(count)


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as admin:
        admin.execute(sql)


def run(name: str, url: str, args: argparse.Namespace, scratch: Path) -> None:
    upgrade(Settings(database_url=url))
    for per_transaction in (1, 10):
        rate = events_per_second(url, args.events, per_transaction)
        print(f"{name}: {rate:,.0f} events/s appended, chained, {WRITERS} concurrent writer processes, "
              f"{per_transaction} event{'s' if per_transaction > 1 else ''} per transaction")  # fmt: skip
    engine = make_engine(Settings(database_url=url))
    report = verify_chain(engine)
    engine.dispose()
    print(f"{name}: chain after the runs: {report.events} events, intact={report.intact}")
    began = time.perf_counter()
    seed_images(url, args.images)
    print(f"{name}: seeded {args.images:,} images x {len(CHECKS)} checks in {time.perf_counter() - began:.1f} s")
    for fmt in ("jsonl", "csv"):
        seconds, command_seconds, peak_mb, count = export_cost(url, fmt, scratch / f"{name}.{fmt}")
        print(f"{name}: export {fmt} of {count:,} images: {seconds:.1f} s exporting, peak RSS {peak_mb:.0f} MB; "
              f"whole `brandgate audit export` command {command_seconds:.1f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=400, help="events per writer per run")
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--no-postgres", action="store_true")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="brandgate-bench-") as folder:
        scratch = Path(folder)
        run("sqlite", f"sqlite:///{scratch / 'bench.db'}", args, scratch)
        if not args.no_postgres:
            name = f"brandgate_bench_{uuid.uuid4().hex[:10]}"
            _pg_admin(f'CREATE DATABASE "{name}"')
            try:
                run("postgresql", f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}", args, scratch)
            finally:
                _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

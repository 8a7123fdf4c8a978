"""Audit trail figures: appends per second (4 writers), with and without the bindings, and a 100 000-image export.

Images are recorded as the pipeline records them: the image row, one check row per built-in
check (14), and the `image.created` event, in one transaction. "With bindings" the event
carries the digest of those rows (`brandgate.db.evidence.record_image`); "without" it does not.
Both run on the guarded schema at the same concurrency, interleaved, and the ratio of their
medians is printed.

Run: .venv/bin/python benchmarks/audit_write.py [--events 400] [--images-per-writer 150] [--rounds 3]
     [--images 100000] [--no-postgres] [--events-only]
PostgreSQL is expected on 127.0.0.1:5432 (user postgres, trust); a scratch database is made and dropped.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from brandgate.db.audit import GENESIS_HASH, append_event, event_hash, verify_chain  # noqa: E402
from brandgate.db.engine import make_engine, make_sessionmaker  # noqa: E402
from brandgate.db.evidence import (  # noqa: E402
    DIGEST_KEY,
    image_digest,
    record_image,
    request_digest,
    seal_image,
)
from brandgate.db.models import PHASH_BAND_COLUMNS, AuditEvent, CheckResultRow, Image, Request, phash_bands  # noqa: E402
from brandgate.db.schema import upgrade  # noqa: E402
from brandgate.settings import Settings  # noqa: E402
from policies.checks import builtin_specs  # noqa: E402

WRITERS = 4
# Every built-in check writes a row for every image, skipped or not: like for like with the pipeline.
CHECKS = tuple(
    (spec.id, spec.name, "fail" if n == 0 else "skip" if n == 7 else "pass", "reject" if spec.id >= "BG6" else "flag")
    for n, spec in enumerate(builtin_specs())
)


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


def _timed_writers(target: Any, args: tuple[Any, ...], done: int) -> float:
    """Start WRITERS processes running target(*args, barrier); the clock runs from the barrier to the last exit."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(WRITERS + 1)
    workers = [context.Process(target=target, args=(*args, start)) for _ in range(WRITERS)]
    for worker in workers:
        worker.start()
    start.wait()  # every writer has imported and connected: start the clock
    began = time.perf_counter()
    for worker in workers:
        worker.join()
        if worker.exitcode != 0:
            raise SystemExit(f"a writer failed (exit {worker.exitcode})")
    return WRITERS * done / (time.perf_counter() - began)


def events_per_second(url: str, events_per_writer: int, per_transaction: int) -> float:
    return _timed_writers(_writer, (url, events_per_writer, per_transaction), events_per_writer)


def _image_rows(n: int, request_id: str, when: datetime) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    image_id = uuid.uuid4().hex if n < 0 else f"img{n:010d}"
    image = dict(
        id=image_id, request_id=request_id, index=max(n, 0) % 8, kind="preview", parent_image_id=None,
        sha256=uuid.uuid4().hex * 2, phash="8f3a5c7e9b1d2f40", media_type="image/png", width=512, height=512,
        model_id="brandgate/tiny-sd", model_revision="r1",
        generation_config={"steps": 4, "guidance": 5.0, "seed": abs(n), "model": {"content_hash": "c" * 64}},
        seed=abs(n), timings={"generating": 1.5, "checking": 0.4, "signing": 0.05}, gpu_seconds=1.5,
        peak_memory_bytes=2_000_000_000, memory_kind="cuda", cost_usd=0.00104, verdict="flag",
        manifest_sha256="d" * 64, created_at=when,
        **dict(zip(PHASH_BAND_COLUMNS, phash_bands("8f3a5c7e9b1d2f40"), strict=True)),
    )  # fmt: skip
    checks = [
        dict(image_id=image_id, check_id=check_id, name=name, status=status, severity=severity, confidence=0.93,
             message=f"{check_id} {name}: {status}", evidence={"similarity": 0.91, "box": [12, 40, 200, 96]},
             duration_ms=12.5)
        for check_id, name, status, severity in CHECKS
    ]  # fmt: skip
    return image, checks


def _image_writer(url: str, count: int, bound: bool, start: Any) -> None:
    """Record `count` images, one transaction each, the way the pipeline does."""
    engine = make_engine(Settings(database_url=url))
    sessions = make_sessionmaker(engine)
    request_id = f"bench{os.getpid()}{uuid.uuid4().hex[:8]}"[:32]
    with sessions.begin() as session:
        session.add(Request(id=request_id, requested_by="U0BENCH", kit_name="acme", kit_hash="a" * 64,
                            brief={"prompt": "apples"}, brief_hash="b" * 64, profile_name="tiny", seed=1,
                            n_images=count))  # fmt: skip
    start.wait()
    for n in range(count):
        image, checks = _image_rows(-1, request_id, datetime.now(UTC))
        image["index"] = n
        payload = {"request_id": request_id, "index": n, "sha256": image["sha256"], "verdict": "flag",
                   "failed_checks": ["BG101"], "seed": 1, "gpu_seconds": 1.5, "cost_usd": 0.00104}  # fmt: skip
        row, rows = Image(**image), [CheckResultRow(**c) for c in checks]
        # as the pipeline does: sealed before the transaction, so no hashing under the write lock
        digest = seal_image(row, rows) if bound else None
        with sessions.begin() as session:
            if bound:
                record_image(session, row, rows, actor="worker", kind="image.created", payload=payload,
                             digest=digest)  # fmt: skip
            else:
                session.add(row)
                session.flush()
                session.add_all(rows)
                session.flush()
                append_event(session, actor="worker", kind="image.created", subject_type="image",
                             subject_id=row.id, payload=payload)  # fmt: skip
    engine.dispose()


def images_per_second(url: str, per_writer: int, bound: bool) -> float:
    return _timed_writers(_image_writer, (url, per_writer, bound), per_writer)


def bindings_cost(name: str, url: str, per_writer: int, rounds: int) -> None:
    """Interleaved rounds without and with the bindings, so machine load and trail size hit both alike."""
    rates: dict[bool, list[float]] = {False: [], True: []}
    for round_ in range(rounds):
        # ABBA: the trail grows as rounds run, so neither side always runs on the bigger one
        for bound in (False, True) if round_ % 2 == 0 else (True, False):
            rates[bound].append(images_per_second(url, per_writer, bound))
    without, with_ = statistics.median(rates[False]), statistics.median(rates[True])
    print(f"{name}: images recorded/s ({len(CHECKS)} check rows + 1 event each), {WRITERS} writer processes, "
          f"median of {rounds}: without bindings {without:,.1f}, with bindings {with_:,.1f}, "
          f"ratio {with_ / without:.3f} ({(1 - with_ / without) * 100:+.1f} % cost)")  # fmt: skip
    print(f"{name}:   rounds without {', '.join(f'{r:,.1f}' for r in rates[False])}; "
          f"with {', '.join(f'{r:,.1f}' for r in rates[True])}")  # fmt: skip


def seed_images(url: str, images: int) -> None:
    """Bulk rows the way the pipeline records them, bound: 8 images per request, 14 check rows per image,
    a `request.queued` event per request and an `image.created` event per image, each with its digest."""
    engine = make_engine(Settings(database_url=url))
    base = datetime(2026, 11, 1, tzinfo=UTC)
    batch = 4000
    with engine.connect() as connection:
        head = connection.execute(AuditEvent.__table__.select().order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, prev = (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)
    with engine.begin() as connection:
        for first in range(0, images, batch):
            requests, rows, checks, events = [], [], [], []
            for n in range(first, min(images, first + batch)):
                request_id = f"req{n // 8:08d}"
                when = base + timedelta(seconds=n)
                if n % 8 == 0:
                    request = dict(
                        id=request_id, idempotency_key=None, requested_by="U0BENCH", source="slack", channel="C1",
                        kit_name="acme" if n % 16 else "nordwind", kit_hash="a" * 64,
                        brief={"kit": "acme", "prompt": "five red apples on a table", "headline": "Fresh Deals"},
                        brief_hash="b" * 64, profile_name="tiny", profile_hash=None, seed=n, n_images=8,
                        queue="preview", parent_image_id=None, state="done", attempts=1, stage_timings={},
                        gpu_seconds=12.0, cost_usd=0.1, created_at=when,
                    )  # fmt: skip
                    requests.append(request)
                    seq, prev = _event(events, seq, prev, when, "U0BENCH", "request.queued", "request", request_id,
                                       {"kit": request["kit_name"], DIGEST_KEY: request_digest(request)})  # fmt: skip
                image, image_checks = _image_rows(n, request_id, when)
                rows.append(image)
                checks.extend(image_checks)
                seq, prev = _event(events, seq, prev, when, "worker", "image.created", "image", image["id"],
                                   {"request_id": request_id, "verdict": "flag", "failed_checks": ["BG101"],
                                    DIGEST_KEY: image_digest(image, image_checks)})  # fmt: skip
            if requests:
                connection.execute(insert(Request.__table__), requests)
            connection.execute(insert(Image.__table__), rows)
            connection.execute(insert(CheckResultRow.__table__), checks)
            connection.execute(insert(AuditEvent.__table__), events)
    # a trail that grew over months has planner statistics; a bulk load has none until autovacuum runs
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def _event(events: list[dict[str, Any]], seq: int, prev: str, when: datetime, actor: str, kind: str,
           subject_type: str, subject_id: str, payload: dict[str, Any]) -> tuple[int, str]:
    row = dict(seq=seq + 1, created_at=when, actor=actor, kind=kind, subject_type=subject_type,
               subject_id=subject_id, payload=payload, prev_hash=prev)  # fmt: skip
    row["hash"] = event_hash(_Event(**row))
    events.append(row)
    return seq + 1, row["hash"]


class _Event:
    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


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
usage = resource.getrusage(resource.RUSAGE_SELF)
print(count, time.perf_counter() - began, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime)
"""


def export_cost(url: str, fmt: str, out: Path, command: bool = True) -> tuple[float, float, float, float, int]:
    """Seconds exporting (after imports), of the whole `brandgate audit export` command (NaN when not
    measured), peak RSS MB, CPU s."""
    measured = subprocess.run(
        [sys.executable, "-c", EXPORT_CHILD, url, fmt, str(out)], cwd=ROOT, check=True, capture_output=True, text=True
    )
    count, seconds, peak_mb, cpu = measured.stdout.split()
    if not command:
        return float(seconds), float("nan"), float(peak_mb), float(cpu), int(count)
    env = {**os.environ, "BRANDGATE_DATABASE_URL": url}
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "brandgate", "audit", "export", "--format", fmt, "--out", str(out)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    return float(seconds), time.perf_counter() - began, float(peak_mb), float(cpu), int(count)


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as admin:
        admin.execute(sql)


def bare_commits_per_second(url: str, seconds: float = 3.0) -> float:
    """The ceiling for one-event transactions: single-row INSERT commits, no chain, no ORM, one client."""
    engine = make_engine(Settings(database_url=url))
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE bench_commit (n INTEGER)")
    count, began = 0, time.perf_counter()
    with engine.connect() as connection:
        while time.perf_counter() - began < seconds:
            with connection.begin():
                connection.exec_driver_sql("INSERT INTO bench_commit VALUES (1)")
            count += 1
    elapsed = time.perf_counter() - began
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE bench_commit")
    engine.dispose()
    return count / elapsed


def run(name: str, url: str, export_url: str, args: argparse.Namespace, scratch: Path) -> None:
    upgrade(Settings(database_url=url))
    if args.bindings_only:
        bindings_cost(name, url, args.images_per_writer, args.rounds)
        return
    print(f"{name}: reference: {bare_commits_per_second(url):,.0f} bare single-row commits/s (one client, no chain)")
    for per_transaction in (1, 10, 100):
        rate = events_per_second(url, args.events, per_transaction)
        print(f"{name}: {rate:,.0f} events/s appended, chained, {WRITERS} concurrent writer processes, "
              f"{per_transaction} event{'s' if per_transaction > 1 else ''} per transaction")  # fmt: skip
    bindings_cost(name, url, args.images_per_writer, args.rounds)
    engine = make_engine(Settings(database_url=url))
    report = verify_chain(engine)
    engine.dispose()
    print(f"{name}: chain after the runs: {report.events} events, intact={report.intact}")
    if args.events_only:
        return
    upgrade(Settings(database_url=export_url))
    began = time.perf_counter()
    seed_images(export_url, args.images)
    seeded = time.perf_counter() - began
    print(f"{name}: seeded {args.images:,} images x {len(CHECKS)} checks, bound, in {seeded:.1f} s")
    for fmt in args.formats.split(","):
        seconds, command_seconds, peak_mb, cpu, count = export_cost(export_url, fmt, scratch / f"{name}.{fmt}",
                                                                    not args.no_command)  # fmt: skip
        whole = "" if args.no_command else f"; whole `brandgate audit export` command {command_seconds:.1f} s"
        print(f"{name}: export {fmt} of {count:,} images: {seconds:.1f} s exporting, peak RSS {peak_mb:.0f} MB, "
              f"{cpu:.1f} s CPU in the exporting process (imports included){whole}")  # fmt: skip
    env = {**os.environ, "BRANDGATE_DATABASE_URL": export_url}
    began = time.perf_counter()
    subprocess.run([sys.executable, "-m", "brandgate", "audit", "verify"], cwd=ROOT, env=env, check=True,
                   capture_output=True)  # fmt: skip
    print(f"{name}: `brandgate audit verify` (chain and every row's binding) of {args.images:,} images: "
          f"{time.perf_counter() - began:.1f} s")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=400, help="events per writer per run")
    parser.add_argument("--images", type=int, default=100_000, help="images seeded for the export")
    parser.add_argument("--images-per-writer", type=int, default=150, help="images each writer records per round")
    parser.add_argument("--rounds", type=int, default=3, help="rounds without and with the bindings")
    parser.add_argument("--formats", default="jsonl,csv", help="export formats to time, comma-separated")
    parser.add_argument("--no-command", action="store_true", help="skip timing the whole export command")
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--events-only", action="store_true", help="skip the export measurements")
    parser.add_argument("--bindings-only", action="store_true", help="only the with/without bindings rounds")
    args = parser.parse_args()
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="brandgate-bench-") as folder:
        scratch = Path(folder)
        run("sqlite", f"sqlite:///{scratch / 'bench.db'}", f"sqlite:///{scratch / 'export.db'}", args, scratch)
        if not args.no_postgres:
            names = [f"brandgate_bench_{uuid.uuid4().hex[:10]}" for _ in range(2)]
            try:
                for name in names:
                    _pg_admin(f'CREATE DATABASE "{name}"')
                urls = [f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}" for name in names]
                run("postgresql", urls[0], urls[1], args, scratch)
            finally:
                for name in names:
                    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

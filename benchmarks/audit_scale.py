"""Audit at scale: record rate with 8 writers, export, verify, one image's proof and a consistency proof.

Seeds N images the way the pipeline records them (an image row, 14 check rows and an
`image.created` event carrying their digest; a `request.queued` event per request of 8), in bulk
through benchmarks/audit_write.py's seeding, half before and half after a signed tree head, so
the consistency proof spans a real earlier head. Then, on each database:

- record: 8 writer processes each record images one transaction at a time with
  `brandgate.db.evidence.record_image` (the pipeline's own path); images/s over all of them;
- export jsonl / csv: the whole `brandgate audit export --out` command, timed from outside;
- verify: the whole `brandgate audit verify` command (every hash, link and row binding);
- prove p95: `prove_image` for 200 random images against the latest signed head, on one open
  connection (the event lookup, O(log n) subtree reads, the proof checked, the rows re-digested);
- consistency: the proof from the mid-way head to the latest, made and checked;
- peak RSS: the largest resident set of any process the benchmark started (writers, export, verify).

Prints exactly one line per database:
  audit scale (DB): N images, record R images/s (8 writers), export jsonl X s, export csv Y s, verify Z s,
  prove p95 W ms, consistency V ms, peak RSS M MB

Run: .venv/bin/python benchmarks/audit_scale.py --images 20000 [--db URL] [--record-per-writer 40]
Without --db it runs on a scratch SQLite file and a scratch PostgreSQL database (127.0.0.1:5432, user
postgres), both removed afterwards.
"""

from __future__ import annotations

import argparse
import os
import resource
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

from sqlalchemy import func, insert, select  # noqa: E402

from benchmarks import audit_write  # noqa: E402
from benchmarks.audit_write import _event, _image_rows, _pg_admin, _timed_writers  # noqa: E402
from brandgate.db.engine import make_engine, make_sessionmaker  # noqa: E402
from brandgate.db.evidence import DIGEST_KEY, image_digest, record_image, request_digest, seal_image  # noqa: E402
from brandgate.db.models import AuditEvent, CheckResultRow, Image, Request  # noqa: E402
from brandgate.db.schema import upgrade  # noqa: E402
from brandgate.db.tree import check_consistency, latest_head, make_head, prove_image  # noqa: E402
from brandgate.requests import lifecycle  # noqa: E402
from brandgate.settings import Settings  # noqa: E402
from brandgate.trail_key import signing_trail_key, write_trail_key  # noqa: E402

WRITERS = 8
PROOFS = 200


def seed(url: str, first: int, count: int) -> None:
    """Images first..first+count-1, bound and chained as the pipeline records them (audit_write's rows)."""
    engine = make_engine(Settings(database_url=url))
    base = datetime(2026, 11, 1, tzinfo=UTC)
    events_table = AuditEvent.__table__
    with engine.connect() as connection:
        head = connection.execute(events_table.select().order_by(events_table.c.seq.desc()).limit(1)).first()
    seq, prev = (head.seq, head.hash) if head is not None else (0, audit_write.GENESIS_HASH)
    batch = 4000
    with engine.begin() as connection:
        for start in range(first, first + count, batch):
            requests, rows, checks, events = [], [], [], []
            for n in range(start, min(first + count, start + batch)):
                request_id = f"req{n // 8:08d}"
                when = base + timedelta(seconds=n)
                if n % 8 == 0:
                    request = dict(
                        id=request_id, idempotency_key=None, requested_by="U0BENCH", source="slack", channel="C1",
                        kit_name="acme", kit_hash="a" * 64,
                        brief={"kit": "acme", "prompt": "five red apples on a table", "headline": "Fresh Deals"},
                        brief_hash="b" * 64, profile_name="tiny", profile_hash=None, seed=n, n_images=8,
                        queue="preview", parent_image_id=None, state="done", attempts=1, stage_timings={},
                        gpu_seconds=12.0, cost_usd=0.1, created_at=when,
                    )  # fmt: skip
                    requests.append(request)
                    seq, prev = _event(events, seq, prev, when, "U0BENCH", "request.queued", "request", request_id,
                                       {"kit": "acme", DIGEST_KEY: request_digest(request)})  # fmt: skip
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
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    engine.dispose()


def record_images(url: str, count: int, start: Any) -> None:
    """One writer process: a request queued as the pipeline queues it, then `count` images recorded one
    transaction each with the pipeline's `record_image` (image row, 14 check rows, bound event)."""
    engine = make_engine(Settings(database_url=url))
    sessions = make_sessionmaker(engine)
    request_id = f"rec{os.getpid()}{uuid.uuid4().hex[:8]}"[:32]
    with sessions.begin() as session:
        request = Request(id=request_id, requested_by="U0BENCH", source="slack", channel="C1", kit_name="acme",
                          kit_hash="a" * 64, brief={"kit": "acme", "prompt": "apples"}, brief_hash="b" * 64,
                          profile_name="tiny", seed=1, n_images=count, created_at=datetime.now(UTC))  # fmt: skip
        session.add(request)
        lifecycle.queue(session, request)
    start.wait()
    for n in range(count):
        image, checks = _image_rows(-1, request_id, datetime.now(UTC))
        image["index"] = n
        row, rows = Image(**image), [CheckResultRow(**c) for c in checks]
        digest = seal_image(row, rows)  # as the pipeline does: before the transaction
        with sessions.begin() as session:
            record_image(session, row, rows, actor="worker", kind="image.created", digest=digest,
                         payload={"request_id": request_id, "index": n, "sha256": image["sha256"],
                                  "verdict": image["verdict"], "failed_checks": ["BG101"], "seed": image["seed"],
                                  "gpu_seconds": 1.5, "cost_usd": 0.00104})  # fmt: skip
    engine.dispose()


def _command(url: str, keys: Path, *args: str) -> float:
    env = {**os.environ, "BRANDGATE_DATABASE_URL": url, "BRANDGATE_KEYS_DIR": str(keys)}
    began = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "brandgate", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"brandgate {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-400:]}")
    return time.perf_counter() - began


def run(name: str, url: str, images: int, per_writer: int, scratch: Path) -> str:
    upgrade(Settings(database_url=url))
    keys = scratch / f"keys-{name}"
    write_trail_key(keys)
    key = signing_trail_key(Settings(keys_dir=keys))
    engine = make_engine(Settings(database_url=url), **({"pool_size": 2} if url.startswith("postgresql") else {}))
    half = images // 2
    seed(url, 0, half)
    earlier, _ = make_head(engine, key)
    seed(url, half, images - half)
    # the pipeline's own recording path, 8 processes, one image (+14 checks +1 event) per transaction
    audit_write.WRITERS = WRITERS
    record_rate = _timed_writers(record_images, (url, per_writer), per_writer)
    latest, _ = make_head(engine, key)
    jsonl = _command(url, keys, "audit", "export", "--format", "jsonl", "--out", str(scratch / f"{name}.jsonl"))
    csv = _command(url, keys, "audit", "export", "--format", "csv", "--out", str(scratch / f"{name}.csv"))
    verify = _command(url, keys, "audit", "verify")
    with engine.connect() as connection:
        ids = list(connection.execute(select(Image.id).order_by(func.random()).limit(PROOFS)).scalars())
        head = latest_head(connection)
        assert head is not None and head == latest
        took = []
        for image_id in ids:
            began = time.perf_counter()
            proven = prove_image(connection, image_id, head, key)
            took.append((time.perf_counter() - began) * 1000)
            if proven.status != "held":
                raise SystemExit(f"{name}: image {image_id} did not prove: {proven.detail}")
        consistency = []
        for _ in range(5):
            began = time.perf_counter()
            check = check_consistency(connection, earlier.size, earlier.root, head)
            consistency.append((time.perf_counter() - began) * 1000)
            if not check.consistent:
                raise SystemExit(f"{name}: consistency failed: {check.detail}")
    engine.dispose()
    p95 = statistics.quantiles(took, n=20)[-1]
    peak = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_CHILDREN, resource.RUSAGE_SELF))
    return (f"audit scale ({name}): {images:,} images, record {record_rate:,.1f} images/s ({WRITERS} writers), "
            f"export jsonl {jsonl:.1f} s, export csv {csv:.1f} s, verify {verify:.1f} s, prove p95 {p95:.1f} ms, "
            f"consistency {statistics.median(consistency):.1f} ms, peak RSS {peak / 1024:.0f} MB")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=20_000, help="images seeded (bulk) before the timings")
    parser.add_argument("--db", help="one database URL to run on (it must be empty); default: scratch SQLite and PG")
    parser.add_argument("--record-per-writer", type=int, default=40, help="images each of the 8 writers records")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="brandgate-scale-") as folder:
        scratch = Path(folder)
        if args.db:
            kind = "postgresql" if args.db.startswith("postgresql") else "sqlite"
            print(run(kind, args.db, args.images, args.record_per_writer, scratch), flush=True)
            return
        print(run("sqlite", f"sqlite:///{scratch / 'scale.db'}", args.images, args.record_per_writer, scratch),
              flush=True)  # fmt: skip
        name = f"brandgate_scale_{uuid.uuid4().hex[:10]}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        try:
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
            print(run("postgresql", url, args.images, args.record_per_writer, scratch), flush=True)
        finally:
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

"""The review desk at scale: a manager's Home tab page and the governance report over a large trail.

Run: .venv/bin/python benchmarks/review_desk.py --images 20000 [--postgres] [--repeats 20]

Prints two lines:
`home page: N images (W waiting), first page p50 X ms p95 Y ms, last page p50 X ms p95 Y ms`
`report: N images, figures in X ms (D decisions, C check IDs)`.

How the trail is made: N preview images of kit acme (one per request, three check rows each)
are bulk-inserted into a scratch database migrated to head (SQLite in a temporary folder, or a
scratch PostgreSQL database with `--postgres`), bypassing the pipeline and the audit events
(neither query reads them): half pass, 30% are flagged or unverified and wait, 20% were flagged
and decided (three approved for each rejected). A page is what the Home tab publishes: the
count, 20 waiting images with their failed checks, and the Block Kit view built from them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import insert, text

from bot.home import PAGE_SIZE, manager_view
from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.models import Approval, CheckResultRow, Image, Request
from brandgate.db.schema import upgrade
from brandgate.report import governance_figures, image_facts
from brandgate.review import count_waiting, waiting_images
from brandgate.settings import Settings


def seed(settings: Settings, n: int) -> int:
    engine = make_engine(settings)
    start = datetime.now(UTC) - timedelta(days=60)
    requests, images, checks, approvals = [], [], [], []
    waiting = 0
    for i in range(n):
        rid, iid = uuid.uuid4().hex, uuid.uuid4().hex
        when = start + timedelta(seconds=i * 56 * 86400 // max(n, 1))
        kind = i % 10
        verdict = "pass" if kind < 5 else ("flag" if kind % 2 else "unverified")
        requests.append(
            {
                "id": rid,
                "requested_by": "cli:bench",
                "source": "cli",
                "kit_name": "acme",
                "kit_hash": "a" * 64,
                "brief": {"kit": "acme", "prompt": "apples"},
                "brief_hash": "b" * 64,
                "profile_name": "tiny",
                "seed": i,
                "n_images": 1,
                "state": "done",
                "created_at": when,
            }
        )
        images.append(
            {
                "id": iid,
                "request_id": rid,
                "index": 0,
                "kind": "preview",
                "sha256": uuid.uuid4().hex * 2,
                "width": 512,
                "height": 512,
                "model_id": "tiny",
                "model_revision": "r",
                "generation_config": {},
                "seed": i,
                "cost_usd": 0.002,
                "verdict": verdict,
                "created_at": when,
            }
        )
        for check_id, status in (
            ("BG101", "fail" if verdict == "flag" else "pass"),
            ("BG401", "unverified" if verdict == "unverified" else "pass"),
            ("BG601", "pass"),
        ):
            checks.append(
                {
                    "image_id": iid,
                    "check_id": check_id,
                    "name": check_id,
                    "status": status,
                    "severity": "flag",
                    "confidence": 0.9,
                    "message": f"{check_id} {status}",
                    "evidence": {},
                }
            )
        if verdict != "pass" and kind >= 8:
            approvals.append(
                {
                    "image_id": iid,
                    "decision": "approved" if i % 4 else "rejected",
                    "decided_by": "cli:anna",
                    "reason": "bench",
                    "decided_at": when + timedelta(hours=5),
                    "version": 1,
                }
            )
        elif verdict != "pass":
            waiting += 1
    with engine.begin() as connection:
        for table, rows in ((Request, requests), (Image, images), (CheckResultRow, checks), (Approval, approvals)):
            for at in range(0, len(rows), 5000):
                connection.execute(insert(table), rows[at : at + 5000])
        if connection.dialect.name == "postgresql":
            connection.execute(text("ANALYZE"))  # what autovacuum does soon after a load this size
    engine.dispose()
    return waiting


def timed(work: object, repeats: int) -> list[float]:
    took = []
    for _ in range(repeats):
        began = time.perf_counter()
        work()  # type: ignore[operator]
        took.append((time.perf_counter() - began) * 1000)
    return took


def p(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{Path(folder) / 'bench.db'}"
        scratch = None
        if args.postgres:
            import psycopg  # the benchmark's own optional dependency on a server

            scratch = f"brandgate_bench_{uuid.uuid4().hex[:10]}"
            with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{scratch}"')
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{scratch}"
        settings = Settings(database_url=url, artifacts_dir=Path(folder) / "artifacts")
        try:
            upgrade(settings)
            waiting = seed(settings, args.images)
            engine = make_engine(settings)
            sessions = make_sessionmaker(engine)
            now = datetime.now(UTC)

            def page(offset: int) -> None:
                total = count_waiting(sessions, ["acme"])
                items = waiting_images(sessions, ["acme"], limit=PAGE_SIZE, offset=offset)
                manager_view(items, total, offset, ["acme"], now, {}, {i.image_id: True for i in items})

            first = timed(lambda: page(0), args.repeats)
            last = timed(lambda: page(max(0, waiting - PAGE_SIZE)), args.repeats)
            began = time.perf_counter()
            figures = governance_figures(image_facts(sessions, None, None, "acme"), 0.5)
            report_ms = (time.perf_counter() - began) * 1000
            engine.dispose()
        finally:
            if scratch:
                with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres", autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    where = "PostgreSQL" if args.postgres else "SQLite"
    print(f"home page ({where}): {args.images} images ({waiting} waiting), first page p50 {p(first, 0.5):.1f} ms "
          f"p95 {p(first, 0.95):.1f} ms, last page p50 {p(last, 0.5):.1f} ms p95 {p(last, 0.95):.1f} ms")  # fmt: skip
    print(f"report ({where}): {figures['images']} images, figures in {report_ms:.0f} ms "
          f"({figures['approved'] + figures['rejected']} decisions, {len(figures['checks'])} check IDs)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())

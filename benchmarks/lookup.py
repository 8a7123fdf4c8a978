"""Visual lookup of a stripped file: the hash-band index against comparing every stored hash.

Run: .venv/bin/python benchmarks/lookup.py --images 1000000 [--queries 100] [--postgres] [--max-distance 10]
     [--hashes random|pictures]

Prints one line:
`lookup: N images, indexed p50 X ms p95 Y ms, exhaustive p50 Z ms, same answers K/K, peak RSS M MB`.

How the trail is made: N image rows are bulk-inserted straight into a scratch database migrated to
head (SQLite file in a temporary folder, or a scratch PostgreSQL database with `--postgres`),
1 000 images per request, by a child process, so the peak RSS printed is the lookup process's
alone. The bulk load bypasses the pipeline and the hash-chained audit events (a lookup never reads
them); the rows carry what the pipeline writes for the columns a lookup touches.

Hashes: `random` (default) draws 64 uniform bits with the top bit set, as in every pHash (the
DCT's DC coefficient always exceeds the median); `pictures` hashes synthetic pictures with
imagehash (about 0.5 ms each, so meant for up to ~100 000 images) to show how real hashes'
correlations change the candidate counts.

Queries: each starts from a stored hash with 0 … max-distance + 2 bits flipped (so matches sit at
the threshold and just past it), one in five is a fresh random hash (usually no match). Each is
looked up by the index and by the exhaustive scan (streamed, every stored hash compared); the two
answers (image ids and distances) must be identical.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import Connection, func, insert, select  # noqa: E402

from brandgate.db.engine import READ_ONLY, make_engine  # noqa: E402
from brandgate.db.models import PHASH_BAND_COLUMNS, Image, Request, phash_bands  # noqa: E402
from brandgate.db.schema import upgrade  # noqa: E402
from brandgate.db.visual_index import Method, close_hashes, images_with  # noqa: E402
from brandgate.settings import Settings  # noqa: E402

PER_REQUEST = 1000
BATCH = 10_000
TOP_BIT = 1 << 63


def random_hashes(count: int, seed: int) -> Iterator[str]:
    rng = random.Random(seed)
    for _ in range(count):
        yield f"{rng.getrandbits(64) | TOP_BIT:016x}"


def picture_hashes(count: int, seed: int) -> Iterator[str]:
    """pHashes (imagehash) of smooth random pictures: coarse random grids upsampled to 32×32."""
    import numpy as np
    from PIL import Image as PILImage

    from policies.perceptual import phash_hex

    rng = np.random.default_rng(seed)
    for _ in range(count):
        coarse = (rng.random((int(rng.integers(2, 9)), int(rng.integers(2, 9)), 3)) * 255).astype(np.uint8)
        yield phash_hex(PILImage.fromarray(coarse).resize((32, 32), PILImage.Resampling.BICUBIC))


def seed_images(conn: Connection, hashes: Iterator[str]) -> int:
    """Bulk-insert one image row per hash (ids img0000000000…), 1 000 per request; returns the count."""
    base = datetime(2026, 11, 1, tzinfo=UTC)
    n = 0
    while True:
        requests, rows = [], []
        for phash in hashes:
            when = base + timedelta(seconds=n)
            request_id = f"req{n // PER_REQUEST:08d}"
            if n % PER_REQUEST == 0:
                requests.append(dict(
                    id=request_id, requested_by="U0BENCH", source="cli", kit_name="acme", kit_hash="a" * 64,
                    brief={"kit": "acme", "prompt": "apples"}, brief_hash="b" * 64, profile_name="tiny",
                    seed=n, n_images=PER_REQUEST, queue="preview", state="done", attempts=1, stage_timings={},
                    gpu_seconds=0.0, cost_usd=0.0, created_at=when,
                ))  # fmt: skip
            rows.append(dict(
                id=f"img{n:010d}", request_id=request_id, index=n % PER_REQUEST, kind="preview",
                sha256=f"{n:064x}", phash=phash, **dict(zip(PHASH_BAND_COLUMNS, phash_bands(phash), strict=True)),
                media_type="image/png", width=1024, height=1024, model_id="brandgate/tiny-sd", model_revision="r1",
                generation_config={}, seed=n, timings={}, gpu_seconds=0.0, cost_usd=0.0, verdict="pass",
                created_at=when,
            ))  # fmt: skip
            n += 1
            if len(rows) == BATCH:
                break
        if requests:
            conn.execute(insert(Request.__table__), requests)
        if rows:
            conn.execute(insert(Image.__table__), rows)
        if len(rows) < BATCH:
            return n


def _seed_child(url: str, count: int, source: str, seed: int) -> None:
    engine = make_engine(Settings(database_url=url))
    hashes = picture_hashes(count, seed) if source == "pictures" else random_hashes(count, seed)
    with engine.begin() as conn:
        seed_images(conn, hashes)
    with engine.connect() as conn:
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
        # planner statistics (and, on PostgreSQL, the visibility map index-only scans need)
        conn.exec_driver_sql("VACUUM ANALYZE" if engine.dialect.name == "postgresql" else "ANALYZE")
    engine.dispose()


def queries(conn: Connection, count: int, images: int, max_distance: int, seed: int) -> list[str]:
    rng = random.Random(seed + 1)
    wanted = []
    for q in range(count):
        if q % 5 == 4:
            wanted.append(f"{rng.getrandbits(64) | TOP_BIT:016x}")
            continue
        stored = conn.scalar(select(Image.phash).where(Image.id == f"img{rng.randrange(images):010d}"))
        assert stored is not None
        flips = q % (max_distance + 3)
        value = int(stored, 16)
        for bit in rng.sample(range(64), flips):
            value ^= 1 << bit
        wanted.append(f"{value:016x}")
    return wanted


def answer(conn: Connection, wanted: str, max_distance: int, method: Method) -> tuple[list[tuple[str, int]], int]:
    close = close_hashes(conn, wanted, max_distance, method)
    rows = images_with(conn, sorted(close.distances))
    return sorted((row.id, close.distances[row.phash]) for row in rows), close.candidates


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def measure(url: str, args: argparse.Namespace) -> str:
    began = time.perf_counter()
    context = multiprocessing.get_context("spawn")
    child = context.Process(target=_seed_child, args=(url, args.images, args.hashes, args.seed))
    child.start()
    child.join()
    if child.exitcode != 0:
        raise SystemExit(f"seeding failed (exit {child.exitcode})")
    print(f"seeded {args.images:,} images ({args.hashes} hashes) in {time.perf_counter() - began:.0f} s",
          file=sys.stderr)  # fmt: skip
    engine = make_engine(Settings(database_url=url))
    indexed_ms: list[float] = []
    indexed_cpu_ms: list[float] = []
    scanned_ms: list[float] = []
    candidates: list[int] = []
    matches = same = 0
    with engine.connect().execution_options(**READ_ONLY) as conn:
        stored = conn.scalar(select(func.count()).select_from(Image))
        assert stored == args.images, f"{stored} rows stored, {args.images} asked"
        wanted = queries(conn, args.queries, args.images, args.max_distance, args.seed)
        for phash in wanted:
            c0, t0 = time.process_time(), time.perf_counter()
            by_index, measured = answer(conn, phash, args.max_distance, "index")
            t1, c1 = time.perf_counter(), time.process_time()
            indexed_cpu_ms.append((c1 - c0) * 1000)
            by_scan, _ = answer(conn, phash, args.max_distance, "scan")
            t2 = time.perf_counter()
            indexed_ms.append((t1 - t0) * 1000)
            scanned_ms.append((t2 - t1) * 1000)
            candidates.append(measured)
            same += by_index == by_scan
            matches += bool(by_scan)
    engine.dispose()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{matches} of {len(wanted)} queries had matches within distance {args.max_distance}; "
          f"candidates measured per indexed query: median {statistics.median(candidates):.0f}, "
          f"max {max(candidates)}", file=sys.stderr)  # fmt: skip
    # On a shared machine wall time includes waiting for a CPU; the CPU time of this process does not.
    print(f"indexed CPU time per query: p50 {percentile(indexed_cpu_ms, 0.5):.1f} ms "
          f"p95 {percentile(indexed_cpu_ms, 0.95):.1f} ms; load average at the end "
          f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs", file=sys.stderr)  # fmt: skip
    return (
        f"lookup: {args.images} images, indexed p50 {percentile(indexed_ms, 0.5):.1f} ms "
        f"p95 {percentile(indexed_ms, 0.95):.1f} ms, exhaustive p50 {percentile(scanned_ms, 0.5):.0f} ms, "
        f"same answers {same}/{len(wanted)}, peak RSS {peak_mb:.0f} MB"
    )


def _pg_admin(sql: str) -> None:
    import psycopg

    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres", autocommit=True) as admin:
        admin.execute(sql)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--max-distance", type=int, default=Settings().visual_match_max_distance)
    parser.add_argument("--hashes", choices=("random", "pictures"), default="random")
    parser.add_argument("--seed", type=int, default=18)
    parser.add_argument("--postgres", action="store_true", help="a scratch PostgreSQL database on 127.0.0.1:5432")
    args = parser.parse_args()
    if args.images < 1 or args.queries < 1:
        parser.error("--images and --queries must be at least 1")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"{'postgresql' if args.postgres else 'sqlite'}", file=sys.stderr)  # fmt: skip
    if args.postgres:
        name = f"brandgate_lookup_{uuid.uuid4().hex[:10]}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        try:
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
            upgrade(Settings(database_url=url))
            print(measure(url, args))
        finally:
            _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return
    with tempfile.TemporaryDirectory(prefix="brandgate-lookup-") as folder:
        url = f"sqlite:///{Path(folder) / 'lookup.db'}"
        upgrade(Settings(database_url=url))
        print(measure(url, args))


if __name__ == "__main__":
    main()

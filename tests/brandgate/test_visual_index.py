"""The hash-band index finds exactly the images that comparing every stored hash finds."""

from __future__ import annotations

import io
import itertools
import random
import uuid
from collections.abc import Iterator
from math import comb

import numpy as np
import pytest
from alembic import command
from PIL import Image as PILImage
from sqlalchemy import select

from benchmarks.lookup import seed_images
from brandgate.artifacts import ArtifactStore
from brandgate.db.engine import make_engine
from brandgate.db.models import PHASH_BAND_COLUMNS, Image, phash_bands
from brandgate.db.schema import alembic_config, upgrade
from brandgate.db.visual_index import Method, band_neighbours, close_hashes, close_hashes_of_many, method_for
from brandgate.settings import Settings
from brandgate.verification import find_visual_match, find_visual_matches
from policies.perceptual import hamming, phash_hex


def flipped(value: int, bits: list[int]) -> int:
    for bit in bits:
        value ^= 1 << bit
    return value


def edge_hashes(base: int, rng: random.Random) -> list[int]:
    """Hashes at distances around every threshold from `base`, with the flipped bits spread
    evenly over the four bands (the case pigeonhole only just covers) or piled into one."""
    found = []
    for distance in range(0, 20):
        per_band = [distance // 4 + (band < distance % 4) for band in range(4)]
        spread = [b for band, n in enumerate(per_band) for b in rng.sample(range(band * 16, band * 16 + 16), n)]
        found.append(flipped(base, spread))
        piled = rng.sample(range(64), distance) if distance > 16 else rng.sample(range(16, 32), distance)
        found.append(flipped(base, piled))
    return found


@pytest.fixture
def trail(db_settings: Settings) -> Iterator[tuple[Settings, list[str], list[str]]]:
    """A trail of random hashes, hashes at edge distances from each query, and the queries."""
    rng = random.Random(18)
    queries = [rng.getrandbits(64) for _ in range(6)]
    stored = [rng.getrandbits(64) for _ in range(1500)]
    for query in queries:
        stored.extend(edge_hashes(query, rng))
    stored.append(queries[0])  # the same hash twice: two images, one answer each
    stored_hex = [f"{value:016x}" for value in stored]
    engine = make_engine(db_settings)
    with engine.begin() as conn:
        seed_images(conn, iter(stored_hex))
    engine.dispose()
    yield db_settings, stored_hex, [f"{value:016x}" for value in queries]


def test_indexed_lookup_returns_exactly_the_exhaustive_scans_matches(
    trail: tuple[Settings, list[str], list[str]],
) -> None:
    settings, stored, queries = trail
    engine = make_engine(settings)
    with engine.connect() as conn:
        for max_distance, query in itertools.product([0, 1, 3, 4, 7, 8, 10, 12, 15, 16, 19], queries):
            expected = {h: hamming(h, query) for h in stored if hamming(h, query) <= max_distance}
            indexed = close_hashes(conn, query, max_distance, "index")
            scanned = close_hashes(conn, query, max_distance, "scan")
            assert indexed.distances == expected
            assert scanned.distances == expected
            assert max_distance in expected.values() or max_distance > 19  # the edge itself is in the data
    engine.dispose()


def test_many_hashes_looked_up_together_get_the_answers_each_gets_alone(
    trail: tuple[Settings, list[str], list[str]],
) -> None:
    settings, stored, queries = trail
    wanted = [*queries, *stored[:40], "0" * 16]  # near the edges, exact hits, and one far from everything
    engine = make_engine(settings)
    with engine.connect() as conn:
        methods: list[Method] = ["index", "scan"]
        for max_distance, method in itertools.product([0, 3, 8, 10, 16], methods):
            together = close_hashes_of_many(conn, wanted, max_distance, method)
            alone = [close_hashes(conn, query, max_distance, method) for query in wanted]
            assert [c.distances for c in together] == [c.distances for c in alone]
            assert all(c.distances for c in together[len(queries) : -1])  # the stored hashes find themselves
    engine.dispose()
    matches = find_visual_matches(wanted, settings, max_distance=10)
    assert [m.best.distance if m.best else None for m in matches] == [
        min((hamming(h, q) for h in stored if hamming(h, q) <= 10), default=None) for q in wanted
    ]



def test_lookup_answers_through_the_index_below_distance_16_and_by_scan_from_it() -> None:
    assert [method_for(d) for d in (0, 10, 15, 16, 64)] == ["index", "index", "index", "scan", "scan"]


@pytest.mark.parametrize("radius", [0, 1, 2, 3])
def test_band_neighbours_are_every_value_within_the_radius(radius: int) -> None:
    found = band_neighbours(0xBEEF, radius)
    assert found[0] == 0xBEEF
    assert len(set(found)) == len(found) == sum(comb(16, r) for r in range(radius + 1))
    assert all((value ^ 0xBEEF).bit_count() <= radius and 0 <= value < 1 << 16 for value in found)


def test_setting_a_hash_sets_its_bands_and_clearing_it_clears_them() -> None:
    image = Image(phash="0123456789abcdef")
    assert [getattr(image, c) for c in PHASH_BAND_COLUMNS] == [0x0123, 0x4567, 0x89AB, 0xCDEF]
    image.phash = None
    assert [getattr(image, c) for c in PHASH_BAND_COLUMNS] == [None] * 4


def picture(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    coarse = (rng.random((6, 6, 3)) * 255).astype(np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(coarse).resize((96, 96), PILImage.Resampling.BICUBIC).save(out, "PNG")
    return out.getvalue()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def unmigrated(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    """Settings whose database is empty (no schema): a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield settings
        return
    request.getfixturevalue("_pg_reachable")
    import psycopg

    name = f"brandgate_mig_{uuid.uuid4().hex[:12]}"
    admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield settings.model_copy(update={"database_url": f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"})
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_migration_recomputes_hashes_from_the_store_and_fills_the_bands(unmigrated: Settings) -> None:
    settings = unmigrated
    command.upgrade(alembic_config(settings), "0003_regress")
    store = ArtifactStore.from_settings(settings)
    in_store = store.put(picture(1), ".png")
    gone_sha = "f" * 64  # named by the database, absent from the store
    old_hash = "8000000000000001"  # as the hand-written DCT might have stored it
    engine = make_engine(settings)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO requests (id, requested_by, source, kit_name, kit_hash, brief, brief_hash, profile_name, "
            "seed, n_images, queue, state, attempts, stage_timings, gpu_seconds, cost_usd, created_at) VALUES "
            "('req-1', 'U1', 'cli', 'acme', 'k', '{}', 'b', 'tiny', 1, 2, 'preview', 'done', 1, '{}', 0, 0, "
            "'2026-11-01 00:00:00')"
        )
        for index, (image_id, sha) in enumerate([("img-stored", in_store.sha256), ("img-gone", gone_sha)]):
            conn.exec_driver_sql(
                'INSERT INTO images (id, request_id, "index", kind, sha256, phash, media_type, width, height, '
                "model_id, model_revision, generation_config, seed, timings, gpu_seconds, cost_usd, verdict, "
                f"created_at) VALUES ('{image_id}', 'req-1', {index}, 'preview', '{sha}', '{old_hash}', "
                "'image/png', 96, 96, 'm', 'r', '{}', 1, '{}', 0, 0, 'pass', '2026-11-01 00:00:00')"
            )
    engine.dispose()
    # before the upgrade, a lookup still works: it compares every stored hash
    before = find_visual_match(picture(7), settings, max_distance=64)
    assert before.status == "match" and before.detail.startswith("visually matches")
    assert before.method == "scan"

    upgrade(settings)

    engine = make_engine(settings)
    with engine.connect() as conn:
        rows = {row.id: row for row in conn.execute(select(Image))}
    engine.dispose()
    recomputed = phash_hex(np.asarray(PILImage.open(io.BytesIO(picture(1))).convert("RGB")))
    assert rows["img-stored"].phash == recomputed != old_hash
    assert rows["img-gone"].phash == old_hash
    for row in rows.values():
        assert tuple(getattr(row, c) for c in PHASH_BAND_COLUMNS) == phash_bands(row.phash)
    found = find_visual_match(picture(1), settings)
    assert found.best is not None and (found.best.image_id, found.best.distance) == ("img-stored", 0)


def test_lookup_with_nothing_close_says_how_it_searched(db_settings: Settings) -> None:
    engine = make_engine(db_settings)
    with engine.begin() as conn:
        seed_images(conn, iter([f"{(1 << 64) - 1:016x}"]))
    engine.dispose()

    found = find_visual_match(picture(3), db_settings, max_distance=2)

    assert found.status == "no_match"
    assert found.detail == "no image in the audit database is within distance 2 of it (searched by the hash index)"
    assert found.to_json()["method"] == "index"
    wide = find_visual_match(picture(3), db_settings, max_distance=16)
    assert wide.to_json()["method"] == "scan"  # past the index's reach: every stored hash compared

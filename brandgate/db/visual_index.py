"""Finding the audit trail's images that look like a file: multi-index hashing over the perceptual hash.

The 64-bit hash is split into four 16-bit bands, each stored in its own indexed column
(`phash_band0` … `phash_band3`, each index also holding the whole hash so the lookup reads
the index alone). Two hashes within Hamming distance `d` differ in `d` bits spread over four
bands, so at least one band differs in at most `d // 4` bits (pigeonhole). The lookup therefore
asks each band's index for every 16-bit value within `d // 4` bits of the wanted band, then
measures the exact distance of each candidate: nothing within `d` is missed, and nothing beyond
it is returned. It is the same answer as comparing every stored hash, for any `d`.

The number of band values to ask for grows quickly with `d // 4` (1, 17, 137, 697, 2 517 for
radius 0 … 4). From radius 4 on (`d` ≥ 16) the index would read a large part of the table
anyway, so the lookup compares every stored hash instead: slower, still exact, and said so in
the answer's `method`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import Connection, select

from brandgate.clock import as_utc
from brandgate.db.models import PHASH_BAND_COLUMNS, PHASH_BAND_COUNT, Approval, Image, phash_bands

BAND_BITS = 64 // PHASH_BAND_COUNT
# Band values asked per band at radius 3 are 697; at radius 4, 2 517, about 4 % of each band's
# index per 1 000 rows per value: reading the whole hash column costs about the same then.
LARGEST_PROBE_RADIUS = 3
SCAN_BATCH = 20_000
# Wanted hashes per indexed statement: at the default distance (radius 2) each adds up to 548
# probes, so a statement stays under about 150,000 inline integers.
LOOKUP_BATCH = 256

Method = Literal["index", "scan"]


@dataclass(frozen=True)
class Close:
    """Stored hashes within the distance, with their distances; how they were found."""

    distances: dict[str, int]
    method: Method
    candidates: int  # hashes whose distance was measured


def probe_radius(max_distance: int) -> int:
    """Bits in which at least one band of every hash within `max_distance` matches the wanted one."""
    return max_distance // PHASH_BAND_COUNT


def method_for(max_distance: int) -> Method:
    return "index" if probe_radius(max_distance) <= LARGEST_PROBE_RADIUS else "scan"


def band_neighbours(value: int, radius: int) -> list[int]:
    """Every band value within `radius` bits of `value`, `value` first."""
    found = [value]
    for flips in range(1, radius + 1):
        for bits in combinations(range(BAND_BITS), flips):
            mask = 0
            for bit in bits:
                mask |= 1 << bit
            found.append(value ^ mask)
    return found


def close_hashes(conn: Connection, wanted: str, max_distance: int, method: Method | None = None) -> Close:
    """Stored perceptual hashes within `max_distance` bits of `wanted` (16 hex digits)."""
    return close_hashes_of_many(conn, [wanted], max_distance, method)[0]


def close_hashes_of_many(
    conn: Connection, wanted: Sequence[str], max_distance: int, method: Method | None = None
) -> list[Close]:
    """`close_hashes` for each of `wanted`, in one statement per LOOKUP_BATCH hashes (or one scan).

    A folder's files without credentials are looked up together: `brandgate verify DIR` then
    costs a few round trips, not one per file.
    """
    method = method or method_for(max_distance)
    found: list[Close] = []
    for start in range(0, len(wanted), LOOKUP_BATCH):
        batch = wanted[start : start + LOOKUP_BATCH]
        if method == "scan":
            found.extend(_scanned(conn, batch, max_distance))
        else:
            found.extend(_indexed(conn, batch, max_distance))
    return found


def _indexed(conn: Connection, wanted: Sequence[str], max_distance: int) -> list[Close]:
    radius = probe_radius(max_distance)
    # One statement, one round trip: each branch reads one band's covering index, UNION drops the
    # hashes found through two bands. The probes are integers computed here, written inline: as
    # bound parameters the 548 of them cost more to bind than the search itself. A stored hash
    # within the distance of one wanted hash matches one of that hash's band probes, so measuring
    # every candidate against every wanted hash finds exactly what one statement each would.
    probes: list[set[int]] = [set() for _ in PHASH_BAND_COLUMNS]
    for phash in wanted:
        for band_probes, value in zip(probes, phash_bands(phash), strict=True):
            band_probes.update(band_neighbours(value, radius))
    branches = [
        f"SELECT phash FROM {Image.__tablename__} WHERE {column} IN ({', '.join(map(str, sorted(values)))})"
        for column, values in zip(PHASH_BAND_COLUMNS, probes, strict=True)
    ]
    candidates = [phash for (phash,) in conn.exec_driver_sql(" UNION ".join(branches))]
    return [Close(_within_batch(phash, candidates, max_distance), "index", len(candidates)) for phash in wanted]


def _scanned(conn: Connection, wanted: Sequence[str], max_distance: int) -> list[Close]:
    query = select(Image.phash).where(Image.phash.is_not(None))
    close: list[dict[str, int]] = [{} for _ in wanted]
    measured = 0
    # Streamed in batches: memory stays flat however many images the trail holds.
    result = conn.execution_options(yield_per=SCAN_BATCH).execute(query)
    for batch in result.partitions():
        phashes = [phash for (phash,) in batch if phash is not None]
        measured += len(phashes)
        for distances, phash in zip(close, wanted, strict=True):
            distances.update(_within_batch(phash, phashes, max_distance))
    return [Close(distances, "scan", measured) for distances in close]


def _within_batch(wanted: str, phashes: list[str], max_distance: int) -> dict[str, int]:
    """`_within` for a batch of well-formed hashes, in numpy: the scan's cost is then reading rows."""
    try:
        values = np.frombuffer(bytes.fromhex("".join(phashes)), dtype=">u8")
    except ValueError:  # a malformed stored hash: measure one by one, skipping it
        return _within(int(wanted, 16), [p for p in phashes if _is_hash(p)], max_distance)
    if len(values) != len(phashes):
        return _within(int(wanted, 16), [p for p in phashes if _is_hash(p)], max_distance)
    differing = values ^ np.uint64(int(wanted, 16))
    distances = _popcount(differing)
    return {phashes[i]: int(distances[i]) for i in np.flatnonzero(distances <= max_distance)}


def _popcount(values: NDArray[np.uint64]) -> NDArray[np.integer[Any]]:
    if hasattr(np, "bitwise_count"):  # numpy 2
        counted: NDArray[np.integer[Any]] = np.bitwise_count(values)
        return counted
    summed: NDArray[np.integer[Any]] = np.unpackbits(values.view(np.uint8)).reshape(-1, 64).sum(axis=1)
    return summed


def _is_hash(phash: str) -> bool:
    try:
        return len(phash) == 16 and int(phash, 16) >= 0
    except ValueError:
        return False


def _within(target: int, phashes: Iterable[str | None], max_distance: int) -> dict[str, int]:
    close: dict[str, int] = {}
    for phash in phashes:
        if phash is None:
            continue
        distance = (int(phash, 16) ^ target).bit_count()
        if distance <= max_distance:
            close[phash] = distance
    return close


def images_with(conn: Connection, phashes: Sequence[str]) -> list[Any]:
    """The image rows that carry any of `phashes` (id, request, hash, kind, time)."""
    if not phashes:
        return []
    query = select(
        Image.id, Image.request_id, Image.phash, Image.kind, Image.created_at, Image.parent_image_id
    ).where(Image.phash.in_(list(phashes)))
    return list(conn.execute(query))


@dataclass(frozen=True)
class DecisionOn:
    """A brand manager's decision that stands for an image: its own, or its preview's for an HQ export."""

    decision: str
    decided_by: str
    decided_at: str | None
    on_preview: str | None  # the preview the decision was made on, when the image is its HQ export


def decisions_on(conn: Connection, images: Sequence[tuple[str, str | None]]) -> dict[str, DecisionOn]:
    """For (image, parent) pairs: the brand manager's decision on the image, else on its parent."""
    wanted = {i for pair in images for i in pair if i}
    if not wanted:
        return {}
    found = {
        row.image_id: row
        for row in conn.execute(
            select(Approval.image_id, Approval.decision, Approval.decided_by, Approval.decided_at).where(
                Approval.image_id.in_(sorted(wanted))
            )
        )
    }
    decided = {}
    for image_id, parent in images:
        own, inherited = found.get(image_id), found.get(parent) if parent else None
        row = own or inherited
        if row is None:
            continue
        when = as_utc(row.decided_at).isoformat() if row.decided_at is not None else None
        decided[image_id] = DecisionOn(row.decision, row.decided_by, when, None if own else parent)
    return decided

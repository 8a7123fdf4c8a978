"""Perceptual-hash bands for the indexed visual lookup; stored hashes recomputed with imagehash.

Revision ID: 0004_phash_index
Revises: 0003_regress
Create Date: 2026-11-29 01:30:00

Adds `images.phash_band0` … `phash_band3` (the hash's four 16-bit bands) and one index per
band that also holds the whole hash, which `brandgate verify` searches instead of reading every
image row. Existing rows get their hash recomputed from the image bytes in the artifact store
(imagehash's pHash, which replaces brandgate's own DCT so stored hashes match other tools); a
row whose bytes are not in the store keeps its old hash (within a few bits of the new one), and
the upgrade says how many did. Then every row's bands are filled from its hash.
"""

from __future__ import annotations

import io
import logging
from typing import Any

import sqlalchemy as sa
from alembic import context, op

revision = "0004_phash_index"
down_revision = "0003_regress"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")

BANDS = ("phash_band0", "phash_band1", "phash_band2", "phash_band3")
# what the pipeline stored each media type under (pipeline's SUFFIXES; fixed here as of this revision)
SUFFIX_BY_MEDIA_TYPE = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp"}
BATCH = 500


def upgrade() -> None:
    with op.batch_alter_table("images") as batch:
        for column in BANDS:
            batch.add_column(sa.Column(column, sa.Integer(), nullable=True))
    _recompute_and_fill()
    for column in BANDS:
        op.create_index(f"ix_images_{column}", "images", [column, "phash"], unique=False)


def downgrade() -> None:
    for column in BANDS:
        op.drop_index(f"ix_images_{column}", table_name="images")
    with op.batch_alter_table("images") as batch:
        for column in BANDS:
            batch.drop_column(column)


def _recompute_and_fill() -> None:
    from brandgate.artifacts import ArtifactStore
    from brandgate.settings import get_settings

    settings = context.config.attributes.get("settings") or get_settings()
    store = ArtifactStore.from_settings(settings)
    images = sa.table(
        "images",
        sa.column("id", sa.String()),
        sa.column("sha256", sa.String()),
        sa.column("media_type", sa.String()),
        sa.column("phash", sa.String()),
        *(sa.column(column, sa.Integer()) for column in BANDS),
    )
    conn = op.get_bind()
    last_id = ""
    recomputed = kept = 0
    while True:
        # keyset pages by id: bounded memory on a trail of millions of rows
        rows = conn.execute(
            sa.select(images.c.id, images.c.sha256, images.c.media_type, images.c.phash)
            .where(images.c.id > last_id)
            .order_by(images.c.id)
            .limit(BATCH)
        ).all()
        if not rows:
            break
        last_id = rows[-1].id
        for row in rows:
            phash = _hash_from_store(store, row.sha256, row.media_type)
            if phash is None:
                phash = row.phash
                kept += row.phash is not None
            else:
                recomputed += 1
            if phash is None:
                continue
            conn.execute(
                images.update()
                .where(images.c.id == row.id)
                .values(phash=phash, **dict(zip(BANDS, _bands(phash), strict=True)))
            )
    if recomputed or kept:
        log.info("perceptual hashes recomputed from the artifact store: %d", recomputed)
    if kept:
        log.warning(
            "%d images have no bytes in the artifact store %s: their perceptual hashes were kept "
            "as computed before (brandgate's own DCT, within a few bits of imagehash's)",
            kept, store.root,
        )


def _hash_from_store(store: Any, sha256: str, media_type: str | None) -> str | None:
    import imagehash
    from PIL import Image

    suffix = SUFFIX_BY_MEDIA_TYPE.get(media_type or "", ".png")
    try:
        data = store.read(sha256, suffix, verify=False)
        with Image.open(io.BytesIO(data)) as picture:
            return str(imagehash.phash(picture.convert("RGB")))
    except Exception:  # missing, unreadable or undecodable bytes: keep the stored hash
        return None


def _bands(phash: str) -> tuple[int, ...]:
    return tuple(int(phash[i : i + 4], 16) for i in range(0, 16, 4))

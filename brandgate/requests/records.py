"""What a run records of each image: its check rows, the generation record as plain JSON, the
model revision and peak memory it ran with, and the ingredients its credentials name."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from PIL import Image as PILImage

from brandgate.db.models import CheckResultRow
from brandgate.requests.image_formats import encode_uncompressed_png
from pipeline.provenance.signer import Ingredient
from policies.engine import CheckResult


def check_rows(image_id: str, checks: Sequence[CheckResult]) -> list[CheckResultRow]:
    return [
        CheckResultRow(
            image_id=image_id,
            check_id=c.id,
            name=c.name,
            status=c.status,
            severity=c.severity,
            confidence=float(c.confidence),
            message=c.message,
            evidence=jsonable(dict(c.evidence)),
            duration_ms=round(c.duration_ms, 3),
        )
        for c in checks
    ]


def jsonable(value: Any) -> Any:
    """Plain JSON for a JSON column: numpy numbers become Python ones, tuples lists, and NaN or
    infinity (which PostgreSQL's json type refuses) null."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str | int | bool) or value is None:
        return value
    item = getattr(value, "item", None)
    if callable(item):
        return jsonable(item())
    return str(value)


def generation_record(generated: Any) -> dict[str, Any]:
    """The frozen config that made an image (profile, model hash, seed, versions), as plain JSON."""
    record: dict[str, Any] = jsonable(dict(generated.record or {}))
    return record


def peak_memory(generated: Any) -> int | None:
    value = getattr(generated, "peak_memory_bytes", None)
    return int(value) if value is not None else None


def memory_kind(generated: Any) -> str | None:
    """`cuda` (peak allocated on the GPU) or `rss` (peak resident memory on CPU)."""
    value = str(getattr(generated, "peak_memory_kind", "") or "")
    if not value:
        return None
    return "cuda" if "cuda" in value else "rss"


def model_revision(record: dict[str, Any]) -> str:
    """The content hash of the model folder that made the image (the generator records it)."""
    model = record.get("model")
    if isinstance(model, dict) and model.get("content_hash"):
        return str(model["content_hash"])
    return "unknown"


def ingredient_list(composition: Any, background: PILImage.Image) -> list[Any]:
    """Provenance ingredients of a composited image: the generated background and the logo file.

    The background is never stored, only hashed into the credentials, so it is written as PNG
    without compression (Pillow's compress_level 0): about a quarter of the time of the default
    level, which takes hundreds of milliseconds for a 1024² image and was most of `composing`.
    """
    made: list[Any] = [Ingredient.background(encode_uncompressed_png(background), "image/png")]
    for entry in composition.ingredients:
        path = entry.get("path")
        if entry.get("role") == "logo" and path and Path(path).is_file():
            media = "image/svg+xml" if str(path).endswith(".svg") else "image/png"
            made.append(Ingredient.logo(Path(path).read_bytes(), media, title=f"logo {entry.get('variant', '')}"))
    return made

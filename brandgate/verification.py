"""`verify`: check a file's content credentials, and find it in the audit trail when they are gone."""

from __future__ import annotations

import io
import logging
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from brandgate.errors import EXIT_FLAG, EXIT_NO_CREDENTIALS, EXIT_OK, EXIT_REJECT, UserError
from brandgate.settings import Settings
from pipeline.provenance import Credentials, CredentialsUnreadable, Verifier

log = logging.getLogger(__name__)

# The exit codes of `brandgate verify` (docs/cli.md).
EXIT_BY_STATE = {
    "trusted": EXIT_OK,
    "valid": EXIT_FLAG,
    "invalid": EXIT_REJECT,
    "no_credentials": EXIT_NO_CREDENTIALS,
}


def read_within_limit(path: Path, limit: int, what: str = "file") -> bytes:
    """The bytes of `path`, refused from its size alone when over `limit` (nothing is read then)."""
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UserError(f"{what} {path} does not exist") from None
    except OSError as exc:
        raise UserError(f"{what} {path} cannot be examined ({exc.strerror})") from None
    if stat.S_ISDIR(info.st_mode):
        raise UserError(f"{what} {path} is a folder; give one file")
    if not stat.S_ISREG(info.st_mode):
        raise UserError(f"{what} {path} is not a regular file")
    if info.st_size == 0:
        raise UserError(f"{what} {path} is empty (0 bytes)")
    if info.st_size > limit:
        raise UserError(
            f"{what} {path} is {info.st_size:,} bytes, over the {limit:,}-byte limit "
            "(raise BRANDGATE_MAX_IMAGE_BYTES to verify larger files)"
        )
    try:
        with path.open("rb") as handle:
            # Read one byte past the limit: the file may have grown since stat().
            data = handle.read(limit + 1)
    except OSError as exc:
        raise UserError(f"{what} {path} cannot be read ({exc.strerror})") from None
    if len(data) > limit:
        raise UserError(f"{what} {path} grew past the {limit:,}-byte limit while being read")
    return data


@dataclass(frozen=True)
class VisualMatch:
    """An image of ours that looks like the file (perceptual-hash distance in bits of 64)."""

    image_id: str
    request_id: str
    distance: int
    kind: str
    created_at: str | None


@dataclass(frozen=True)
class Lookup:
    """The outcome of looking a file up in the audit database by what it looks like."""

    status: Literal["match", "no_match", "not_possible"]
    detail: str
    best: VisualMatch | None = None
    others: tuple[VisualMatch, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "detail": self.detail,
            "match": None if self.best is None else self.best.__dict__,
            "other_matches": [m.__dict__ for m in self.others],
        }


def perceptual_hash_of(data: bytes, max_pixels: int) -> str:
    """The 64-bit perceptual hash of image bytes; ValueError when they are not a decodable image."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    from policies.creative import unreadable_image_reason
    from policies.perceptual import phash_hex

    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            rgb = np.asarray(image.convert("RGB")) if width * height <= max_pixels else None
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        raise ValueError(f"cannot decode the image: {unreadable_image_reason(exc, data)}") from exc
    if rgb is None:
        raise ValueError(f"{width}x{height} is over the {max_pixels:,}-pixel limit")
    return phash_hex(rgb)


def find_visual_match(data: bytes, settings: Settings, max_distance: int | None = None) -> Lookup:
    """Look the image up among the audit trail's images by perceptual hash. Never raises.

    The hash bands' indexes find exactly the images within `max_distance` that comparing every
    stored hash would (brandgate/db/visual_index.py); the detail names the method used.
    """
    max_distance = settings.visual_match_max_distance if max_distance is None else max_distance
    try:
        wanted = perceptual_hash_of(data, settings.max_image_pixels)
    except ValueError as exc:
        return Lookup("not_possible", f"lookup not possible: {exc}")
    try:
        found, method = _images_within(settings, wanted, max_distance)
    except _LookupUnavailable as exc:
        return Lookup("not_possible", f"lookup not possible: {exc}")
    if not found:
        how = "by the hash index" if method == "index" else "comparing every stored hash"
        return Lookup(
            "no_match",
            f"no image in the audit database is within distance {max_distance} of it (searched {how})",
        )
    best = found[0]
    return Lookup(
        "match",
        f"visually matches image {best.image_id} of request {best.request_id} (distance {best.distance})",
        best=best,
        others=tuple(found[1:6]),
    )


class _LookupUnavailable(Exception):
    pass


def _images_within(settings: Settings, wanted: str, max_distance: int) -> tuple[list[VisualMatch], str]:
    """Images within `max_distance` of `wanted`, nearest (then oldest) first, and the method used."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    from brandgate.db.engine import READ_ONLY, make_engine
    from brandgate.db.models import PHASH_BAND_COLUMNS, Image
    from brandgate.db.visual_index import Method, close_hashes, images_with

    try:
        url = make_url(settings.database_url)
    except ArgumentError as exc:
        raise _LookupUnavailable(f"BRANDGATE_DATABASE_URL is not a database URL ({exc})") from None
    # Connecting to a missing SQLite file would create an empty one: a lookup must not.
    is_sqlite_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if is_sqlite_file and not Path(str(url.database)).is_file():
        raise _LookupUnavailable(f"no audit database at {url.database}")
    engine = make_engine(settings)
    try:
        with engine.connect().execution_options(**READ_ONLY) as conn:
            schema = inspect(conn)
            if not schema.has_table(Image.__tablename__):
                raise _LookupUnavailable("the audit database has no images table yet (run `brandgate db upgrade`)")
            # A database not yet upgraded to the hash bands is still searched, the slow way.
            columns = {column["name"] for column in schema.get_columns(Image.__tablename__)}
            method: Method | None = None if set(PHASH_BAND_COLUMNS) <= columns else "scan"
            close = close_hashes(conn, wanted, max_distance, method)
            rows = images_with(conn, sorted(close.distances))
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise _LookupUnavailable(f"the audit database cannot be read ({reason})") from None
    finally:
        engine.dispose()
    found = sorted(
        (
            VisualMatch(
                image_id=row.id,
                request_id=row.request_id,
                distance=close.distances[row.phash],
                kind=row.kind,
                created_at=None if row.created_at is None else row.created_at.isoformat(),
            )
            for row in rows
        ),
        key=lambda m: (m.distance, m.created_at or "", m.image_id),
    )
    return found, close.method


@dataclass(frozen=True)
class VerifyReport:
    file: Path
    manifest: Path | None
    credentials: Credentials
    lookup: Lookup | None

    @property
    def exit_code(self) -> int:
        return EXIT_BY_STATE[self.credentials.state]

    @property
    def summary(self) -> str:
        c = self.credentials
        if c.state == "no_credentials":
            tail = f"; {self.lookup.detail}" if self.lookup else ""
            if c.remote_manifest is not None:
                return f"{c.problem}{tail}"
            return f"no credentials{tail}"
        if c.state == "invalid":
            reasons = ", ".join(c.failure_codes) or c.problem or "validation failed"
            tail = f"; {self.lookup.detail}" if self.lookup and self.lookup.status == "match" else ""
            return f"invalid or tampered ({reasons}){tail}"
        signer = c.signer.subject if c.signer else "unknown signer"
        if c.state == "valid":
            return f"valid, but the signer is not trusted ({signer} does not chain to a configured trust anchor)"
        return f"trusted: signed by {signer}"

    def to_json(self) -> dict[str, Any]:
        c = self.credentials
        governance: dict[str, Any] | None = c.governance_raw
        return {
            "file": str(self.file),
            "manifest": None if self.manifest is None else str(self.manifest),
            "state": c.state,
            "exit_code": self.exit_code,
            "summary": self.summary,
            "validation_state": c.validation_state,
            "manifest_source": c.manifest_source,
            "claim_generator": c.claim_generator,
            "title": c.title,
            "signer": None if c.signer is None else c.signer.__dict__,
            "signing_time": c.signing_time,
            "signing_time_source": c.signing_time_source,
            "actions": list(c.actions),
            "ingredients": list(c.ingredients),
            "governance": governance,
            "governance_error": c.governance_error,
            "unknown_assertions": list(c.unknown_assertions),
            "validation_codes": {
                "success": [v.code for v in c.success],
                "informational": [v.code for v in c.informational],
                "failure": [{"code": v.code, "explanation": v.explanation} for v in c.failure],
            },
            "problem": c.problem,
            "remote_manifest": c.remote_manifest,
            "lookup": None if self.lookup is None else self.lookup.to_json(),
        }


def verify_file(path: Path, settings: Settings, manifest: Path | None = None) -> VerifyReport:
    """Verify `path` (and its sidecar `manifest` when given) against the configured trust anchors."""
    data = read_within_limit(path, settings.max_image_bytes)
    store = None if manifest is None else read_within_limit(manifest, settings.max_image_bytes, "manifest")
    return verify_bytes(data, settings, path, manifest=manifest, manifest_store=store)


def verify_bytes(
    data: bytes,
    settings: Settings,
    name: Path,
    *,
    manifest: Path | None = None,
    manifest_store: bytes | None = None,
) -> VerifyReport:
    """Verify bytes already in memory (a file shared in Slack); `name` is how messages call the file."""
    if not data:
        raise UserError(f"{name} is empty (0 bytes)")
    if len(data) > settings.max_image_bytes:
        raise UserError(f"{name} is {len(data):,} bytes, over the {settings.max_image_bytes:,}-byte limit")
    verifier = Verifier.from_settings(settings)
    try:
        credentials = verifier.read(data, manifest_store=manifest_store)
    except CredentialsUnreadable as exc:
        raise UserError(f"{manifest if exc.in_sidecar else name}: {exc.detail}") from None
    lookup = None
    if credentials.state in ("no_credentials", "invalid"):
        lookup = find_visual_match(data, settings)
    return VerifyReport(file=name, manifest=manifest, credentials=credentials, lookup=lookup)

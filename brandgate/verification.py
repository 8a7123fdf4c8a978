"""`verify`: check a file's content credentials, and find it in the audit trail when they are gone."""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from brandgate.errors import EXIT_FLAG, EXIT_NO_CREDENTIALS, EXIT_OK, EXIT_REJECT, EXIT_VISUAL_MATCH, UserError
from brandgate.requests.decisions import needs_a_person
from brandgate.settings import Settings
from pipeline.provenance.credentials import Credentials, CredentialsUnreadable
from pipeline.provenance.media import SNIFF_BYTES, sniff_media_type
from pipeline.provenance.sidecar import sidecar_path
from pipeline.provenance.verifier import Verifier
from policies.bounded_read import read_bounded

log = logging.getLogger(__name__)

# The exit codes of `brandgate verify` (docs/cli.md).
EXIT_BY_STATE = {
    "trusted": EXIT_OK,
    "valid": EXIT_FLAG,
    "invalid": EXIT_REJECT,
    "no_credentials": EXIT_NO_CREDENTIALS,
}


# The smallest side a JPEG is decoded at for its perceptual hash: eight times the hash's 32-pixel grid.
DRAFT_SIDE = 256
# Chain events read per statement when many credentials' anchors are checked together.
ANCHOR_BATCH = 500


def read_within_limit(path: Path, limit: int, what: str = "image") -> bytes:
    """The bytes of a file to verify, refused from its size alone when over `limit` (nothing is read then)."""
    return read_bounded(path, limit, what, allow_empty=False,
                        over_limit_hint=" (raise BRANDGATE_MAX_IMAGE_BYTES to verify larger files)")


@dataclass(frozen=True)
class VisualMatch:
    """An image of ours that looks like the file (perceptual-hash distance in bits of 64)."""

    image_id: str
    request_id: str
    distance: int
    kind: str
    created_at: str | None
    verdict: str | None = None  # what the checks said of the matched image
    decision: str | None = None  # a brand manager's approved or rejected; None: not decided
    decided_by: str | None = None
    decided_at: str | None = None
    # for an HQ export, the preview whose decision stands for it (the export itself is not decided)
    decided_on_preview: str | None = None

    def standing(self) -> str:
        """The matched image's verdict and decision in words: "verdict flag, approved by slack:T1:U2"."""
        said = f"verdict {self.verdict or 'unknown'}"
        if self.decision:
            when = f" at {self.decided_at}" if self.decided_at else ""
            of = f" (on the preview {self.decided_on_preview} it was exported from)" if self.decided_on_preview else ""
            return f"{said}, {self.decision} by {self.decided_by}{when}{of}"
        if needs_a_person(self.verdict or ""):
            return f"{said}, not decided by a brand manager"
        return said


@dataclass(frozen=True)
class Lookup:
    """The outcome of looking a file up in the audit database by what it looks like."""

    status: Literal["match", "no_match", "not_possible"]
    detail: str
    best: VisualMatch | None = None
    others: tuple[VisualMatch, ...] = ()
    # how the trail was searched: "index" (the hash bands) or "scan" (every stored hash); None: not at all
    method: str | None = None
    max_distance: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "detail": self.detail,
            "match": None if self.best is None else self.best.__dict__,
            "other_matches": [m.__dict__ for m in self.others],
            "method": self.method,
            "max_distance": self.max_distance,
        }


def perceptual_hash_of(data: bytes, max_pixels: int) -> str:
    """The 64-bit perceptual hash of image bytes; ValueError when they are not a decodable image.

    A JPEG is decoded at a quarter or an eighth of its size (its DCT scaled in the decoder, `draft`),
    never below DRAFT_SIDE: the hash looks at a 32-pixel greyscale copy, so the full decode is
    work thrown away, and it is most of a lookup's cost. The hash of such a decode is within a bit
    or two of the full decode's (benchmarks/verify_speed.py prints the largest difference); the
    lookup accepts distances of several bits, as a re-encoded copy needs anyway.
    """
    from PIL import Image, UnidentifiedImageError

    # Lazy, like the database below: only a file without valid credentials is looked up.
    from policies.perceptual import phash_hex

    picture = None
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height <= max_pixels:
                if image.format == "JPEG":
                    image.draft("RGB", (DRAFT_SIDE, DRAFT_SIDE))
                picture = image.convert("RGB")
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, SyntaxError, ValueError) as exc:
        # Lazy: policies.creative loads OpenCV, a cost only a file that does not decode should pay.
        from policies.creative import unreadable_image_reason

        raise ValueError(f"cannot decode the image: {unreadable_image_reason(exc, data)}") from exc
    if picture is None:
        raise ValueError(f"{width}x{height} is over the {max_pixels:,}-pixel limit")
    return phash_hex(picture)


def find_visual_match(data: bytes, settings: Settings, max_distance: int | None = None) -> Lookup:
    """Look the image up among the audit trail's images by perceptual hash. Never raises.

    The hash bands' indexes find exactly the images within `max_distance` that comparing every
    stored hash would (brandgate/db/visual_index.py); the detail names the method used.
    """
    try:
        wanted = perceptual_hash_of(data, settings.max_image_pixels)
    except ValueError as exc:
        return lookup_not_possible(exc)
    return find_visual_matches([wanted], settings, max_distance)[0]


def lookup_not_possible(reason: object) -> Lookup:
    return Lookup("not_possible", f"lookup not possible: {reason}")


def find_visual_matches(wanted: Sequence[str], settings: Settings, max_distance: int | None = None) -> list[Lookup]:
    """`find_visual_match` for many perceptual hashes at once, on one connection. Never raises."""
    max_distance = settings.visual_match_max_distance if max_distance is None else max_distance
    if not wanted:
        return []
    try:
        each_found, method = _images_within(settings, wanted, max_distance)
    except _LookupUnavailable as exc:
        return [lookup_not_possible(exc)] * len(wanted)
    if method == "scan":
        log.info("visual lookup compared every stored hash (distance %d is past the index's reach, "
                 "or the database predates it)", max_distance)  # fmt: skip
    return [_lookup_of(found, method, max_distance) for found in each_found]


def _lookup_of(found: list[VisualMatch], method: str, max_distance: int) -> Lookup:
    if not found:
        how = "by the hash index" if method == "index" else "comparing every stored hash"
        return Lookup(
            "no_match",
            f"no image in the audit database is within distance {max_distance} of it (searched {how})",
            method=method,
            max_distance=max_distance,
        )
    best = found[0]
    return Lookup(
        "match",
        f"visually matches image {best.image_id} of request {best.request_id} (distance {best.distance}):"
        f" {best.standing()}",
        best=best,
        others=tuple(found[1:6]),
        method=method,
        max_distance=max_distance,
    )


class _LookupUnavailable(Exception):
    pass


def _trail_engine(settings: Settings) -> Any:
    """An engine on the audit database, for reading only; never creates an SQLite file."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    # Lazy: `verify` of a signed file never opens the database, so it does not load it either.
    from brandgate.db.engine import READ_ONLY, process_engine

    try:
        url = make_url(settings.database_url)
    except ArgumentError as exc:
        raise _LookupUnavailable(f"BRANDGATE_DATABASE_URL is not a database URL ({exc})") from None
    # Connecting to a missing SQLite file would create an empty one: a lookup must not.
    is_sqlite_file = url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:")
    if is_sqlite_file and not Path(str(url.database)).is_file():
        raise _LookupUnavailable(f"no audit database at {url.database}")
    return process_engine(settings).execution_options(**READ_ONLY)


def _images_within(settings: Settings, wanted: Sequence[str], max_distance: int) -> tuple[list[list[VisualMatch]], str]:
    """For each of `wanted`: images within `max_distance`, nearest (then oldest) first; the method used."""
    # Lazy, like the engine above: only a file without valid credentials is looked up.
    from sqlalchemy import inspect, select
    from sqlalchemy.exc import SQLAlchemyError

    # Lazy, as above: our database modules load only for a lookup.
    from brandgate.db.models import PHASH_BAND_COLUMNS, Image
    from brandgate.db.visual_index import Method, close_hashes_of_many, decisions_on, images_with

    engine = _trail_engine(settings)
    try:
        with engine.connect() as conn:
            schema = inspect(conn)
            if not schema.has_table(Image.__tablename__):
                raise _LookupUnavailable("the audit database has no images table yet (run `brandgate db upgrade`)")
            # A database not yet upgraded to the hash bands is still searched, the slow way.
            columns = {column["name"] for column in schema.get_columns(Image.__tablename__)}
            method: Method | None = None if set(PHASH_BAND_COLUMNS) <= columns else "scan"
            each_close = close_hashes_of_many(conn, wanted, max_distance, method)
            rows = images_with(conn, sorted({phash for close in each_close for phash in close.distances}))
            decided = decisions_on(conn, [(row.id, row.parent_image_id) for row in rows])
            ids = [row.id for row in rows]
            verdicts = dict(conn.execute(select(Image.id, Image.verdict).where(Image.id.in_(ids))).all()) if ids else {}
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        raise _LookupUnavailable(f"the audit database cannot be read ({reason})") from None

    def match(row: Any, distance: int) -> VisualMatch:
        decision = decided.get(row.id)
        return VisualMatch(
            image_id=row.id,
            request_id=row.request_id,
            distance=distance,
            kind=row.kind,
            created_at=None if row.created_at is None else row.created_at.isoformat(),
            verdict=verdicts.get(row.id),
            decision=decision.decision if decision is not None else None,
            decided_by=decision.decided_by if decision is not None else None,
            decided_at=decision.decided_at if decision is not None else None,
            decided_on_preview=decision.on_preview if decision is not None else None,
        )

    each_found = [
        sorted(
            (match(row, close.distances[row.phash]) for row in rows if row.phash in close.distances),
            key=lambda m: (m.distance, m.created_at or "", m.image_id),
        )
        for close in each_close
    ]
    return each_found, each_close[0].method


@dataclass(frozen=True)
class AnchorCheck:
    """The credential's trail anchor (the chain head when it was signed) held against the audit trail."""

    status: Literal["held", "rewritten", "other_trail", "not_checked"]
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail}


Subjects = tuple[str | None, str | None]  # the credential's request and image IDs


def check_trail_anchor(seq: int, digest: str, settings: Settings, subjects: Subjects = (None, None)) -> AnchorCheck:
    """Does the trail still hold event `seq` with `digest`? Never raises: an unreachable trail is not_checked.

    `subjects` are the credential's request and image IDs. A trail that does not hold the anchor,
    knows neither of them and whose own chain is intact is another trail (a staging database, a
    second deployment), not this one tampered with: `other_trail`, which a person must look at.
    """
    return check_trail_anchors([(seq, digest, subjects)], settings)[0]


def check_trail_anchors(anchors: Sequence[tuple[int, str, Subjects]], settings: Settings) -> list[AnchorCheck]:
    """`check_trail_anchor` for each (seq, digest, subjects) of many credentials, on one connection."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    # Lazy: `verify` loads the database only when a credential names a trail to check.
    from brandgate.db.models import AuditEvent

    if not anchors:
        return []
    try:
        engine = _trail_engine(settings)
    except _LookupUnavailable as exc:
        return [AnchorCheck("not_checked", f"trail anchor seq {seq} not checked: {exc}") for seq, _, _ in anchors]
    table = AuditEvent.__table__
    wanted = sorted({seq for seq, _, _ in anchors})
    try:
        with engine.connect() as conn:
            events = {}
            for start in range(0, len(wanted), ANCHOR_BATCH):
                chunk = wanted[start : start + ANCHOR_BATCH]
                events.update({row.seq: row for row in conn.execute(select(table).where(table.c.seq.in_(chunk)))})
            head = conn.execute(select(table.c.seq).order_by(table.c.seq.desc()).limit(1)).scalar()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return [AnchorCheck("not_checked", f"trail anchor seq {seq} not checked: the audit database cannot be read "
                                           f"({reason})") for seq, _, _ in anchors]  # fmt: skip
    return [_anchor_held(seq, digest, events.get(seq), head, engine, subjects) for seq, digest, subjects in anchors]


def _anchor_held(seq: int, digest: str, row: Any, head: int | None, engine: Any, subjects: Subjects) -> AnchorCheck:
    # Lazy, like the database it hashes rows of: only credentials that name a trail get here.
    from brandgate.db.audit import event_hash

    if (row is None or row.hash != digest) and _another_trail(engine, subjects):
        detail = (f"this credential was recorded in a different audit trail: this one never saw its request "
                  f"{subjects[0]} and is intact to seq {head or 0}; verify it against the trail that made it "
                  "(BRANDGATE_DATABASE_URL)")  # fmt: skip
        return AnchorCheck("other_trail", detail)
    if row is None:
        return AnchorCheck("rewritten", f"the audit trail was cut under this credential: it was signed at chain "
                                        f"seq {seq}, the trail now ends at seq {head or 0}")  # fmt: skip
    if row.hash != digest:
        return AnchorCheck("rewritten", f"the audit trail was rewritten under this credential: event seq {seq} is "
                                        f"not the one it was signed at (hash {digest[:16]}…)")  # fmt: skip
    if event_hash(row) != row.hash:
        return AnchorCheck("rewritten", f"the audit trail's event seq {seq}, which this credential anchors, was "
                                        "edited: it no longer matches its hash")  # fmt: skip
    return AnchorCheck("held", f"the audit trail still holds chain seq {seq} as signed")


def _another_trail(engine: Any, subjects: tuple[str | None, str | None]) -> bool:
    """True when no event of this trail is about the credential's request or image and the trail's
    own chain is intact (a cut or rewritten trail that still holds the request stays `rewritten`)."""
    from sqlalchemy import and_, or_, select
    from sqlalchemy.exc import SQLAlchemyError

    # Lazy: only a credential that does not hold in this trail asks whether it is another's.
    from brandgate.db.audit import verify_chain
    from brandgate.db.models import AuditEvent

    request_id, image_id = subjects
    if not request_id:
        return False
    table = AuditEvent.__table__
    about = [and_(table.c.subject_type == "request", table.c.subject_id == request_id)]
    if image_id:
        about.append(and_(table.c.subject_type == "image", table.c.subject_id == image_id))
    try:
        with engine.connect() as conn:
            if conn.execute(select(table.c.seq).where(or_(*about)).limit(1)).first() is not None:
                return False
        return bool(verify_chain(engine).intact)
    except SQLAlchemyError:
        return False


@dataclass(frozen=True)
class RecordCheck:
    """The image's record proven into the trail's latest signed tree head, and that head against the credential's."""

    status: Literal["held", "missing", "changed", "not_checked"]
    detail: str
    proof: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {"status": self.status, "detail": self.detail, "proof": self.proof}


def check_record(image_id: str, tree_size: int, tree_root: str, settings: Settings) -> RecordCheck:
    """Prove the image's recording event into the latest signed head, and that head consistent with the one
    the credential was signed under. Never raises: an unreachable trail or no trail key is not_checked."""
    return check_records([(image_id, tree_size, tree_root)], settings)[0]


def check_records(records: Sequence[tuple[str, int, str]], settings: Settings) -> list[RecordCheck]:
    """`check_record` for each (image ID, tree size, tree root) of many credentials, in one transaction.

    The latest head and the trail key are read once for all of them; an image named by several
    files is proven once, and a head that several credentials were signed under is proven
    consistent with the latest once: a folder of files costs a proof per image, not per file.
    """
    from sqlalchemy.exc import SQLAlchemyError

    # Lazy: only credentials that promise a record load the database and the trail key.
    from brandgate.db.tree import check_consistency, latest_head, prove_image
    from brandgate.errors import ConfigError
    from brandgate.trail_key import checking_trail_key

    if not records:
        return []
    try:
        engine = _trail_engine(settings)
        key = checking_trail_key(settings)
    except (_LookupUnavailable, ConfigError) as exc:
        return [RecordCheck("not_checked", f"record of image {image_id} not checked: {exc}")
                for image_id, _, _ in records]  # fmt: skip
    proven: dict[str, Any] = {}
    consistent: dict[tuple[int, str], Any] = {}
    try:
        with engine.connect() as conn, conn.begin():
            head = latest_head(conn)
            for image_id, tree_size, tree_root in records:
                if image_id not in proven:
                    proven[image_id] = prove_image(conn, image_id, head, key)
                wanted = (tree_size, tree_root)
                if (head is not None and proven[image_id].status in ("held", "not_checked") and tree_size > 0
                        and wanted not in consistent):  # fmt: skip
                    consistent[wanted] = check_consistency(conn, tree_size, bytes.fromhex(tree_root), head)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        return [RecordCheck("not_checked", f"record of image {image_id} not checked: the audit database cannot be "
                                           f"read ({reason})") for image_id, _, _ in records]  # fmt: skip
    checks = []
    for image_id, tree_size, tree_root in records:
        proof = proven[image_id]
        found = proof.to_json(key)
        consistency = None
        if head is not None and proof.status in ("held", "not_checked") and tree_size > 0:
            consistency = consistent[(tree_size, tree_root)]
        if consistency is not None:
            found["since_credential_head"] = consistency.to_json()
            if not consistency.consistent:
                checks.append(RecordCheck("changed", "the audit trail was rewritten under this credential: "
                                                     f"{consistency.detail}", found))  # fmt: skip
                continue
        checks.append(RecordCheck(proof.status, proof.detail, found))
    return checks


@dataclass(frozen=True)
class VerifyReport:
    file: Path
    manifest: Path | None
    credentials: Credentials
    lookup: Lookup | None
    anchor: AnchorCheck | None = None
    record: RecordCheck | None = None

    @property
    def exit_code(self) -> int:
        if self.anchor is not None and self.anchor.status == "rewritten":
            return EXIT_REJECT
        if self.anchor is not None and self.anchor.status == "other_trail":
            return max(EXIT_FLAG, EXIT_BY_STATE[self.credentials.state])
        if self.record is not None and self.record.status in ("missing", "changed"):
            return EXIT_REJECT
        if self.credentials.state == "no_credentials" and self.lookup is not None and self.lookup.status == "match":
            return EXIT_VISUAL_MATCH  # stripped or re-encoded, but one of ours: not the same as unknown
        return EXIT_BY_STATE[self.credentials.state]

    @property
    def summary(self) -> str:
        c = self.credentials
        if c.state == "no_credentials":
            tail = f"; {self.lookup.detail}" if self.lookup else ""
            if c.remote_manifest is not None or c.removed_manifest is not None:
                return f"{c.problem}{tail}"
            return f"no credentials{tail}"
        if c.state == "invalid":
            reasons = ", ".join(c.failure_codes) or c.problem or "validation failed"
            tail = f"; {self.lookup.detail}" if self.lookup and self.lookup.status == "match" else ""
            return f"invalid or tampered ({reasons}){tail}"
        signer = c.signer.subject if c.signer else "unknown signer"
        if self.anchor is not None and self.anchor.status in ("rewritten", "other_trail"):
            return f"credentials {c.state}, but {self.anchor.detail}"
        if self.record is not None and self.record.status in ("missing", "changed"):
            return f"credentials {c.state}, but {self.record.detail}"
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
            "removed_manifest": c.removed_manifest,
            "lookup": None if self.lookup is None else self.lookup.to_json(),
            "trail_anchor": None if self.anchor is None else self.anchor.to_json(),
            "trail_record": None if self.record is None else self.record.to_json(),
        }


def needs_lookup(credentials: Credentials) -> bool:
    """Credentials that prove nothing about the file: it is looked up in the trail by its looks."""
    return credentials.state in ("no_credentials", "invalid")


def trail_anchor_of(credentials: Credentials) -> tuple[int, str, Subjects] | None:
    """The (seq, hash) of the chain head valid credentials were signed at, with the request and
    image they name, when they carry one."""
    governance = credentials.governance
    if governance is None or governance.trail is None:
        return None
    return governance.trail.seq, governance.trail.hash, (governance.request_id, governance.image_id)


def record_to_prove(credentials: Credentials, anchor: AnchorCheck) -> tuple[str, int, str] | None:
    """(image ID, tree size, tree root) of a credential signed under a tree head, when its record
    can be proven here: a credential of another, intact trail has no record here to prove."""
    governance = credentials.governance
    trail = governance.trail if governance is not None else None
    if governance is None or trail is None or anchor.status == "other_trail":
        return None
    if trail.tree_size is None or trail.tree_root is None or governance.image_id is None:
        return None
    return governance.image_id, trail.tree_size, trail.tree_root


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
    consult_trail: bool = True,
    verifier: Verifier | None = None,
) -> VerifyReport:
    """Verify bytes already in memory (a file shared in Slack); `name` is how messages call the file.

    `consult_trail` False leaves the audit database alone (no lookup, no anchor or record check): a
    caller verifying many files consults it once for all of them (brandgate/verify_many.py).
    """
    if not data:
        raise UserError(f"{name} is empty (0 bytes)")
    if len(data) > settings.max_image_bytes:
        raise UserError(f"{name} is {len(data):,} bytes, over the {settings.max_image_bytes:,}-byte limit")
    verifier = verifier or Verifier.from_settings(settings)
    try:
        credentials = verifier.read(data, manifest_store=manifest_store)
    except CredentialsUnreadable as exc:
        raise UserError(f"{manifest if exc.in_sidecar else name}: {exc.detail}") from None
    lookup = anchor = record = None
    if not consult_trail:
        pass
    elif needs_lookup(credentials):
        lookup = find_visual_match(data, settings)
    elif (trail := trail_anchor_of(credentials)) is not None:
        seq, digest, subjects = trail
        anchor = check_trail_anchor(seq, digest, settings, subjects)
        if (proving := record_to_prove(credentials, anchor)) is not None:
            record = check_record(*proving, settings)
    return VerifyReport(file=name, manifest=manifest, credentials=credentials, lookup=lookup, anchor=anchor,
                        record=record)  # fmt: skip


@dataclass
class FolderAnchors:
    """The trail anchors carried by the credentials of every image under a folder."""

    anchors: dict[tuple[int, str], list[Path]]
    images: int = 0
    without_anchor: int = 0
    unreadable: list[str] | None = None

    def files_of(self, seq: int) -> list[Path]:
        return sorted(path for (at, _), paths in self.anchors.items() if at == seq for path in paths)


def anchors_under(folder: Path, settings: Settings) -> FolderAnchors:
    """Read every image's credentials under `folder`; only validly signed ones count as anchors.

    A credential whose signature fails could claim any anchor, so it is listed as unreadable
    rather than trusted to accuse (or clear) the trail.
    """
    if not folder.is_dir():
        raise UserError(f"--anchors {folder}: not a folder; give the folder holding published images")
    verifier = Verifier.from_settings(settings)
    found = FolderAnchors(anchors={}, unreadable=[])
    assert found.unreadable is not None
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix != ".c2pa"):
        try:
            with path.open("rb") as handle:
                if sniff_media_type(handle.read(SNIFF_BYTES)) is None:
                    continue
        except OSError as exc:
            found.unreadable.append(f"{path}: cannot be read ({exc.strerror or type(exc).__name__})")
            continue
        found.images += 1
        sidecar = sidecar_path(path)
        try:
            data = read_within_limit(path, settings.max_image_bytes)
            store = read_within_limit(sidecar, settings.max_image_bytes, "manifest") if sidecar.is_file() else None
            credentials = verifier.read(data, manifest_store=store)
        except (UserError, CredentialsUnreadable) as exc:
            found.unreadable.append(f"{path}: {exc}")
            continue
        if credentials.state == "invalid":
            found.unreadable.append(f"{path}: credentials invalid ({', '.join(credentials.failure_codes)})")
            continue
        trail = credentials.governance.trail if credentials.governance is not None else None
        if trail is None:
            found.without_anchor += 1
            continue
        found.anchors.setdefault((trail.seq, trail.hash), []).append(path)
    return found

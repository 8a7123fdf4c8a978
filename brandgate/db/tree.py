"""The Merkle tree over the audit trail: signed tree heads, inclusion and consistency proofs from the database.

Every event is a leaf, in seq order: leaf `i` is event seq `i + 1`, and its entry is the
32 bytes of the event's chain hash (which covers the event's canonical content and the hash
before it), so leaf hash = SHA-256(0x00 ‖ chain hash). Complete subtrees above the leaves are
stored in `audit_tree_nodes` when a head is made, so any proof costs O(log n) indexed reads.
A head is made only over events whose content, seq and links were re-checked as it is made:
a head never signs more than was verified.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine, and_, func, insert, or_, select

from brandgate.db import merkle
from brandgate.db.audit import GENESIS_HASH, EventRow, canonical_time, event_hash
from brandgate.db.engine import READ_ONLY
from brandgate.db.models import AuditEvent, AuditTreeHead, AuditTreeNode
from brandgate.errors import EXIT_REJECT, BrandgateError
from brandgate.trail_key import TrailKey

EVENTS = AuditEvent.__table__
NODES = AuditTreeNode.__table__
HEADS = AuditTreeHead.__table__
# Heads are made one at a time: the second maker waits, then finds the tree already extended.
TREE_LOCK_KEY = int.from_bytes(hashlib.sha256(b"brandgate.audit_tree.heads").digest()[:8], "big", signed=True)
SEAL_BATCH = 5000
HEAD_FORMAT = "brandgate audit tree head v1"


class TrailNotSigned(BrandgateError):
    """No head could be made: the trail is empty, or what it holds failed the re-check."""

    exit_code = EXIT_REJECT


class ProofUnavailable(BrandgateError):
    """The tree cannot prove what was asked (not under a head yet, or its stored subtrees are gone)."""

    exit_code = EXIT_REJECT


def head_message(size: int, root: bytes, created_at: datetime) -> bytes:
    """The exact bytes a head's signature covers."""
    return f"{HEAD_FORMAT}\nsize {size}\nroot {root.hex()}\ntime {canonical_time(created_at)}\n".encode()


@dataclass(frozen=True)
class TreeHead:
    """The first `size` events of the trail had Merkle root `root` at `created_at`, signed by `key_id`."""

    size: int
    root: bytes
    created_at: datetime
    key_id: str
    signature: bytes

    @property
    def message(self) -> bytes:
        return head_message(self.size, self.root, self.created_at)

    @property
    def text(self) -> str:
        """SIZE:ROOT, as `audit verify --since-head` takes it."""
        return f"{self.size}:{self.root.hex()}"

    def signed_by(self, key: TrailKey | None) -> bool:
        return key is not None and key.key_id == self.key_id and key.verifies(self.signature, self.message)

    def to_json(self, key: TrailKey | None = None) -> dict[str, Any]:
        return {
            "size": self.size,
            "root": self.root.hex(),
            "time": canonical_time(self.created_at),
            "key_id": self.key_id,
            "signature": self.signature.hex(),
            "signature_valid": None if key is None else self.signed_by(key),
        }


def _head(row: Any) -> TreeHead:
    return TreeHead(int(row.size), bytes.fromhex(row.root), row.created_at, row.key_id, bytes.fromhex(row.signature))


def latest_head(connection: Connection) -> TreeHead | None:
    row = connection.execute(select(HEADS).order_by(HEADS.c.size.desc()).limit(1)).first()
    return _head(row) if row is not None else None


def list_heads(connection: Connection, limit: int | None = None) -> list[TreeHead]:
    """Newest first."""
    statement = select(HEADS).order_by(HEADS.c.size.desc())
    if limit is not None:
        statement = statement.limit(limit)
    return [_head(row) for row in connection.execute(statement)]


def head_of_size(connection: Connection, size: int) -> TreeHead | None:
    row = connection.execute(select(HEADS).where(HEADS.c.size == size)).first()
    return _head(row) if row is not None else None


# --- reading complete subtrees ----------------------------------------------------------------------


def subtree_hashes(connection: Connection, wanted: Iterable[merkle.Subtree]) -> dict[merkle.Subtree, bytes]:
    """The stored hashes of complete subtrees: leaves from the events, the rest from audit_tree_nodes."""
    wanted = set(wanted)
    found: dict[merkle.Subtree, bytes] = {}
    leaves = sorted(position for level, position in wanted if level == 0)
    if leaves:
        rows = connection.execute(select(EVENTS.c.seq, EVENTS.c.hash).where(EVENTS.c.seq.in_([i + 1 for i in leaves])))
        for seq, digest in rows:
            found[(0, int(seq) - 1)] = merkle.leaf_hash(bytes.fromhex(digest))
    by_level: dict[int, list[int]] = {}
    for level, position in wanted:
        if level > 0:
            by_level.setdefault(level, []).append(position)
    if by_level:
        # One primary-key search per level: SQLite scans the whole table for a row-value IN list.
        nodes = connection.execute(
            select(NODES.c.level, NODES.c.position, NODES.c.hash).where(
                or_(*(and_(NODES.c.level == level, NODES.c.position.in_(sorted(positions)))
                      for level, positions in sorted(by_level.items())))
            )
        )  # fmt: skip
        for level, position, digest in nodes:
            found[(int(level), int(position))] = bytes(digest)
    missing = wanted - found.keys()
    if missing:
        level, position = min(missing)
        what = f"event seq {position + 1}" if level == 0 else f"subtree {level}/{position}"
        raise ProofUnavailable(f"the audit tree has no {what}: the trail or its stored subtrees were deleted")
    return found


def _spans_hashes(connection: Connection, spans: Sequence[merkle.Span]) -> list[bytes]:
    return merkle.resolve(spans, subtree_hashes(connection, merkle.needed(spans)))


def root_at(connection: Connection, size: int) -> bytes:
    """The root over the first `size` events, from stored subtrees (O(log n) reads)."""
    return merkle.fold(_spans_hashes(connection, [(0, size)])) if size else merkle.EMPTY_ROOT


# --- proofs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InclusionProof:
    """Event seq `seq` is leaf `seq - 1` of the tree under `head`: the hashes that lead to its root."""

    seq: int
    event_hash: str  # the chain hash the leaf is made of
    path: tuple[bytes, ...]
    head: TreeHead

    @property
    def leaf_index(self) -> int:
        return self.seq - 1

    def holds(self, entry_hash: str | None = None) -> bool:
        """Does the path lead from this leaf (or from `entry_hash`, recomputed by the caller) to the head's root?"""
        entry = bytes.fromhex(entry_hash or self.event_hash)
        return merkle.verify_inclusion(self.leaf_index, self.head.size, merkle.leaf_hash(entry), self.path,
                                       self.head.root)  # fmt: skip

    def to_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "seq": self.seq,
            "event_hash": self.event_hash,
            "leaf_hash": merkle.leaf_hash(bytes.fromhex(self.event_hash)).hex(),
            "tree_size": self.head.size,
            "root": self.head.root.hex(),
            "path": [p.hex() for p in self.path],
        }


def inclusion_proof(connection: Connection, seq: int, head: TreeHead) -> InclusionProof:
    if not 1 <= seq <= head.size:
        raise ProofUnavailable(f"event seq {seq} is not under the head of size {head.size}")
    spans = merkle.inclusion_spans(seq - 1, head.size)
    row = connection.execute(select(EVENTS.c.hash).where(EVENTS.c.seq == seq)).first()
    if row is None:
        raise ProofUnavailable(f"event seq {seq} is not in the trail (deleted)")
    return InclusionProof(seq, row.hash, tuple(_spans_hashes(connection, spans)), head)


def consistency_proof(connection: Connection, old_size: int, head: TreeHead) -> list[bytes]:
    return _spans_hashes(connection, merkle.consistency_spans(old_size, head.size))


@dataclass(frozen=True)
class ConsistencyCheck:
    """A published head held against the latest: is the latest an append-only extension of it?"""

    old_size: int
    old_root: bytes
    head: TreeHead | None
    proof: tuple[bytes, ...]
    consistent: bool
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {
            "since": {"size": self.old_size, "root": self.old_root.hex()},
            "head": None if self.head is None else {"size": self.head.size, "root": self.head.root.hex()},
            "proof": [p.hex() for p in self.proof],
            "consistent": self.consistent,
            "detail": self.detail,
        }


def check_consistency(connection: Connection, old_size: int, old_root: bytes, head: TreeHead) -> ConsistencyCheck:
    """Prove `head` extends the tree (old_size, old_root) without rewriting it; never trusts the database's word."""
    if old_size > head.size:
        return ConsistencyCheck(old_size, old_root, head, (), False,
                                f"the published head has {old_size} events but the latest has {head.size}: "
                                "events were deleted, or the latest head is older than the published one")  # fmt: skip
    try:
        proof = tuple(consistency_proof(connection, old_size, head))
    except ProofUnavailable as exc:
        return ConsistencyCheck(old_size, old_root, head, (), False, str(exc))
    if merkle.verify_consistency(old_size, head.size, old_root, head.root, proof):
        return ConsistencyCheck(old_size, old_root, head, proof, True,
                                f"the head of size {head.size} extends the published head of size {old_size}: "
                                f"its first {old_size} events are unchanged")  # fmt: skip
    return ConsistencyCheck(old_size, old_root, head, proof, False,
                            f"the trail was REWRITTEN under the published head {old_size}:{old_root.hex()[:16]}…: "
                            f"the head of size {head.size} does not extend it")  # fmt: skip


# --- one image's record ----------------------------------------------------------------------------

RecordStatus = Literal["held", "missing", "changed", "not_checked"]


@dataclass(frozen=True)
class RecordProof:
    """One image's recording event proven (or not) to be in the trail, unchanged, under a signed head."""

    image_id: str
    status: RecordStatus
    detail: str
    event: dict[str, Any] | None = None
    proof: InclusionProof | None = None
    head_signed: bool | None = None  # None: no trail key to check the head's signature with

    def to_json(self, key: TrailKey | None = None) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "status": self.status,
            "detail": self.detail,
            "event": self.event,
            "head": None if self.proof is None else self.proof.head.to_json(key),
            "inclusion": None if self.proof is None else self.proof.to_json(),
            "head_signed": self.head_signed,
        }


def recording_event(connection: Connection, image_id: str) -> Any:
    """The event that recorded the image (image.created or image.exported), by its indexed subject."""
    # Lazy: evidence imports this module's neighbours; only proofs need it.
    from brandgate.db.evidence import IMAGE_KINDS

    return connection.execute(
        select(EVENTS).where(EVENTS.c.subject_type == "image", EVENTS.c.subject_id == image_id,
                             EVENTS.c.kind.in_(IMAGE_KINDS)).order_by(EVENTS.c.seq).limit(1)
    ).first()  # fmt: skip


def prove_image(
    connection: Connection, image_id: str, head: TreeHead | None, key: TrailKey | None, *, event: Any = None
) -> RecordProof:
    """Prove the image's recording event is leaf seq-1 of `head`, its content unchanged; never raises on tampering."""
    row = event if event is not None else recording_event(connection, image_id)
    if row is None:
        return RecordProof(image_id, "missing", f"the audit trail holds no record of image {image_id} "
                                                "(its image.created event is missing)")  # fmt: skip
    described = {"seq": int(row.seq), "kind": row.kind, "hash": row.hash, "leaf_index": int(row.seq) - 1,
                 "payload": row.payload}  # fmt: skip
    if head is None:
        return RecordProof(image_id, "not_checked", "no signed tree head yet: make one with "
                                                    "`brandgate audit heads --make`", described)  # fmt: skip
    signed = None if key is None else head.signed_by(key)
    if key is not None and signed is False:
        return RecordProof(image_id, "changed", f"the latest tree head (size {head.size}) is not signed by the trail "
                                                f"key {key.key_id[:16]}…: it was forged or the key changed",
                           described, head_signed=False)  # fmt: skip
    if row.seq > head.size:
        return RecordProof(image_id, "not_checked", f"image {image_id} was recorded at seq {row.seq}, after the latest "
                                                    f"head (size {head.size}); make a new one with "
                                                    "`brandgate audit heads --make`", described,
                           head_signed=signed)  # fmt: skip
    content_hash = event_hash(row)
    try:
        proof = inclusion_proof(connection, int(row.seq), head)
    except ProofUnavailable as exc:
        return RecordProof(image_id, "changed", str(exc), described, head_signed=signed)
    if not proof.holds(content_hash):
        why = "was edited after it was recorded" if content_hash != row.hash else "is not the event the head covers"
        return RecordProof(image_id, "changed", f"the record of image {image_id} (event seq {row.seq}) {why}: it does "
                                                f"not prove into the head of size {head.size}", described, proof,
                           signed)  # fmt: skip
    rows_problem = _rows_problem(connection, image_id, row)
    if rows_problem is not None:
        return RecordProof(image_id, "changed", rows_problem, described, proof, signed)
    if signed is None:
        return RecordProof(image_id, "not_checked", f"the record of image {image_id} proves into the latest head "
                                                    f"(size {head.size}), but the head's signature was not checked: "
                                                    "no trail key (set BRANDGATE_TRAIL_PUBLIC_KEY)", described, proof,
                           None)  # fmt: skip
    return RecordProof(image_id, "held", f"the trail holds image {image_id}'s record unchanged: event seq {row.seq} "
                                         f"is leaf {row.seq - 1} of the signed head of size {head.size}",
                       described, proof, True)  # fmt: skip


def _rows_problem(connection: Connection, image_id: str, event: Any) -> str | None:
    """The image row and its check rows against the digest the proven event carries."""
    # Lazy: as above.
    from brandgate.db.evidence import CHECK_FIELDS, IMAGE_FIELDS, Recorded, check_image
    from brandgate.db.models import CheckResultRow, Image

    images, checks = Image.__table__, CheckResultRow.__table__
    image = connection.execute(select(*[images.c[f] for f in IMAGE_FIELDS]).where(images.c.id == image_id)).first()
    if image is None:
        return f"image {image_id}: its row is gone (deleted), though event seq {event.seq} recorded it"
    rows = connection.execute(select(*[checks.c[f] for f in CHECK_FIELDS]).where(checks.c.image_id == image_id))
    recorded = Recorded(int(event.seq), event.kind, event.actor, dict(event.payload), True)
    problems, _ = check_image(dict(image._mapping), [dict(r._mapping) for r in rows], recorded)
    return problems[0] if problems else None


# --- making heads -----------------------------------------------------------------------------------


def _lock_tree(connection: Connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(select(func.pg_advisory_xact_lock(TREE_LOCK_KEY)))


_EVENT_COLUMNS = [EVENTS.c[name] for name in EventRow._fields]


def _events_after(connection: Connection, seq: int, upto: int) -> Iterable[EventRow]:
    """Events seq+1..upto in order, a keyset page at a time (constant memory, no open cursor during writes)."""
    while seq < upto:
        page = connection.execute(
            select(*_EVENT_COLUMNS).where(EVENTS.c.seq > seq, EVENTS.c.seq <= upto).order_by(EVENTS.c.seq)
            .limit(SEAL_BATCH)
        ).all()  # fmt: skip
        if not page:
            return
        for row in page:
            yield EventRow(**row._mapping)
        seq = int(page[-1].seq)


def make_head(engine: Engine, key: TrailKey, *, now: datetime | None = None) -> tuple[TreeHead, bool]:
    """Sign a head over the whole trail as it is now; (head, True) when new, (latest, False) when nothing was added.

    Re-checks every event the latest head does not cover (content against its hash, seq, link)
    and that the stored subtrees still fold to the latest head's root, before it signs.
    """
    with engine.begin() as connection:
        _lock_tree(connection)
        previous = latest_head(connection)
        size = connection.execute(select(func.max(EVENTS.c.seq))).scalar() or 0
        if size == 0:
            raise TrailNotSigned("the audit trail is empty: there is nothing to sign a head over")
        if previous is not None and size == previous.size:
            return previous, False
        start = previous.size if previous is not None else 0
        if previous is not None and size < previous.size:
            raise TrailNotSigned(f"the trail ends at seq {size} but the latest head covers {previous.size} events: "
                                 "events were deleted; run `brandgate audit verify`")  # fmt: skip
        edge_parts = merkle.complete_subtrees(0, start)
        known = subtree_hashes(connection, edge_parts)
        edge = [known[part] for part in edge_parts]
        if previous is not None and merkle.fold(edge) != previous.root:
            raise TrailNotSigned(f"the stored tree no longer folds to the latest head's root (size {start}): "
                                 "the trail or its subtrees were changed; run `brandgate audit verify`")  # fmt: skip
        prev_hash = GENESIS_HASH
        if start:
            prev_hash = connection.execute(select(EVENTS.c.hash).where(EVENTS.c.seq == start)).scalar_one()
        frontier = merkle.Frontier(start, edge)
        pending: list[dict[str, Any]] = []

        def closed(level: int, position: int, digest: bytes) -> None:
            pending.append({"level": level, "position": position, "hash": digest})

        expected = start + 1
        for event in _events_after(connection, start, size):
            if event.seq != expected or event.prev_hash != prev_hash or event_hash(event) != event.hash:
                raise TrailNotSigned(f"event seq {expected} does not verify (edited, deleted or reordered): "
                                     "no head signed; run `brandgate audit verify` for the first break")  # fmt: skip
            frontier.append(merkle.leaf_hash(bytes.fromhex(event.hash)), closed)
            prev_hash, expected = event.hash, expected + 1
            if len(pending) >= SEAL_BATCH:
                connection.execute(insert(AuditTreeNode), pending)
                pending.clear()
        if expected != size + 1:
            raise TrailNotSigned(f"event seq {expected} is missing: no head signed; run `brandgate audit verify`")
        if pending:
            connection.execute(insert(AuditTreeNode), pending)
        moment = (now or datetime.now(UTC)).astimezone(UTC)
        root = frontier.root
        signature = key.sign(head_message(size, root, moment))
        connection.execute(
            insert(AuditTreeHead).values(
                size=size, root=root.hex(), created_at=moment, key_id=key.key_id, signature=signature.hex()
            )
        )
        # read back, so the signed time is what the database will hand every later reader
        made = head_of_size(connection, size)
    assert made is not None
    return made, True


@dataclass(frozen=True)
class HeadsReport:
    """Every signed head held against the tree recomputed from the events themselves."""

    heads: int
    first_problem: str | None
    signatures_checked: bool

    @property
    def intact(self) -> bool:
        return self.first_problem is None


def verify_heads(engine: Engine, key: TrailKey | None) -> HeadsReport:
    """Recompute the tree from every event's chain hash, in constant memory, and compare each head's root.

    The full recomputation's counterpart of the proofs: it trusts neither the stored subtrees nor
    the heads' own word, only the events (whose hashes `verify_chain` checks) and the trail key.
    """
    with read_only(engine) as connection, connection.begin():
        heads = sorted(list_heads(connection), key=lambda h: h.size)
        if not heads:
            return HeadsReport(0, None, key is not None)
        for head in heads:
            if key is not None and not head.signed_by(key):
                return HeadsReport(len(heads), f"tree head {head.text} is not signed by the trail key "
                                               f"{key.key_id[:16]}…: forged, or the key changed", True)  # fmt: skip
        frontier, pending, seq = merkle.Frontier(), list(heads), 0
        while pending:
            page = connection.execute(
                select(EVENTS.c.seq, EVENTS.c.hash).where(EVENTS.c.seq > seq).order_by(EVENTS.c.seq).limit(SEAL_BATCH)
            ).all()
            for row in page:
                frontier.append(merkle.leaf_hash(bytes.fromhex(row.hash)))
                while pending and frontier.size == pending[0].size:
                    head = pending.pop(0)
                    if frontier.root != head.root:
                        problem = (f"tree head {head.size}:{head.root.hex()[:16]}… disagrees with the tree of the "
                                   f"trail's first {head.size} events: they changed after it was signed")  # fmt: skip
                        return HeadsReport(len(heads), problem, key is not None)
            if not page:
                head = pending[0]
                return HeadsReport(len(heads), f"tree head of size {head.size} covers events the trail no longer "
                                               f"holds: it ends at seq {frontier.size}", key is not None)  # fmt: skip
            seq = int(page[-1].seq)
    return HeadsReport(len(heads), None, key is not None)


def read_only(engine: Engine) -> Any:
    return engine.connect().execution_options(**READ_ONLY)


__all__ = [
    "HEAD_FORMAT",
    "ConsistencyCheck",
    "HeadsReport",
    "InclusionProof",
    "ProofUnavailable",
    "RecordProof",
    "TrailNotSigned",
    "TreeHead",
    "check_consistency",
    "consistency_proof",
    "head_message",
    "head_of_size",
    "inclusion_proof",
    "latest_head",
    "list_heads",
    "make_head",
    "prove_image",
    "read_only",
    "recording_event",
    "root_at",
    "subtree_hashes",
    "verify_heads",
]

"""The hash-chained audit trail: append events inside the caller's transaction, verify the chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator, Iterable
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, NamedTuple, Protocol

from sqlalchemy import Connection, Engine, func, insert, select
from sqlalchemy.orm import Session

from brandgate.db.engine import READ_ONLY
from brandgate.db.models import AuditEvent

GENESIS_HASH = "0" * 64
# One advisory lock key for the whole chain: appends take it for the rest of their transaction,
# so the next writer reads the head only after this one has committed (or rolled back).
CHAIN_LOCK_KEY = int.from_bytes(hashlib.sha256(b"brandgate.audit_events.chain").digest()[:8], "big", signed=True)
MAX_PAYLOAD_BYTES = 256 * 1024


class EventContent(Protocol):
    """What the hash covers; ORM rows and Core rows of audit_events both have these."""

    @property
    def seq(self) -> int: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def actor(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def subject_type(self) -> str | None: ...
    @property
    def subject_id(self) -> str | None: ...
    @property
    def payload(self) -> Any: ...
    @property
    def prev_hash(self) -> str: ...


def canonical_time(moment: datetime) -> str:
    """UTC, microseconds, 'Z': the same text whether the driver hands back aware or naive times."""
    if moment.tzinfo is None:  # SQLite stores UTC without an offset
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def canonical_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def event_hash(event: EventContent, *, seq: int | None = None) -> str:
    """SHA-256 of the event's canonical content; `seq` overrides the stored one (reorder forensics)."""
    content = {
        "seq": event.seq if seq is None else seq,
        "created_at": canonical_time(event.created_at),
        "actor": event.actor,
        "kind": event.kind,
        "subject": {"type": event.subject_type, "id": event.subject_id},
        "payload": event.payload,
        "prev_hash": event.prev_hash,
    }
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def _normalised_payload(payload: dict[str, Any] | None) -> dict[str, Any]:
    """The payload as it will read back from the database, so the hash is stable across the trip."""
    if payload is None:
        return {}
    if not isinstance(payload, dict):
        raise TypeError(f"audit payload must be a dict, not {type(payload).__name__}")
    try:
        text = canonical_json(payload)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"audit payload is not plain JSON (str, number, bool, None, list, dict): {exc}") from None
    if len(text.encode("utf-8")) > MAX_PAYLOAD_BYTES:
        raise ValueError(
            f"audit payload is {len(text)} bytes; keep it under {MAX_PAYLOAD_BYTES} (store files as artifacts)"
        )
    loaded: dict[str, Any] = json.loads(text)
    return loaded


def _bounded(name: str, value: str | None, limit: int, *, required: bool) -> str | None:
    if value is None or value == "":
        if required:
            raise ValueError(f"audit event {name} is required")
        return None
    if not isinstance(value, str):
        raise TypeError(f"audit event {name} must be a string, not {type(value).__name__}")
    if len(value) > limit:
        raise ValueError(f"audit event {name} is {len(value)} characters; the limit is {limit}")
    return value


def lock_chain(session: Session) -> None:
    """Serialise with every other chain writer until the caller's transaction ends.

    PostgreSQL: a transaction-scoped advisory lock. SQLite: the engine begins every write
    transaction IMMEDIATE, so holding a transaction already excludes other writers.
    """
    connection = session.connection()
    if connection.dialect.name == "postgresql":
        session.execute(select(func.pg_advisory_xact_lock(CHAIN_LOCK_KEY)))
    elif connection.get_execution_options().get("brandgate_read_only"):
        raise RuntimeError("append_event needs a write transaction; this session was opened read-only")


def append_event(
    session: Session,
    *,
    actor: str,
    kind: str,
    subject_type: str | None = None,
    subject_id: str | None = None,
    payload: dict[str, Any] | None = None,
) -> AuditEvent:
    """Add the next chained event to the caller's transaction; it commits or rolls back with it.

    Call it as late in the transaction as practical: on PostgreSQL it holds the chain lock
    until commit, so every other writer of events waits for this transaction. It flushes the
    session's pending rows first, so they are written before the lock is taken. Several events
    in one transaction cost one lock and one head read. The event is inserted at once; the
    returned object is not attached to the session (its `id` is not read back).
    """
    actor_ = _bounded("actor", actor, 100, required=True)
    kind_ = _bounded("kind", kind, 60, required=True)
    subject_type_ = _bounded("subject_type", subject_type, 30, required=False)
    subject_id_ = _bounded("subject_id", subject_id, 64, required=False)
    body = _normalised_payload(payload)
    # Every other row of the transaction is written now, before the chain lock: under the lock
    # there is only the head read, one hash and one INSERT, then the commit.
    session.flush()
    seq, prev_hash = _head(session)
    event = AuditEvent(
        seq=seq + 1,
        created_at=datetime.now(UTC),
        actor=actor_,
        kind=kind_,
        subject_type=subject_type_,
        subject_id=subject_id_,
        payload=body,
        prev_hash=prev_hash,
    )
    event.hash = event_hash(event)
    # A Core INSERT, not the ORM's unit of work: it is the one statement run under the lock.
    session.execute(insert(AuditEvent), [{name: getattr(event, name) for name in _EVENT_COLUMNS}])
    session.info[_HEAD_KEY] = (_innermost(session), event.seq, event.hash)
    return event


_EVENT_COLUMNS = ("seq", "created_at", "actor", "kind", "subject_type", "subject_id", "payload", "prev_hash", "hash")
_HEAD_KEY = "brandgate.audit.head"


def _innermost(session: Session) -> object:
    return session.get_nested_transaction() or session.get_transaction()


def _head(session: Session) -> tuple[int, str]:
    """The chain head as this transaction will see it at commit: (seq, hash), (0, GENESIS) if empty."""
    cached = session.info.get(_HEAD_KEY)
    # Trust our own last append only inside the very transaction (or savepoint) that made it:
    # a rolled-back savepoint or a new transaction means asking the database again.
    if cached is not None and cached[0] is _innermost(session) and cached[0] is not None:
        return cached[1], cached[2]
    lock_chain(session)
    head = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    return (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)


def chain_head(engine: Engine) -> tuple[int, str]:
    """The newest committed event, (seq, hash); (0, GENESIS) for an empty trail. Takes no lock."""
    with engine.connect().execution_options(**READ_ONLY) as connection, connection.begin():
        head = connection.execute(
            select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
        ).first()
    return (head.seq, head.hash) if head is not None else (0, GENESIS_HASH)


BreakKind = Literal["edited", "deleted", "reordered", "rewritten"]


class EventRow(NamedTuple):
    """An audit event as read back, with what `event_hash` covers."""

    seq: int
    created_at: datetime
    actor: str
    kind: str
    subject_type: str | None
    subject_id: str | None
    payload: Any
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class ChainBreak:
    """The first place the chain stops being what was written."""

    kind: BreakKind
    seq: int
    event_id: int | None
    message: str
    # found by comparing with an anchor kept outside the database, not by the chain's own links
    anchored: bool = False


@dataclass(frozen=True)
class ChainReport:
    events: int
    head_seq: int
    head_hash: str
    first_break: ChainBreak | None

    @property
    def intact(self) -> bool:
        return self.first_break is None


@dataclass(frozen=True)
class _Row:
    id: int
    seq: int
    created_at: datetime
    actor: str
    kind: str
    subject_type: str | None
    subject_id: str | None
    payload: Any
    prev_hash: str
    hash: str


_ROW_FIELDS = tuple(_Row.__dataclass_fields__)


def _rows(connection: Connection, batch: int) -> Generator[_Row, None, None]:
    table = AuditEvent.__table__
    statement = select(*(table.c[name] for name in _ROW_FIELDS)).order_by(table.c.seq)
    # yield_per: a server-side cursor on PostgreSQL, so memory stays flat however long the trail
    result = connection.execution_options(yield_per=batch).execute(statement)
    try:
        for row in result:
            yield _Row(*row)
    finally:
        result.close()


def verify_chain(
    engine: Engine,
    *,
    batch: int = 2000,
    anchor: tuple[int, str] | None = None,
    anchors: Iterable[tuple[int, str]] = (),
) -> ChainReport:
    """Recompute every hash and link, in seq order, in constant memory; name the first break.

    Each anchor is a (seq, hash) recorded earlier outside the database (a credential, a posted
    chain head): the chain must still hold that event with that hash, which also catches
    deleting the newest events and a chain rewritten with every later hash recomputed.
    """
    wanted: dict[int, set[str]] = {}
    for seq, digest in ([anchor] if anchor is not None else []) + list(anchors):
        wanted.setdefault(seq, set()).add(digest)
    with engine.connect().execution_options(**READ_ONLY) as connection, connection.begin():
        count, previous = 0, None
        anomaly: _Row | None = None
        anchored: dict[int, _Row] = {}
        # closed before diagnosing, which runs its own queries on this connection
        with closing(_rows(connection, batch)) as rows:
            for row in rows:
                expected_seq = previous.seq + 1 if previous else 1
                expected_prev = previous.hash if previous else GENESIS_HASH
                if row.seq != expected_seq or row.prev_hash != expected_prev or event_hash(row) != row.hash:
                    anomaly = row
                    break
                if row.seq in wanted:
                    anchored[row.seq] = row
                count, previous = count + 1, row
        fault = _diagnose(connection, anomaly, previous) if anomaly is not None else None
        if fault is None:
            fault = _against_anchors(previous, anchored, wanted)
        return ChainReport(count, previous.seq if previous else 0, previous.hash if previous else GENESIS_HASH, fault)


def _against_anchors(head: _Row | None, anchored: dict[int, _Row], wanted: dict[int, set[str]]) -> ChainBreak | None:
    """The chain verified intact up to `head`; does it still hold every anchored event? The lowest miss wins."""
    head_seq = head.seq if head else 0
    for seq in sorted(wanted):
        for digest in sorted(wanted[seq]):
            found = anchored.get(seq)
            if found is not None and found.hash != digest:
                return ChainBreak(
                    "rewritten", seq, found.id,
                    f"{_describe(found)} is not the event anchored at seq {seq} (hash {digest[:16]}…): "
                    f"the chain was rewritten at or before seq {seq} and every later hash recomputed",
                    anchored=True,
                )  # fmt: skip
            if seq > head_seq:
                return ChainBreak(
                    "deleted", head_seq + 1, None,
                    f"events seq {head_seq + 1}-{seq} are missing (deleted): the anchor names seq {seq}, "
                    f"the trail now ends at seq {head_seq}",
                    anchored=True,
                )  # fmt: skip
    return None


def _row_by_hash(connection: Connection, digest: str) -> _Row | None:
    table = AuditEvent.__table__
    found = connection.execute(select(table).where(table.c.hash == digest)).first()
    return _Row(**found._mapping) if found is not None else None


def _written_seq(connection: Connection, row: _Row, depth: int = 1000) -> int | None:
    """The seq `row` was written with: follow its links back to an event still in its place."""
    if row.prev_hash == GENESIS_HASH:
        return 1
    predecessor = _row_by_hash(connection, row.prev_hash)
    if predecessor is None or depth == 0:
        return None
    if event_hash(predecessor) == predecessor.hash:
        return predecessor.seq + 1
    earlier = _written_seq(connection, predecessor, depth - 1)
    return earlier + 1 if earlier is not None else None


def _describe(row: _Row) -> str:
    return f"event seq {row.seq} (id {row.id}, {row.kind} by {row.actor})"


def _diagnose(connection: Connection, row: _Row, previous: _Row | None) -> ChainBreak:
    expected_seq = previous.seq + 1 if previous else 1
    expected_prev = previous.hash if previous else GENESIS_HASH
    if row.seq != expected_seq:
        missing = f"{expected_seq}" if row.seq == expected_seq + 1 else f"{expected_seq}-{row.seq - 1}"
        return ChainBreak(
            "deleted",
            expected_seq,
            None,
            f"event seq {missing} is missing (deleted): the next event present is seq {row.seq}",
        )
    own_ok = event_hash(row) == row.hash
    if not own_ok and row.prev_hash == expected_prev:
        return ChainBreak(
            "edited",
            row.seq,
            row.id,
            f"{_describe(row)} was edited: its content no longer matches its hash",
        )
    written_seq = _written_seq(connection, row)
    if written_seq is not None and written_seq != row.seq and event_hash(row, seq=written_seq) == row.hash:
        return ChainBreak(
            "reordered",
            row.seq,
            row.id,
            f"{_describe(row)} was written as seq {written_seq}: events were reordered",
        )
    if own_ok and previous is not None:
        # This event is genuine, so the one before it is not the event it was chained to:
        # that one was rewritten and its hash recomputed to hide the edit.
        return ChainBreak(
            "edited",
            previous.seq,
            previous.id,
            f"{_describe(previous)} was edited and re-hashed: event seq {row.seq} was chained to a different version",
        )
    if _row_by_hash(connection, row.prev_hash) is None:
        return ChainBreak(
            "deleted",
            row.seq,
            row.id,
            f"{_describe(row)} was chained to an event that no longer exists: "
            "an event before it was deleted and later ones renumbered",
        )
    return ChainBreak(
        "edited",
        row.seq,
        row.id,
        f"{_describe(row)} was edited: its content and link no longer match",
    )


__all__ = [
    "CHAIN_LOCK_KEY",
    "GENESIS_HASH",
    "ChainBreak",
    "ChainReport",
    "append_event",
    "canonical_json",
    "canonical_time",
    "chain_head",
    "event_hash",
    "lock_chain",
    "verify_chain",
]

"""Evidence bound to the audit chain: the digest each recording event carries of the rows it records.

A request row is bound by its `request.queued` (or `export.queued`) event, an image row and
its check rows by `image.created` (or `image.exported`), an approval row by `image.approved`
(or `image.rejected`). Each of those events carries `evidence_sha256`: the SHA-256 of the
canonical content of the rows it records, computed from the very values that are inserted,
in the same transaction. The event is hashed into the chain, so editing a row without
rewriting the chain is found by recomputing the digest (`check_*` below, used by the export
and by `audit verify`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, DateTime, Float, FromClause, Integer
from sqlalchemy.orm import Session

from brandgate.db.audit import append_event, canonical_json, canonical_time
from brandgate.db.models import Approval, AuditEvent, CheckResultRow, Image, Request

DIGEST_KEY = "evidence_sha256"
REQUEST_KINDS = ("request.queued", "export.queued")
IMAGE_KINDS = ("image.created", "image.exported")
DECISION_KINDS = ("image.approved", "image.rejected")

# What a request row binds: what was asked, by whom, with which kit and model. The rest of the
# row (state, stage, progress, lease, attempts, running cost) is the job's mutable state; the
# export does not print it and the database lets the worker update only those columns.
REQUEST_FIELDS = (
    "id", "idempotency_key", "requested_by", "source", "channel", "kit_name", "kit_hash", "brief",
    "brief_hash", "profile_name", "profile_hash", "seed", "n_images", "queue", "parent_image_id", "created_at",
)  # fmt: skip
# Fixed lists, never derived from the models: a digest recorded today must still recompute after a
# migration adds a column. Binding a new column takes a new digest version recorded in the event.
IMAGE_FIELDS = (
    "id", "request_id", "index", "kind", "parent_image_id", "sha256", "phash", "media_type", "width", "height",
    "model_id", "model_revision", "generation_config", "seed", "timings", "gpu_seconds", "peak_memory_bytes",
    "memory_kind", "cost_usd", "verdict", "manifest_sha256", "created_at",
)  # fmt: skip
# The surrogate `id` is left out: the image and the check ID identify a check row.
CHECK_FIELDS = ("check_id", "name", "status", "severity", "confidence", "message", "evidence", "duration_ms")
APPROVAL_FIELDS = ("image_id", "decision", "decided_by", "reason", "decided_at")


def _converter(table: FromClause, name: str) -> Callable[[Any], Any] | None:
    """How a column's value reads the same whether it comes from Python or back from the driver."""
    kind = table.c[name].type
    if isinstance(kind, Float):
        return float
    if isinstance(kind, Integer | BigInteger):
        return int
    if isinstance(kind, DateTime):
        return canonical_time
    return None  # strings and JSON read back as written


def _converters(table: FromClause, fields: Sequence[str]) -> tuple[tuple[str, Callable[[Any], Any] | None], ...]:
    return tuple((name, _converter(table, name)) for name in fields)


_REQUEST = _converters(Request.__table__, REQUEST_FIELDS)
_IMAGE = _converters(Image.__table__, IMAGE_FIELDS)
_CHECK = _converters(CheckResultRow.__table__, CHECK_FIELDS)
_APPROVAL = _converters(Approval.__table__, APPROVAL_FIELDS)


def _content(values: Mapping[str, Any], fields: Sequence[tuple[str, Callable[[Any], Any] | None]]) -> dict[str, Any]:
    found = {}
    for name, convert in fields:
        value = values[name]
        found[name] = value if value is None or convert is None else convert(value)
    return found


def _digest(content: Any) -> str:
    return hashlib.sha256(canonical_json(content).encode("utf-8")).hexdigest()


def request_digest(values: Mapping[str, Any]) -> str:
    return _digest({"request": _content(values, _REQUEST)})


def image_digest(image: Mapping[str, Any], checks: Iterable[Mapping[str, Any]]) -> str:
    """The image row and all its check rows, checks in check-ID order."""
    rows = sorted((_content(check, _CHECK) for check in checks), key=lambda c: str(c["check_id"]))
    return _digest({"image": _content(image, _IMAGE), "checks": rows})


def approval_digest(values: Mapping[str, Any]) -> str:
    return _digest({"approval": _content(values, _APPROVAL)})


def _values(row: Any, fields: Sequence[str]) -> dict[str, Any]:
    """The row's column values as the INSERT will write them: an attribute never set is NULL.

    Read from the instance's own dict, not through the ORM's instrumented attributes: this runs
    for every row the pipeline records, and that indirection was most of the digest's cost.
    """
    state = row.__dict__
    return {name: state.get(name) for name in fields}


def request_binding(request: Request) -> dict[str, str]:
    """What the request's queued event adds to its payload; the row must be flushed (defaults set)."""
    return {DIGEST_KEY: request_digest(_values(request, REQUEST_FIELDS))}


def seal_image(image: Image, checks: Sequence[CheckResultRow]) -> str:
    """The digest of the rows as they will be inserted: column defaults applied now, before any flush.

    Call it before the recording transaction begins, so the hashing is not done while holding
    the database's write lock (SQLite) or the chain lock.
    """
    for row in (image, *checks):
        _apply_defaults(row)
    return image_digest(_values(image, IMAGE_FIELDS), [_values(check, CHECK_FIELDS) for check in checks])


def _apply_defaults(row: Any) -> None:
    """Set each unset column's Python-side default, exactly as the INSERT would."""
    for column in row.__table__.columns:
        default = column.default
        if default is None or column.key in row.__dict__:
            continue
        if default.is_scalar:
            setattr(row, column.key, default.arg)
        elif default.is_callable:
            setattr(row, column.key, default.arg(None))


def record_image(
    session: Session,
    image: Image,
    checks: Sequence[CheckResultRow],
    *,
    actor: str,
    kind: str,
    payload: dict[str, Any],
    digest: str | None = None,
) -> AuditEvent:
    """Insert the image row, its check rows and the event that binds them, in the caller's transaction.

    `digest` is `seal_image`'s, taken before the transaction; without it, it is taken here.
    """
    sealed = digest or seal_image(image, checks)
    session.add(image)
    session.flush()
    session.add_all(checks)
    session.flush()
    return append_event(session, actor=actor, kind=kind, subject_type="image", subject_id=image.id,
                        payload={**payload, DIGEST_KEY: sealed})  # fmt: skip


def approval_payload(approval: Approval) -> dict[str, Any]:
    """What an approval event carries of its row; the row must be flushed (its time set)."""
    return {
        "decision": approval.decision,
        "reason": approval.reason,
        "decided_at": canonical_time(approval.decided_at),
        DIGEST_KEY: approval_digest(_values(approval, APPROVAL_FIELDS)),
    }


# --- checking rows against the events that recorded them ------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """An event that records evidence, as read back: its own hash re-checked."""

    seq: int
    kind: str
    actor: str
    payload: dict[str, Any]
    intact: bool  # the event's content still matches its hash

    @property
    def digest(self) -> str | None:
        value = self.payload.get(DIGEST_KEY)
        return value if isinstance(value, str) else None


def _recorded_problem(event: Recorded) -> str | None:
    if not event.intact:
        return f"its {event.kind} event (seq {event.seq}) was edited: the event no longer matches its hash"
    return None


def _unusable(row: str, kind: str, event: Recorded | None) -> list[str]:
    """Why the recording event cannot vouch for the row: missing, or itself edited."""
    if event is None:
        return [f"{row}: no {kind} event in the trail records it"]
    problem = _recorded_problem(event)
    return [f"{row}: {problem}"] if problem else []


def _same(value: Any, recorded: Any) -> bool:
    if isinstance(value, float) or isinstance(recorded, float):
        try:
            return round(float(value), 6) == round(float(recorded), 6)
        except (TypeError, ValueError):
            return False
    return bool(value == recorded)


def _named_differences(values: Mapping[str, Any], recorded: Mapping[str, Any], fields: Mapping[str, str]) -> list[str]:
    """Fields the event also carries in clear: say which ones the row no longer agrees with."""
    found = []
    for payload_key, field in fields.items():
        if payload_key in recorded and not _same(values.get(field), recorded[payload_key]):
            found.append(f"{field} is {values.get(field)!r} but the trail recorded {recorded[payload_key]!r}")
    return found


def check_request(values: Mapping[str, Any], event: Recorded | None) -> tuple[list[str], bool]:
    """Problems with a request row against its recording event; and whether it was fully bound."""
    rid = values["id"]
    unusable = _unusable(f"request {rid}", "request.queued", event)
    if unusable or event is None:
        return unusable, False
    clear = {"kit": "kit_name", "kit_hash": "kit_hash", "brief_hash": "brief_hash", "profile": "profile_name",
             "seed": "seed", "n_images": "n_images", "source": "source"}  # fmt: skip
    named = [f"request {rid}: {d}" for d in _named_differences(values, event.payload, clear)]
    if values["requested_by"] != event.actor:
        named.append(f"request {rid}: requested_by is {values['requested_by']!r} but the trail recorded "
                     f"{event.actor!r}")  # fmt: skip
    if event.digest is None:
        return named, False
    if event.digest != request_digest(values):
        return named or [f"request {rid}: the row differs from what event seq {event.seq} recorded"], True
    return named, True


def check_image(
    values: Mapping[str, Any], checks: Sequence[Mapping[str, Any]], event: Recorded | None
) -> tuple[list[str], bool]:
    unusable = _unusable(f"image {values['id']}", "image.created", event)
    if unusable or event is None:
        return unusable, False
    clear = {"verdict": "verdict", "sha256": "sha256", "manifest_sha256": "manifest_sha256", "seed": "seed",
             "gpu_seconds": "gpu_seconds", "cost_usd": "cost_usd", "index": "index",
             "request_id": "request_id"}  # fmt: skip
    named = [f"image {values['id']}: {d}" for d in _named_differences(values, event.payload, clear)]
    failed = sorted(str(c["check_id"]) for c in checks if c["status"] in ("fail", "error"))
    recorded_failed = event.payload.get("failed_checks")
    if isinstance(recorded_failed, list) and failed != sorted(str(c) for c in recorded_failed):
        named.append(f"image {values['id']}: failed checks are {failed} but the trail recorded "
                     f"{sorted(recorded_failed)}")  # fmt: skip
    if event.digest is None:
        return named, False
    if event.digest != image_digest(values, checks):
        return named or [
            f"image {values['id']}: the image row or its {len(checks)} check rows differ from what "
            f"event seq {event.seq} recorded (a check edited, deleted or added)"
        ], True
    return named, True


def check_approval(image_id: str, values: Mapping[str, Any] | None, event: Recorded | None) -> list[str]:
    if values is None and event is None:
        return []
    if event is None:
        assert values is not None
        return [f"image {image_id}: approval ({values['decision']} by {values['decided_by']}) has no "
                "image.approved or image.rejected event in the trail"]  # fmt: skip
    if values is None:
        return [f"image {image_id}: the trail records a decision ({event.payload.get('decision')} by "
                f"{event.actor}, event seq {event.seq}) but its approval row is gone"]  # fmt: skip
    problem = _recorded_problem(event)
    if problem:
        return [f"image {image_id}: approval: {problem}"]
    found = []
    if values["decided_by"] != event.actor:
        found.append(f"image {image_id}: approval decided_by is {values['decided_by']!r} but the trail "
                     f"recorded {event.actor!r}")  # fmt: skip
    found += [f"image {image_id}: approval {d}" for d in
              _named_differences(values, event.payload, {"decision": "decision", "reason": "reason"})]  # fmt: skip
    if event.digest is not None and event.digest != approval_digest(values):
        found = found or [f"image {image_id}: the approval row differs from what event seq {event.seq} recorded"]
    return found


__all__ = [
    "APPROVAL_FIELDS",
    "CHECK_FIELDS",
    "DECISION_KINDS",
    "DIGEST_KEY",
    "IMAGE_FIELDS",
    "IMAGE_KINDS",
    "REQUEST_FIELDS",
    "REQUEST_KINDS",
    "Recorded",
    "approval_digest",
    "approval_payload",
    "check_approval",
    "check_image",
    "check_request",
    "image_digest",
    "record_image",
    "request_binding",
    "request_digest",
    "seal_image",
]

"""The audit export: one row per image with its checks, approval and cost, streamed in constant memory."""

from __future__ import annotations

import csv
import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any, cast

from sqlalchemy import Connection, Engine, and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from brandgate.db.audit import canonical_time, event_hash
from brandgate.db.engine import READ_ONLY
from brandgate.db.evidence import (
    APPROVAL_FIELDS,
    CHECK_FIELDS,
    DECISION_KINDS,
    IMAGE_FIELDS,
    IMAGE_KINDS,
    REQUEST_FIELDS,
    REQUEST_KINDS,
    Recorded,
    check_approval,
    check_image,
    check_request,
)
from brandgate.db.models import Approval, AuditEvent, CheckResultRow, Image, Request
from brandgate.errors import UserError
from policies.characters import quote
from policies.engine import ACCEPTED_BY_POLICY, accepted_by_policy

IMAGES = Image.__table__
REQUESTS = Request.__table__
MAX_KITS_NAMED = 20
APPROVALS = Approval.__table__
CHECKS = CheckResultRow.__table__
EVENTS = AuditEvent.__table__

CSV_COLUMNS = [
    "image_id",
    "request_id",
    "index",
    "kind",
    "created_at",
    "kit",
    "kit_hash",
    "requested_by",
    "source",
    "channel",
    "prompt",
    "headline",
    "profile",
    "model_id",
    "model_revision",
    "seed",
    "width",
    "height",
    "sha256",
    "manifest_sha256",
    "parent_image_id",
    "verdict",
    "status",
    "failed_checks",
    "approval_decision",
    "approval_by",
    "approval_reason",
    "approval_at",
    "gpu_seconds",
    "peak_memory_bytes",
    "memory_kind",
    "cost_usd",
    "checks",
    "integrity",
    "integrity_problems",
    # added after the first release: new columns go at the end, so positional readers keep working
    "unverified_checks",
    "accepted_unverified",
    "approval_by_name",
    "preview_approval_decision",
    "preview_approval_by",
]
# A spreadsheet runs a cell that starts with one of these as a formula; OCR text and reasons are
# user-controlled, so such cells get a leading apostrophe in CSV (JSONL keeps them verbatim).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class ExportFilter:
    """since is inclusive and until exclusive, both on the image's creation time (UTC)."""

    since: datetime | None = None
    until: datetime | None = None
    kit: str | None = None
    request_id: str | None = None

    def clauses(self) -> list[ColumnElement[bool]]:
        found: list[ColumnElement[bool]] = []
        if self.since is not None:
            found.append(IMAGES.c.created_at >= self.since.astimezone(UTC))
        if self.until is not None:
            found.append(IMAGES.c.created_at < self.until.astimezone(UTC))
        if self.kit is not None:
            found.append(REQUESTS.c.kit_name == self.kit)
        if self.request_id is not None:
            found.append(IMAGES.c.request_id == self.request_id)
        return found


def _image_batch(
    connection: Connection, where: Sequence[ColumnElement[bool]], after: tuple[datetime, str] | None, size: int
) -> list[Any]:
    statement = (
        select(*(IMAGES.c[name] for name in IMAGE_FIELDS))
        # outer: an image whose request row is gone is still exported, and marked
        .outerjoin(REQUESTS, REQUESTS.c.id == IMAGES.c.request_id)
        .where(*where)
        .order_by(IMAGES.c.created_at, IMAGES.c.id)
        .limit(size)
    )
    if after is not None:
        # Keyset, not OFFSET: each batch costs the same however deep into the trail it is.
        created, image_id = after
        statement = statement.where(
            or_(IMAGES.c.created_at > created, and_(IMAGES.c.created_at == created, IMAGES.c.id > image_id))
        )
    return list(connection.execute(statement).all())


def _requests_of(connection: Connection, request_ids: set[str]) -> dict[str, Any]:
    statement = select(*(REQUESTS.c[name] for name in REQUEST_FIELDS)).where(REQUESTS.c.id.in_(request_ids))
    return {row.id: row._mapping for row in connection.execute(statement)}


def _approvals_of(connection: Connection, image_ids: list[str]) -> dict[str, Any]:
    statement = select(*(APPROVALS.c[name] for name in APPROVAL_FIELDS)).where(APPROVALS.c.image_id.in_(image_ids))
    return {row.image_id: row._mapping for row in connection.execute(statement)}


def _checks_of(connection: Connection, image_ids: list[str]) -> dict[str, list[Mapping[str, Any]]]:
    found: dict[str, list[Mapping[str, Any]]] = {image_id: [] for image_id in image_ids}
    columns = [CHECKS.c.image_id, *(CHECKS.c[name] for name in CHECK_FIELDS)]
    statement = select(*columns).where(CHECKS.c.image_id.in_(image_ids)).order_by(CHECKS.c.image_id, CHECKS.c.check_id)
    for row in connection.execute(statement):
        found[row.image_id].append(cast("Mapping[str, Any]", row._mapping))
    return found


def _events_of(
    connection: Connection, subject_type: str, ids: Collection[str], kinds: Sequence[str]
) -> dict[tuple[str, str], Recorded]:
    """The recording events of these subjects, keyed (subject id, kind); each one's hash re-checked."""
    statement = (
        select(EVENTS)
        .where(EVENTS.c.subject_type == subject_type, EVENTS.c.subject_id.in_(ids), EVENTS.c.kind.in_(kinds))
        .order_by(EVENTS.c.seq)
    )
    found: dict[tuple[str, str], Recorded] = {}
    for row in connection.execute(statement):
        key = (row.subject_id, row.kind)
        if key not in found:  # the first event that recorded it is the one that counts
            payload = row.payload if isinstance(row.payload, dict) else {}
            found[key] = Recorded(row.seq, row.kind, row.actor, payload, event_hash(row) == row.hash)
    return found


def _first(events: Mapping[tuple[str, str], Recorded], subject_id: str, kinds: Sequence[str]) -> Recorded | None:
    present = [events[(subject_id, kind)] for kind in kinds if (subject_id, kind) in events]
    return min(present, key=lambda e: e.seq) if present else None


def _checked(
    image: Mapping[str, Any],
    checks: list[Mapping[str, Any]],
    request: Mapping[str, Any] | None,
    approval: Mapping[str, Any] | None,
    events: Mapping[tuple[str, str], Recorded],
    requests_checked: dict[str, tuple[list[str], bool]],
) -> tuple[str, list[str]]:
    """The row's standing against the trail: verified, legacy (recorded before bindings) or tampered.

    `requests_checked` keeps each request's check for the batch: a request of 8 images is
    re-digested once, not 8 times.
    """
    image_problems, image_bound = check_image(image, checks, _first(events, image["id"], IMAGE_KINDS))
    if request is None:
        request_problems, request_bound = [f"request {image['request_id']}: the request row is gone"], False
    else:
        if request["id"] not in requests_checked:
            requests_checked[request["id"]] = check_request(request, _first(events, request["id"], REQUEST_KINDS))
        request_problems, request_bound = requests_checked[request["id"]]
    decision = _first(events, image["id"], DECISION_KINDS)
    approval_problems = check_approval(image["id"], approval, decision)
    problems = image_problems + request_problems + approval_problems
    if problems:
        return "tampered", problems
    approval_bound = decision is None or decision.digest is not None
    return ("verified" if image_bound and request_bound and approval_bound else "legacy"), []


def _decider_name(decision: Recorded | None, approval: Mapping[str, Any] | None) -> str | None:
    """The decider's display name as the decision's own event recorded it (hash-chained), if it did."""
    if decision is None or approval is None or not decision.intact:
        return None
    name = decision.payload.get("decided_by_name")
    return name if isinstance(name, str) and name else None


def _record(
    image: Mapping[str, Any],
    checks: list[Mapping[str, Any]],
    request: Mapping[str, Any] | None,
    approval: Mapping[str, Any] | None,
    standing: tuple[str, list[str]],
    evidence: bool,
    decided_by_name: str | None = None,
    preview_approval: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    shown = []
    for check in checks:
        item = {"id": check["check_id"], "name": check["name"], "status": check["status"],
                "severity": check["severity"], "confidence": check["confidence"],
                "message": check["message"]}  # fmt: skip
        if accepted_by_policy(check["status"], check["message"]):
            item["accepted"] = ACCEPTED_BY_POLICY
        if evidence:
            item["evidence"] = check["evidence"]
        shown.append(item)
    asked: Mapping[str, Any] = request or {}
    brief: Mapping[str, Any] = asked["brief"] if isinstance(asked.get("brief"), dict) else {}
    decided = None
    if approval is not None:
        decided = {
            "decision": approval["decision"],
            "decided_by": approval["decided_by"],
            "decided_by_name": decided_by_name,
            "reason": approval["reason"],
            "decided_at": canonical_time(approval["decided_at"]),
        }
    return {
        "image_id": image["id"],
        "request_id": image["request_id"],
        "index": image["index"],
        "kind": image["kind"],
        "created_at": canonical_time(image["created_at"]),
        "kit": asked.get("kit_name"),
        "kit_hash": asked.get("kit_hash"),
        "requested_by": asked.get("requested_by"),
        "source": asked.get("source"),
        "channel": asked.get("channel"),
        "prompt": _text(brief.get("prompt")),
        "headline": _text(brief.get("headline")),
        "profile": asked.get("profile_name"),
        "model_id": image["model_id"],
        "model_revision": image["model_revision"],
        "seed": image["seed"],
        "width": image["width"],
        "height": image["height"],
        "sha256": image["sha256"],
        "manifest_sha256": image["manifest_sha256"],
        "parent_image_id": image["parent_image_id"],
        "verdict": image["verdict"],
        # what the image is now: the checks' verdict unless a person decided
        "status": (approval["decision"] if approval is not None else None) or image["verdict"],
        "failed_checks": [c["id"] for c in shown if c["status"] in ("fail", "error")],
        # checks that applied but could not decide; those the kit's policy accepted are listed apart
        "unverified_checks": [c["id"] for c in shown if c["status"] == "unverified" and "accepted" not in c],
        "accepted_unverified": [c["id"] for c in shown if "accepted" in c],
        "checks": shown,
        "approval": decided,
        # an HQ export is not decided itself: the decision on the preview it was made from let it
        # be made, and is shown here (it is checked against the chain on the preview's own row)
        "preview_approval": None if preview_approval is None else {
            "preview_image_id": image["parent_image_id"],
            "decision": preview_approval["decision"],
            "decided_by": preview_approval["decided_by"],
            "decided_at": canonical_time(preview_approval["decided_at"]),
        },
        "gpu_seconds": image["gpu_seconds"],
        "peak_memory_bytes": image["peak_memory_bytes"],
        "memory_kind": image["memory_kind"],
        "cost_usd": image["cost_usd"],
        # whether every value above is what the audit chain recorded (docs/audit.md)
        "integrity": standing[0],
        "integrity_problems": standing[1],
    }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def count_records(engine: Engine, filters: ExportFilter | None = None) -> int:
    """How many images `export_records` would yield (for a progress display)."""
    where = (filters or ExportFilter()).clauses()
    statement = (
        select(func.count())
        .select_from(IMAGES)
        .outerjoin(REQUESTS, REQUESTS.c.id == IMAGES.c.request_id)
        .where(*where)
    )
    with engine.connect().execution_options(**READ_ONLY) as connection:
        return int(connection.execute(statement).scalar_one())


def export_records(
    engine: Engine, filters: ExportFilter | None = None, *, evidence: bool = False, batch: int = 1000
) -> Iterator[dict[str, Any]]:
    """Yield one record per matching image, oldest first, holding at most `batch` images in memory.

    Each check carries id, name, status, severity, confidence and message; `evidence=True` adds
    the check's evidence document too. Every record is checked against the events that recorded
    its rows and says so in `integrity` (`verified`, `legacy` or `tampered`, with the problems).
    """
    connection = engine.connect().execution_options(**READ_ONLY)
    if connection.dialect.name == "postgresql":
        # one snapshot for the whole export, however many batches it takes
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
    where = (filters or ExportFilter()).clauses()
    try:
        with connection.begin():
            after: tuple[datetime, str] | None = None
            while True:
                rows = _image_batch(connection, where, after, batch)
                if not rows:
                    return
                image_ids = [row.id for row in rows]
                request_ids = {row.request_id for row in rows}
                checks = _checks_of(connection, image_ids)
                requests = _requests_of(connection, request_ids)
                approvals = _approvals_of(connection, image_ids)
                previews = sorted({row.parent_image_id for row in rows if row.parent_image_id})
                preview_approvals = _approvals_of(connection, previews) if previews else {}
                events = _events_of(connection, "image", image_ids, IMAGE_KINDS + DECISION_KINDS)
                events.update(_events_of(connection, "request", request_ids, REQUEST_KINDS))
                requests_checked: dict[str, tuple[list[str], bool]] = {}
                for row in rows:
                    image = row._mapping
                    request, approval = requests.get(row.request_id), approvals.get(row.id)
                    standing = _checked(image, checks[row.id], request, approval, events, requests_checked)
                    decision = _first(events, row.id, DECISION_KINDS)
                    yield _record(image, checks[row.id], request, approval, standing, evidence,
                                  _decider_name(decision, approval),
                                  preview_approvals.get(row.parent_image_id) if row.parent_image_id else None)
                after = (rows[-1].created_at, rows[-1].id)
                if len(rows) < batch:
                    return
    finally:
        connection.close()


@dataclass(frozen=True)
class EvidenceReport:
    """Every exported row checked against the events that recorded it, and every such event against its row."""

    rows: int
    legacy: int  # rows recorded before events carried digests: checked on what their events carry
    first_problem: str | None

    @property
    def intact(self) -> bool:
        return self.first_problem is None


def verify_evidence(engine: Engine, *, batch: int = 1000) -> EvidenceReport:
    """Name the first image (in export order) whose rows disagree with the trail, else the first
    recording event whose row is gone."""
    rows = legacy = 0
    for record in export_records(engine, batch=batch):
        rows += 1
        if record["integrity"] == "tampered":
            return EvidenceReport(rows, legacy, record["integrity_problems"][0])
        legacy += record["integrity"] == "legacy"
    return EvidenceReport(rows, legacy, _row_gone(engine))


def _row_gone(engine: Engine) -> str | None:
    """The lowest-seq recording event whose row no longer exists (deleted, or the table truncated)."""
    recorded_by = (
        ("image", IMAGE_KINDS, IMAGES, IMAGES.c.id, "image"),
        ("image", DECISION_KINDS, APPROVALS, APPROVALS.c.image_id, "approval of image"),
        ("request", REQUEST_KINDS, REQUESTS, REQUESTS.c.id, "request"),
    )
    found: list[tuple[int, str]] = []
    with engine.connect().execution_options(**READ_ONLY) as connection, connection.begin():
        for subject_type, kinds, table, key, what in recorded_by:
            statement = (
                select(EVENTS.c.seq, EVENTS.c.kind, EVENTS.c.subject_id)
                .select_from(EVENTS.outerjoin(table, key == EVENTS.c.subject_id))
                .where(EVENTS.c.subject_type == subject_type, EVENTS.c.kind.in_(kinds), key.is_(None))
                .order_by(EVENTS.c.seq)
                .limit(1)
            )
            row = connection.execute(statement).first()
            if row is not None:
                found.append((row.seq, f"{what} {row.subject_id}: recorded by event seq {row.seq} ({row.kind}) "
                                       "but its row is gone (deleted)"))  # fmt: skip
    return min(found)[1] if found else None


def write_jsonl(records: Iterator[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(record, ensure_ascii=False, separators=(",", ":")))
        out.write("\n")
        count += 1
    return count


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def write_csv(records: Iterator[dict[str, Any]], out: IO[str]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    for record in records:
        approval = record["approval"] or {}
        flat = {
            **record,
            "failed_checks": ";".join(record["failed_checks"]),
            "unverified_checks": ";".join(record["unverified_checks"]),
            "accepted_unverified": ";".join(record["accepted_unverified"]),
            "approval_decision": approval.get("decision"),
            "approval_by": approval.get("decided_by"),
            "approval_by_name": approval.get("decided_by_name"),
            "approval_reason": approval.get("reason"),
            "approval_at": approval.get("decided_at"),
            "preview_approval_decision": (record["preview_approval"] or {}).get("decision"),
            "preview_approval_by": (record["preview_approval"] or {}).get("decided_by"),
            "integrity_problems": "; ".join(record["integrity_problems"]),
            "checks": json.dumps(
                [{k: c[k] for k in ("id", "name", "status", "severity", "confidence", "message")}
                 for c in record["checks"]],
                ensure_ascii=False,
                separators=(",", ":"),
            ),
        }
        writer.writerow([_cell(flat[column]) for column in CSV_COLUMNS])
        count += 1
    return count


FORMATS = {"jsonl": write_jsonl, "csv": write_csv}

__all__ = [
    "CSV_COLUMNS",
    "FORMATS",
    "EvidenceReport",
    "ExportFilter",
    "check_kit_known",
    "count_records",
    "export_records",
    "verify_evidence",
    "write_csv",
    "write_jsonl",
]


def check_kit_known(engine: Engine, kit: str, kits_on_disk: Sequence[str] = ()) -> None:
    """Refuse (UserError) a --kit that neither the trail nor the kits folder knows, naming those that are.

    Without this, `--kit ACME` for `acme` exports nothing and says nothing. A kit of the kits
    folder with no images yet is not an error: its export is honestly empty.
    """
    if kit in kits_on_disk:
        return
    with engine.connect().execution_options(**READ_ONLY) as connection:
        if connection.execute(select(REQUESTS.c.id).where(REQUESTS.c.kit_name == kit).limit(1)).first():
            return
        names = sorted(
            set(connection.execute(select(REQUESTS.c.kit_name).distinct().limit(MAX_KITS_NAMED + 1)).scalars())
            | set(kits_on_disk)
        )
    close = [name for name in names if name.casefold() == kit.casefold()]
    hint = f"; did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(names[:MAX_KITS_NAMED]) + (", …" if len(names) > MAX_KITS_NAMED else "")
    raise UserError(
        f"--kit {quote(kit, 64)}: no image in the trail was made with that kit and no kit folder has that "
        f"name{hint} (known kits: {listed or 'none'})"
    )


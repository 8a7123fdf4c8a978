"""The audit export: one row per image with its checks, approval and cost, streamed in constant memory."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, Any

from sqlalchemy import Connection, Engine, and_, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from brandgate.db.audit import canonical_time
from brandgate.db.engine import READ_ONLY
from brandgate.db.models import Approval, CheckResultRow, Image, Request
from brandgate.errors import UserError
from policies.characters import quote
from policies.engine import ACCEPTED_BY_POLICY, accepted_by_policy

IMAGES = Image.__table__
REQUESTS = Request.__table__
MAX_KITS_NAMED = 20
APPROVALS = Approval.__table__
CHECKS = CheckResultRow.__table__

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
    # added after the first release: new columns go at the end, so positional readers keep working
    "unverified_checks",
    "accepted_unverified",
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
        select(
            IMAGES.c.id,
            IMAGES.c.request_id,
            IMAGES.c.index,
            IMAGES.c.kind,
            IMAGES.c.created_at,
            IMAGES.c.sha256,
            IMAGES.c.manifest_sha256,
            IMAGES.c.parent_image_id,
            IMAGES.c.width,
            IMAGES.c.height,
            IMAGES.c.model_id,
            IMAGES.c.model_revision,
            IMAGES.c.seed,
            IMAGES.c.verdict,
            IMAGES.c.gpu_seconds,
            IMAGES.c.cost_usd,
            IMAGES.c.peak_memory_bytes,
            IMAGES.c.memory_kind,
            REQUESTS.c.kit_name,
            REQUESTS.c.kit_hash,
            REQUESTS.c.requested_by,
            REQUESTS.c.source,
            REQUESTS.c.channel,
            REQUESTS.c.brief["prompt"].as_string().label("prompt"),
            REQUESTS.c.brief["headline"].as_string().label("headline"),
            REQUESTS.c.profile_name,
            APPROVALS.c.decision,
            APPROVALS.c.decided_by,
            APPROVALS.c.reason,
            APPROVALS.c.decided_at,
        )
        .join(REQUESTS, REQUESTS.c.id == IMAGES.c.request_id)
        .outerjoin(APPROVALS, APPROVALS.c.image_id == IMAGES.c.id)
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


def _checks_of(connection: Connection, image_ids: list[str], evidence: bool) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {image_id: [] for image_id in image_ids}
    columns = [CHECKS.c.image_id, CHECKS.c.check_id, CHECKS.c.name, CHECKS.c.status, CHECKS.c.severity,
               CHECKS.c.confidence, CHECKS.c.message]  # fmt: skip
    if evidence:
        columns.append(CHECKS.c.evidence)
    statement = select(*columns).where(CHECKS.c.image_id.in_(image_ids)).order_by(CHECKS.c.image_id, CHECKS.c.check_id)
    for row in connection.execute(statement).all():
        check = {"id": row[1], "name": row[2], "status": row[3], "severity": row[4], "confidence": row[5],
                 "message": row[6]}  # fmt: skip
        if accepted_by_policy(row[3], row[6]):
            check["accepted"] = ACCEPTED_BY_POLICY
        if evidence:
            check["evidence"] = row[7]
        found[row[0]].append(check)
    return found


def _record(row: Any, checks: list[dict[str, Any]]) -> dict[str, Any]:
    approval = None
    if row.decision is not None:
        approval = {
            "decision": row.decision,
            "decided_by": row.decided_by,
            "reason": row.reason,
            "decided_at": canonical_time(row.decided_at),
        }
    return {
        "image_id": row.id,
        "request_id": row.request_id,
        "index": row.index,
        "kind": row.kind,
        "created_at": canonical_time(row.created_at),
        "kit": row.kit_name,
        "kit_hash": row.kit_hash,
        "requested_by": row.requested_by,
        "source": row.source,
        "channel": row.channel,
        "prompt": row.prompt,
        "headline": row.headline,
        "profile": row.profile_name,
        "model_id": row.model_id,
        "model_revision": row.model_revision,
        "seed": row.seed,
        "width": row.width,
        "height": row.height,
        "sha256": row.sha256,
        "manifest_sha256": row.manifest_sha256,
        "parent_image_id": row.parent_image_id,
        "verdict": row.verdict,
        # what the image is now: the checks' verdict unless a person decided
        "status": row.decision or row.verdict,
        "failed_checks": [c["id"] for c in checks if c["status"] in ("fail", "error")],
        # checks that applied but could not decide; those the kit's policy accepted are listed apart
        "unverified_checks": [c["id"] for c in checks if c["status"] == "unverified" and "accepted" not in c],
        "accepted_unverified": [c["id"] for c in checks if "accepted" in c],
        "checks": checks,
        "approval": approval,
        "gpu_seconds": row.gpu_seconds,
        "peak_memory_bytes": row.peak_memory_bytes,
        "memory_kind": row.memory_kind,
        "cost_usd": row.cost_usd,
    }


def count_records(engine: Engine, filters: ExportFilter | None = None) -> int:
    """How many images `export_records` would yield (for a progress display)."""
    where = (filters or ExportFilter()).clauses()
    statement = (
        select(func.count())
        .select_from(IMAGES)
        .join(REQUESTS, REQUESTS.c.id == IMAGES.c.request_id)
        .where(*where)
    )
    with engine.connect().execution_options(**READ_ONLY) as connection:
        return int(connection.execute(statement).scalar_one())


def export_records(
    engine: Engine, filters: ExportFilter | None = None, *, evidence: bool = False, batch: int = 1000
) -> Iterator[dict[str, Any]]:
    """Yield one record per matching image, oldest first, holding at most `batch` images in memory.

    Each check carries id, name, status, severity, confidence and message; `evidence=True` adds
    the check's evidence document too (larger and slower: it is parsed for every check).
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
                checks = _checks_of(connection, [row.id for row in rows], evidence)
                for row in rows:
                    yield _record(row, checks[row.id])
                after = (rows[-1].created_at, rows[-1].id)
                if len(rows) < batch:
                    return
    finally:
        connection.close()


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
            "approval_reason": approval.get("reason"),
            "approval_at": approval.get("decided_at"),
            "checks": json.dumps(
                [{k: c[k] for k in ("id", "status", "severity", "confidence", "message")} for c in record["checks"]],
                ensure_ascii=False,
                separators=(",", ":"),
            ),
        }
        writer.writerow([_cell(flat[column]) for column in CSV_COLUMNS])
        count += 1
    return count


FORMATS = {"jsonl": write_jsonl, "csv": write_csv}

__all__ = ["CSV_COLUMNS", "FORMATS", "ExportFilter", "export_records", "write_csv", "write_jsonl"]


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


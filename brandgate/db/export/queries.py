"""What the audit export reads: images in creation order, batch by batch, with everything their rows join to.

Plain SQL over the tables (no ORM object per row): one ordered query per batch for the images
joined to their request and approval rows, one for their check rows, one for the events that
recorded them. JSON columns are read as text and decoded here, once, so each value costs one
`json.loads` whatever the driver.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Generator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, Text, cast, func, literal, select, tuple_
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement

from brandgate.db.audit import EventRow
from brandgate.db.engine import READ_ONLY
from brandgate.db.evidence import (
    APPROVAL_FIELDS,
    CHECK_FIELDS,
    DECISION_KINDS,
    IMAGE_FIELDS,
    IMAGE_KINDS,
    REQUEST_FIELDS,
    REQUEST_KINDS,
)
from brandgate.db.models import Approval, AuditEvent, CheckResultRow, Image, Request
from brandgate.errors import UserError
from policies.characters import quote

IMAGES = Image.__table__
REQUESTS = Request.__table__
APPROVALS = Approval.__table__
CHECKS = CheckResultRow.__table__
EVENTS = AuditEvent.__table__
MAX_KITS_NAMED = 20
PREVIEW_APPROVALS = APPROVALS.alias("preview_approvals")
PREVIEW_APPROVAL_FIELDS = ("decision", "decided_by", "decided_at")
_JSON_IMAGE_FIELDS = frozenset(("generation_config", "timings"))
_JSON_REQUEST_FIELDS = frozenset(("brief",))
# Columns whose values are floats in Python: PostgreSQL's JSON writes 1.0 as 1, read back as an int.
_CHECK_FLOATS = frozenset(("confidence", "duration_ms"))


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




@dataclass
class Batch:
    """Up to `batch` images in export order and every row and event their export needs."""

    images: list[dict[str, Any]]
    requests: dict[str, dict[str, Any]]  # by request id; a request whose row is gone is absent
    approvals: dict[str, dict[str, Any]]  # by image id
    preview_approvals: dict[str, dict[str, Any]]  # by the preview's image id
    checks: dict[str, list[dict[str, Any]]]  # by image id, in check-ID order
    events: list[EventRow] = field(default_factory=list)  # recording events of these images and requests


def _json(text: Any) -> Any:
    return json.loads(text) if isinstance(text, str) else text


def _as_text(column: Any, name: str, json_fields: frozenset[str]) -> Any:
    return cast(column, Text).label(name) if name in json_fields else column


def _images_statement(where: Sequence[ColumnElement[bool]], size: int) -> Any:
    columns = [
        *(_as_text(IMAGES.c[name], name, _JSON_IMAGE_FIELDS) for name in IMAGE_FIELDS),
        *(_as_text(REQUESTS.c[name], f"r_{name}", _JSON_REQUEST_FIELDS) for name in REQUEST_FIELDS),
        *(APPROVALS.c[name].label(f"a_{name}") for name in APPROVAL_FIELDS),
        *(PREVIEW_APPROVALS.c[name].label(f"p_{name}") for name in PREVIEW_APPROVAL_FIELDS),
    ]
    return (
        select(*columns)
        # outer: an image whose request row is gone is still exported, and marked
        .outerjoin(REQUESTS, REQUESTS.c.id == IMAGES.c.request_id)
        .outerjoin(APPROVALS, APPROVALS.c.image_id == IMAGES.c.id)
        .outerjoin(PREVIEW_APPROVALS, PREVIEW_APPROVALS.c.image_id == IMAGES.c.parent_image_id)
        .where(*where)
        .order_by(IMAGES.c.created_at, IMAGES.c.id)
        .limit(size)
    )


def _split_images(rows: Sequence[Any]) -> Batch:
    """Each joined row into its image, request, approval and preview approval."""
    n_image, n_request, n_approval = len(IMAGE_FIELDS), len(REQUEST_FIELDS), len(APPROVAL_FIELDS)
    images, requests, approvals, previews = [], {}, {}, {}
    decode_image = [name in _JSON_IMAGE_FIELDS for name in IMAGE_FIELDS]
    for row in rows:
        values = tuple(row)
        image = {name: (_json(value) if decode else value)
                 for name, value, decode in zip(IMAGE_FIELDS, values[:n_image], decode_image, strict=True)}  # fmt: skip
        images.append(image)
        request_id = values[n_image]  # NULL when the request row is gone
        if request_id is not None and request_id not in requests:
            request = dict(zip(REQUEST_FIELDS, values[n_image : n_image + n_request], strict=True))
            request["brief"] = _json(request["brief"])
            requests[request_id] = request
        approval = values[n_image + n_request : n_image + n_request + n_approval]
        if approval[0] is not None:
            approvals[image["id"]] = dict(zip(APPROVAL_FIELDS, approval, strict=True))
        preview = values[n_image + n_request + n_approval :]
        if preview[0] is not None and image["parent_image_id"] is not None:
            previews[image["parent_image_id"]] = dict(zip(PREVIEW_APPROVAL_FIELDS, preview, strict=True))
    return Batch(images, requests, approvals, previews, {})


def _checks_of(connection: Connection, image_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {image_id: [] for image_id in image_ids}
    if connection.dialect.name == "postgresql":
        # One row per image, its checks as one JSON array: 14 rows and 14 decodes become one of each.
        items = func.json_build_array(*(CHECKS.c[name] for name in CHECK_FIELDS))
        statement = (
            select(CHECKS.c.image_id, cast(func.json_agg(aggregate_order_by(items, CHECKS.c.check_id)), Text))
            .where(CHECKS.c.image_id.in_(image_ids))
            .group_by(CHECKS.c.image_id)
        )
        for image_id, text in connection.execute(statement):
            found[image_id] = [_check(values) for values in json.loads(text)]
        return found
    columns = [CHECKS.c.image_id, *(_as_text(CHECKS.c[name], name, frozenset(("evidence",))) for name in CHECK_FIELDS)]
    statement = select(*columns).where(CHECKS.c.image_id.in_(image_ids)).order_by(CHECKS.c.image_id, CHECKS.c.check_id)
    for row in connection.execute(statement):
        check = dict(zip(CHECK_FIELDS, tuple(row)[1:], strict=True))
        check["evidence"] = _json(check["evidence"])
        found[row[0]].append(check)
    return found


def _check(values: list[Any]) -> dict[str, Any]:
    check = dict(zip(CHECK_FIELDS, values, strict=True))
    for name in _CHECK_FLOATS:
        if isinstance(check[name], int):
            check[name] = float(check[name])
    return check


def _events_of(connection: Connection, subject_type: str, ids: Collection[str], kinds: Sequence[str]) -> list[EventRow]:
    columns = [EVENTS.c[name] for name in EventRow._fields if name != "payload"]
    columns.insert(EventRow._fields.index("payload"), cast(EVENTS.c.payload, Text).label("payload"))
    statement = (
        select(*columns)
        .where(EVENTS.c.subject_type == subject_type, EVENTS.c.subject_id.in_(list(ids)), EVENTS.c.kind.in_(kinds))
        .order_by(EVENTS.c.seq)
    )
    return [EventRow._make((*row[:6], _json(row[6]), *row[7:])) for row in connection.execute(statement)]


def read_batches(
    engine: Engine, filters: ExportFilter | None = None, batch: int = 2000
) -> Generator[Batch, None, None]:
    """Every matching image, oldest first, `batch` at a time, all read in one snapshot."""
    connection = engine.connect().execution_options(**READ_ONLY)
    if connection.dialect.name == "postgresql":
        # one snapshot for the whole export, however many batches it takes
        connection = connection.execution_options(isolation_level="REPEATABLE READ")
    where = (filters or ExportFilter()).clauses()
    try:
        with connection.begin():
            after: tuple[datetime, str] | None = None
            while True:
                statement = _images_statement(where, batch)
                if after is not None:
                    # Keyset, not OFFSET: each batch costs the same however deep into the trail it is.
                    created, image_id = after
                    bound = tuple_(literal(created, IMAGES.c.created_at.type), literal(image_id, IMAGES.c.id.type))
                    statement = statement.where(tuple_(IMAGES.c.created_at, IMAGES.c.id) > bound)
                rows = connection.execute(statement).all()
                if not rows:
                    return
                found = _split_images(rows)
                image_ids = [image["id"] for image in found.images]
                found.checks = _checks_of(connection, image_ids)
                found.events = _events_of(connection, "image", image_ids, IMAGE_KINDS + DECISION_KINDS)
                found.events += _events_of(connection, "request", found.requests, REQUEST_KINDS)
                yield found
                last = found.images[-1]
                after = (last["created_at"], last["id"])
                if len(rows) < batch:
                    return
    finally:
        connection.close()


def count_records(engine: Engine, filters: ExportFilter | None = None) -> int:
    """How many images the export of these filters yields (for a progress display)."""
    where = (filters or ExportFilter()).clauses()
    statement = (
        select(func.count()).select_from(IMAGES).outerjoin(REQUESTS, REQUESTS.c.id == IMAGES.c.request_id).where(*where)
    )
    with engine.connect().execution_options(**READ_ONLY) as connection:
        return int(connection.execute(statement).scalar_one())


def row_gone(engine: Engine) -> str | None:
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


__all__ = ["Batch", "EventRow", "ExportFilter", "check_kit_known", "count_records", "read_batches", "row_gone"]

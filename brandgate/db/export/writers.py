"""The audit export's file formats: JSONL (one record a line) and CSV (one flat row an image)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from typing import IO, Any

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
_CHECK_KEYS = ("id", "name", "status", "severity", "confidence", "message")
# How many lines are joined before one write: fewer, larger writes, in bounded memory.
_LINES_PER_WRITE = 500
_compact = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def write_jsonl(records: Iterator[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    lines: list[str] = []
    for record in records:
        lines.append(_compact(record))
        count += 1
        if len(lines) == _LINES_PER_WRITE:
            out.write("\n".join(lines) + "\n")
            lines.clear()
    if lines:
        out.write("\n".join(lines) + "\n")
    return count


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def _row(record: dict[str, Any]) -> list[Any]:
    approval = record["approval"] or {}
    preview = record["preview_approval"] or {}
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
        "preview_approval_decision": preview.get("decision"),
        "preview_approval_by": preview.get("decided_by"),
        "integrity_problems": "; ".join(record["integrity_problems"]),
        "checks": _compact([{key: check[key] for key in _CHECK_KEYS} for check in record["checks"]]),
    }
    return [_cell(flat[column]) for column in CSV_COLUMNS]


def write_csv(records: Iterator[dict[str, Any]], out: IO[str]) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    count = 0
    rows: list[list[Any]] = []
    for record in records:
        rows.append(_row(record))
        count += 1
        if len(rows) == _LINES_PER_WRITE:
            writer.writerows(rows)
            rows.clear()
    writer.writerows(rows)
    return count


FORMATS = {"jsonl": write_jsonl, "csv": write_csv}

__all__ = ["CSV_COLUMNS", "FORMATS", "write_csv", "write_jsonl"]

"""The audit export's records: one per image with its checks, approval, cost and standing against the trail."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Engine

from brandgate.db.audit import canonical_time
from brandgate.db.evidence import DECISION_KINDS
from brandgate.db.export.integrity import decider_name, first_event, recorded_events, standing
from brandgate.db.export.queries import ExportFilter, read_batches
from policies.engine import ACCEPTED_BY_POLICY, accepted_by_policy


def _record(
    image: Mapping[str, Any],
    checks: list[dict[str, Any]],
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
        "preview_approval": None
        if preview_approval is None
        else {
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


def export_records(
    engine: Engine, filters: ExportFilter | None = None, *, evidence: bool = False, batch: int = 2000
) -> Iterator[dict[str, Any]]:
    """Yield one record per matching image, oldest first, holding at most `batch` images in memory.

    Each check carries id, name, status, severity, confidence and message; `evidence=True` adds
    the check's evidence document too. Every record is checked against the events that recorded
    its rows and says so in `integrity` (`verified`, `legacy` or `tampered`, with the problems).
    """
    for found in read_batches(engine, filters, batch):
        events = recorded_events(found.events)
        requests_checked: dict[str, tuple[list[str], bool]] = {}
        for image in found.images:
            image_id, parent = image["id"], image["parent_image_id"]
            checks = found.checks[image_id]
            request, approval = found.requests.get(image["request_id"]), found.approvals.get(image_id)
            held = standing(image, checks, request, approval, events, requests_checked)
            decision = first_event(events, image_id, DECISION_KINDS)
            yield _record(image, checks, request, approval, held, evidence, decider_name(decision, approval),
                          found.preview_approvals.get(parent) if parent else None)  # fmt: skip


__all__ = ["export_records"]

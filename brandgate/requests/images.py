"""An image of a request as people are shown it and as a click on it is authorised: the one read-model
of an image row, used by the queue's status (and so the CLI and the regression suite) and by the bot."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from brandgate.db.models import Approval, CheckResultRow, Image, Request
from brandgate.requests.actors import parse_actor
from brandgate.requests.decisions import verdict_after
from brandgate.requests.image_formats import suffix_of
from policies.check import ACCEPTED_BY_POLICY
from policies.engine import accepted_by_policy


@dataclass(frozen=True)
class ImageView:
    """A produced image with its request's who, where and what, and its verdict after any decision."""

    image_id: str
    request_id: str
    index: int
    verdict: str  # pass, unverified, flag, reject, approved, rejected (after a human decision)
    seed: int
    kit: str
    requested_by: str  # an actor name (brandgate.requests.actors)
    channel: str | None
    artifact_path: str
    manifest_path: str | None
    cost_usd: float
    brief: Mapping[str, Any] = field(default_factory=dict)
    failed_checks: tuple[Mapping[str, Any], ...] = ()  # CheckResult.to_json() of fail/error checks
    decided_by: str | None = None
    # Checks that applied but could not decide ("not checked: ..."), the policy-accepted ones too
    unverified_checks: tuple[Mapping[str, Any], ...] = ()

    @property
    def workspace(self) -> str | None:
        """The Slack workspace that asked for it; None for anyone else (the CLI, the regression suite)."""
        actor = parse_actor(self.requested_by)
        return actor[0] if actor else None

    @property
    def requester(self) -> str | None:
        """The Slack user who asked for it; None for anyone else."""
        actor = parse_actor(self.requested_by)
        return actor[1] if actor else None


def image_view(
    image: Image, request: Request, approval: Approval | None, artifacts: Callable[[str, str], str]
) -> ImageView:
    """The view of `image`; `artifacts(sha256, suffix)` names a stored file."""
    failed = tuple(check_view(c) for c in image.checks if c.status in ("fail", "error"))
    unverified = tuple(check_view(c) for c in image.checks if c.status == "unverified")
    return ImageView(
        image_id=image.id,
        request_id=request.id,
        index=image.index,
        verdict=verdict_after(image.verdict, approval.decision if approval is not None else None),
        seed=image.seed,
        kit=request.kit_name,
        requested_by=request.requested_by,
        channel=request.channel,
        artifact_path=artifacts(image.sha256, suffix_of(image.media_type)),
        manifest_path=artifacts(image.manifest_sha256, ".c2pa") if image.manifest_sha256 else None,
        cost_usd=image.cost_usd,
        brief=dict(request.brief),
        failed_checks=failed,
        decided_by=approval.decided_by if approval is not None else None,
        unverified_checks=unverified,
    )


def check_view(check: CheckResultRow) -> dict[str, Any]:
    view = {"id": check.check_id, "name": check.name, "status": check.status, "severity": check.severity,
            "confidence": check.confidence, "message": check.message, "evidence": check.evidence}  # fmt: skip
    if accepted_by_policy(check.status, check.message):
        view["accepted"] = ACCEPTED_BY_POLICY
    return view

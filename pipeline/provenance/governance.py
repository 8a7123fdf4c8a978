"""The governance assertion: what brandgate writes into an image's content credentials, and reads back.

Plain dataclasses with their JSON form (`com.brandgate.governance`, schema 1); nothing here
loads the C2PA SDK. The check statuses and verdicts are the checks' own (policies/check.py).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, get_args

from policies.check import ACCEPTED_BY_POLICY, STATUSES, Decision, Status, Verdict

if TYPE_CHECKING:
    from policies.engine import CheckResult

GOVERNANCE_LABEL = "com.brandgate.governance"
GOVERNANCE_SCHEMA = 1

GovernanceVerdict = Literal[Verdict, Decision]  # the checks' verdict, or a person's decision over it
# Statuses whose reason the credentials carry: why a check did not decide, or did not apply.
_REASONED = ("skip", "unverified", "error")


@dataclass(frozen=True)
class ModelIdentity:
    """The model that generated an image, as the `c2pa.created` software agent names it."""

    name: str
    revision: str

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError(f"model name is empty (got {self.name!r})")
        if not self.revision.strip():
            raise ValueError(f"model revision is empty for {self.name!r}; give the commit or file hash")


@dataclass(frozen=True)
class CheckRecord:
    """One check as the credentials keep it: ID, status, confidence and, when it did not
    decide, the reason (and whether the kit's policy accepted it unverified)."""

    id: str
    status: Status
    confidence: float
    reason: str | None = None
    accepted: bool = False

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"check {self.id}: status must be one of {STATUSES} (got {self.status!r})")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"check {self.id}: confidence must be within 0..1 (got {self.confidence!r})")

    @classmethod
    def from_result(cls, result: CheckResult) -> CheckRecord:
        return cls(
            id=result.id,
            status=result.status,
            confidence=float(result.confidence),
            reason=result.message if result.status in _REASONED else None,
            accepted=result.accepted,
        )

    def to_assertion(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "status": self.status, "confidence": self.confidence}
        if self.reason is not None:
            data["reason"] = self.reason
        if self.accepted:
            data["accepted"] = ACCEPTED_BY_POLICY
        return data

    @classmethod
    def from_assertion(cls, data: Mapping[str, Any]) -> CheckRecord:
        return cls(
            id=data["id"],
            status=data["status"],
            confidence=float(data["confidence"]),
            reason=data.get("reason"),
            accepted=data.get("accepted") == ACCEPTED_BY_POLICY,
        )


@dataclass(frozen=True)
class ApprovalRecord:
    """A brand manager's decision on a flagged image."""

    decision: Decision
    decided_by: str
    decided_at: dt.datetime
    reason: str | None = None

    def __post_init__(self) -> None:
        if self.decision not in get_args(Decision):
            raise ValueError(f"approval decision must be 'approved' or 'rejected' (got {self.decision!r})")
        if not self.decided_by.strip():
            raise ValueError("approval decided_by is empty; name the person who decided")
        if self.decided_at.tzinfo is None:
            raise ValueError(f"approval decided_at must carry a time zone (got {self.decided_at!r})")


@dataclass(frozen=True)
class TrailAnchor:
    """The audit chain's head when the image was signed: every published image anchors the trail."""

    seq: int
    hash: str
    # The latest signed head of the trail's Merkle tree when the image was signed (size 0: none yet).
    # Credentials that carry it promise the image's record is in the trail: `verify` proves it.
    tree_size: int | None = None
    tree_root: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.seq, bool) or not isinstance(self.seq, int) or self.seq < 1:
            raise ValueError(f"trail anchor seq must be a positive integer (got {self.seq!r})")
        if not isinstance(self.hash, str) or re.fullmatch(r"[0-9a-f]{64}", self.hash) is None:
            raise ValueError(f"trail anchor hash must be 64 lowercase hex digits (got {self.hash!r})")
        if (self.tree_size is None) != (self.tree_root is None):
            raise ValueError("trail anchor tree head needs both size and root")
        if self.tree_size is not None and (
            isinstance(self.tree_size, bool) or not isinstance(self.tree_size, int) or self.tree_size < 0
        ):
            raise ValueError(f"trail tree head size must be a non-negative integer (got {self.tree_size!r})")
        if self.tree_root is not None and (
            not isinstance(self.tree_root, str) or re.fullmatch(r"[0-9a-f]{64}", self.tree_root) is None
        ):
            raise ValueError(f"trail tree head root must be 64 lowercase hex digits (got {self.tree_root!r})")


@dataclass(frozen=True)
class GovernanceRecord:
    """What brandgate knows about one image, carried inside its content credentials."""

    request_id: str
    verdict: GovernanceVerdict
    checks: tuple[CheckRecord, ...]
    kit_name: str
    kit_hash: str
    brief_hash: str
    seed: int
    profile_hash: str
    model: ModelIdentity
    image_id: str | None = None
    profile_name: str | None = None
    approval: ApprovalRecord | None = None
    trail: TrailAnchor | None = None

    def __post_init__(self) -> None:
        if self.verdict not in get_args(GovernanceVerdict):
            raise ValueError(f"verdict must be one of {get_args(GovernanceVerdict)} (got {self.verdict!r})")
        for name in ("request_id", "kit_name", "kit_hash", "brief_hash", "profile_hash"):
            if not str(getattr(self, name)).strip():
                raise ValueError(f"governance record {name} is empty")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer (got {self.seed!r})")
        ids = [c.id for c in self.checks]
        if len(ids) != len(set(ids)):
            raise ValueError(f"check IDs repeat in the governance record: {sorted(ids)}")
        if not isinstance(self.checks, tuple):
            object.__setattr__(self, "checks", tuple(self.checks))

    def to_assertion(self) -> dict[str, Any]:
        """The `com.brandgate.governance` assertion body (JSON types only)."""
        data: dict[str, Any] = {
            "schema": GOVERNANCE_SCHEMA,
            "request_id": self.request_id,
            "image_id": self.image_id,
            "verdict": self.verdict,
            "checks": [c.to_assertion() for c in self.checks],
            "kit": {"name": self.kit_name, "hash": self.kit_hash},
            "brief_hash": self.brief_hash,
            "seed": self.seed,
            "profile": {"name": self.profile_name, "hash": self.profile_hash},
            "model": {"name": self.model.name, "revision": self.model.revision},
            "approval": None,
        }
        if self.approval is not None:
            data["approval"] = {
                "decision": self.approval.decision,
                "decided_by": self.approval.decided_by,
                "decided_at": self.approval.decided_at.isoformat(),
                "reason": self.approval.reason,
            }
        if self.trail is not None:
            data["trail"] = {"seq": self.trail.seq, "hash": self.trail.hash}
            if self.trail.tree_size is not None:
                data["trail"]["tree"] = {"size": self.trail.tree_size, "root": self.trail.tree_root}
        return data

    @classmethod
    def from_assertion(cls, data: Mapping[str, Any]) -> GovernanceRecord:
        """Parse an assertion body; ValueError names the field when it is not ours or is damaged."""
        try:
            schema = data.get("schema")
            if schema != GOVERNANCE_SCHEMA:
                raise ValueError(f"unknown governance schema {schema!r} (this brandgate reads {GOVERNANCE_SCHEMA})")
            approval = data.get("approval")
            trail = data.get("trail")
            return cls(
                request_id=data["request_id"],
                image_id=data.get("image_id"),
                verdict=data["verdict"],
                checks=tuple(CheckRecord.from_assertion(c) for c in data["checks"]),
                kit_name=data["kit"]["name"],
                kit_hash=data["kit"]["hash"],
                brief_hash=data["brief_hash"],
                seed=data["seed"],
                profile_name=data["profile"].get("name"),
                profile_hash=data["profile"]["hash"],
                model=ModelIdentity(name=data["model"]["name"], revision=data["model"]["revision"]),
                approval=None
                if approval is None
                else ApprovalRecord(
                    decision=approval["decision"],
                    decided_by=approval["decided_by"],
                    decided_at=dt.datetime.fromisoformat(approval["decided_at"]),
                    reason=approval.get("reason"),
                ),
                trail=None
                if trail is None
                else TrailAnchor(
                    seq=trail["seq"],
                    hash=trail["hash"],
                    tree_size=None if trail.get("tree") is None else trail["tree"]["size"],
                    tree_root=None if trail.get("tree") is None else trail["tree"]["root"],
                ),
            )
        except KeyError as exc:
            raise ValueError(f"governance assertion lacks field {exc.args[0]!r}") from exc
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"governance assertion is malformed ({exc})") from exc

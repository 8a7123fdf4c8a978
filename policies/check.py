"""What a check is and what it says: the spec the registry reads from a check module, and its outcome.

Check modules and the registry import this; the engine that runs them imports both, so the
checks never import the engine back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal, Protocol

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

Status = Literal["pass", "fail", "skip", "unverified", "error"]
Severity = Literal["flag", "reject"]
STATUSES: tuple[Status, ...] = ("pass", "fail", "skip", "unverified", "error")
# How an unverified result accepted by the kit's policy starts its message; the engine writes it
# and the credentials carry it (here, so reading credentials does not load the check modules).
ACCEPTED_BY_POLICY = "accepted unverified by policy"
# An image's verdict from its checks, and what a brand manager decides of a flagged or unverified
# one (the decision becomes the image's verdict); here, not in the engine, so the credential schema
# can name them without loading the checks.
Verdict = Literal["pass", "unverified", "flag", "reject"]
Decision = Literal["approved", "rejected"]


@dataclass(frozen=True)
class Outcome:
    """What a check function returns; the engine adds ID, name, severity and timing.

    `skip` means the check does not apply (the brief asks for no disclaimer); `unverified` means
    it applies but could not decide for lack of means (no detector configured, a photograph where
    only flat-graphic counting exists, no OCR engine), with a message "not checked: <what>, <why>".
    """

    status: Status
    message: str
    confidence: float = 1.0
    evidence: Mapping[str, Any] = field(default_factory=dict)


class CheckFunction(Protocol):
    def __call__(self, creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome: ...


class BriefCheckFunction(Protocol):
    def __call__(self, brief: Brief, kit: Kit, options: Mapping[str, Any]) -> Outcome: ...


@dataclass(frozen=True)
class CheckSpec:
    """A built-in check as the registry knows it, read from its module."""

    id: str
    name: str
    family: str
    default_severity: Severity
    doc: str
    module: ModuleType

    @classmethod
    def from_module(cls, module: ModuleType) -> CheckSpec:
        return cls(
            id=module.ID,
            name=module.NAME,
            family=module.FAMILY,
            default_severity=module.DEFAULT_SEVERITY,
            doc=(module.__doc__ or "").strip(),
            module=module,
        )

    @property
    def screens_brief(self) -> bool:
        """True for checks that look only at the brief (run before any GPU is spent)."""
        return hasattr(self.module, "screen")

    def severity_for(self, options: Mapping[str, Any]) -> Severity:
        severity = options.get("severity", self.default_severity)
        return "reject" if severity == "reject" else "flag"

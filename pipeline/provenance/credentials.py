"""What the content credentials of one asset say, and whether they hold: the verifier's answer."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from pipeline.provenance.governance import GovernanceRecord
from policies.errors import InvalidInput

State = Literal["trusted", "valid", "invalid", "no_credentials"]


class CredentialsUnreadable(InvalidInput):
    """Bytes that cannot be read as an asset (not an image, or an unreadable sidecar)."""

    def __init__(self, detail: str, *, in_sidecar: bool = False) -> None:
        self.detail = detail
        self.in_sidecar = in_sidecar
        super().__init__(detail, "--manifest" if in_sidecar else None)


@dataclass(frozen=True)
class SignerIdentity:
    """Who signed, from the certificate in the manifest."""

    subject: str
    issuer: str | None
    serial_number: str | None
    algorithm: str | None
    not_before: str | None = None
    not_after: str | None = None


@dataclass(frozen=True)
class ValidationCode:
    code: str
    explanation: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Credentials:
    """What the content credentials of one asset say, and whether they hold."""

    state: State
    validation_state: str | None = None
    manifest_source: Literal["embedded", "sidecar"] | None = None
    claim_generator: str | None = None
    title: str | None = None
    signer: SignerIdentity | None = None
    signing_time: str | None = None
    signing_time_source: Literal["time-stamp authority", "claimed by signer"] | None = None
    actions: tuple[dict[str, Any], ...] = ()
    ingredients: tuple[dict[str, Any], ...] = ()
    governance: GovernanceRecord | None = None
    governance_raw: dict[str, Any] | None = None
    governance_error: str | None = None
    unknown_assertions: tuple[str, ...] = ()
    success: tuple[ValidationCode, ...] = ()
    informational: tuple[ValidationCode, ...] = ()
    failure: tuple[ValidationCode, ...] = ()
    problem: str | None = None
    manifest_count: int = 0
    # The `dcterms:provenance` reference of an asset whose manifest lives elsewhere; never fetched.
    remote_manifest: str | None = None
    # The XMP's `self#jumbf=` reference into a manifest store the file no longer holds: the
    # credentials were removed (stripped by an editor, an upload pipeline), not tampered with.
    removed_manifest: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def failure_codes(self) -> tuple[str, ...]:
        return tuple(c.code for c in self.failure)

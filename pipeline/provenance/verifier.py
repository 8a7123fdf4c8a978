"""The verifier: reads an asset's content credentials and validates them against the trust anchors."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

import c2pa

from pipeline.keys import KeyFileError, key_paths
from pipeline.provenance.credentials import Credentials, CredentialsUnreadable, SignerIdentity, State, ValidationCode
from pipeline.provenance.governance import GOVERNANCE_LABEL, GovernanceRecord
from pipeline.provenance.media import SNIFF_BYTES, has_c2pa_marker, holds_manifest_store, sniff_media_type
from pipeline.provenance.remote import SELF_REFERENCE, remote_credentials, remote_manifest_reference
from pipeline.provenance.trust import read_anchors, read_context
from policies.errors import InvalidInput

if TYPE_CHECKING:
    from brandgate.settings import Settings

# Assertions a C2PA reader is expected to meet in images from other tools; anything else
# is reported as unknown (never fatal: the standard lets anyone add assertions).
_KNOWN_ASSERTION_PREFIXES = (
    "c2pa.actions",
    "c2pa.hash.",
    "c2pa.ingredient",
    "c2pa.thumbnail.",
    "c2pa.soft-binding",
    "c2pa.cloud-data",
    "c2pa.depthmap",
    "c2pa.training-mining",
    "c2pa.metadata",
    "c2pa.asset-ref",
    "c2pa.asset-type",
    "c2pa.embedded-data",
    "c2pa.icon",
    "c2pa.font.",
    "stds.schema-org.",
    "stds.exif",
    "stds.iptc",
    "cawg.",
    GOVERNANCE_LABEL,
)
_INSTANCE_SUFFIX = re.compile(r"__\d+$")


class Verifier:
    """Reads and validates content credentials against a set of trust anchors."""

    def __init__(self, trust_anchors_pem: bytes | None) -> None:
        self.trust_anchors_pem = trust_anchors_pem
        self._context = read_context(trust_anchors_pem)

    @classmethod
    def from_settings(cls, settings: Settings) -> Verifier:
        paths = key_paths(settings)
        try:
            anchors = read_anchors(paths.trust_anchors, explicit=settings.trust_anchors is not None)
        except KeyFileError as exc:
            raise InvalidInput(str(exc)) from exc
        return cls(anchors)

    def read(self, data: bytes, media_type: str | None = None, manifest_store: bytes | None = None) -> Credentials:
        """Validate the credentials of `data` (embedded, or in `manifest_store` when given).

        `media_type` None means: take it from the bytes. Raises CredentialsUnreadable when
        the bytes are not an asset the SDK can parse and hold no manifest; bytes that hold
        a manifest which cannot be checked (a truncated file) are `invalid`.
        """
        media_type = media_type or sniff_media_type(data[:SNIFF_BYTES])
        if media_type is None:
            # Text, code, an archive: whatever it mentions, there is no container to hold credentials.
            raise CredentialsUnreadable(
                "is not a readable asset of a type C2PA covers (its first bytes are not JPEG, PNG, WebP, TIFF, "
                "HEIF/AVIF, GIF, MP4/MOV, WAV, AVI, MP3, PDF or SVG)"
            )
        if manifest_store is not None and not has_c2pa_marker(manifest_store[:4096]):
            raise CredentialsUnreadable("is not a C2PA manifest store (no JUMBF c2pa box)", in_sidecar=True)
        try:
            with c2pa.Reader(media_type, io.BytesIO(data), manifest_store, context=self._context) as reader:
                store = json.loads(reader.json())
                try:
                    cr = json.loads(reader.crjson())
                except (c2pa.C2paError, ValueError):
                    cr = {}
                embedded = reader.is_embedded()
        except c2pa.C2paError.ManifestNotFound:
            # The SDK ignores a provenance reference it cannot use; a pointer that leads nowhere is damage.
            reference = None if manifest_store is not None else remote_manifest_reference(data)
            if reference is not None:
                return remote_credentials(reference)
            return Credentials(state="no_credentials")
        except c2pa.C2paError as exc:
            text = str(exc)
            if manifest_store is None and (isinstance(exc, c2pa.C2paError.RemoteManifest) or text.startswith("Remote")):
                # Remote fetching is off (offline by design); the SDK names the URL it would have fetched.
                reference = remote_manifest_reference(data) or text.rsplit(" ", 1)[-1]
                return remote_credentials(reference)
            if manifest_store is not None and "jumbf" in text.lower():
                raise CredentialsUnreadable(f"cannot be read as a manifest store ({text})", in_sidecar=True) from exc
            if manifest_store is not None or holds_manifest_store(data, media_type):
                # Credentials are there but cannot be checked against the asset: a
                # truncated file, a damaged manifest box. That is tampering, not bad input.
                return Credentials(
                    state="invalid",
                    problem=f"credentials present but unreadable: {text}",
                    manifest_source="sidecar" if manifest_store is not None else "embedded",
                )
            reference = None if manifest_store is not None else remote_manifest_reference(data)
            if reference is not None and reference.strip().startswith(SELF_REFERENCE):
                # A damaged file whose XMP still points at a store inside it that is gone: removed.
                return remote_credentials(reference)
            raise CredentialsUnreadable(f"is not a readable {media_type} (the SDK says: {text})") from exc
        return _credentials_from(store, cr, "embedded" if embedded and manifest_store is None else "sidecar")


def _codes(entries: Sequence[Mapping[str, Any]] | None) -> tuple[ValidationCode, ...]:
    return tuple(
        ValidationCode(code=str(e.get("code")), explanation=e.get("explanation"), url=e.get("url"))
        for e in entries or ()
    )


def _signer_from(manifest: Mapping[str, Any], cr: Mapping[str, Any], label: str) -> SignerIdentity | None:
    info = manifest.get("signature_info") or {}
    cert_info: Mapping[str, Any] = {}
    for entry in cr.get("manifests", ()) or ():
        if entry.get("label") == label:
            cert_info = (entry.get("signature") or {}).get("certificateInfo") or {}
    subject_parts = cert_info.get("subject") or {}
    issuer_parts = cert_info.get("issuer") or {}
    if not info and not subject_parts:
        return None

    def dn(parts: Mapping[str, Any]) -> str:
        return ", ".join(f"{k}={v}" for k, v in parts.items())

    subject = dn(subject_parts) if subject_parts else str(info.get("common_name") or "unknown")
    issuer = dn(issuer_parts) if issuer_parts else info.get("issuer")
    validity = cert_info.get("validity") or {}
    return SignerIdentity(
        subject=subject,
        issuer=issuer,
        serial_number=cert_info.get("serialNumber") or info.get("cert_serial_number"),
        algorithm=str(info.get("alg") or "") or None,
        not_before=validity.get("notBefore"),
        not_after=validity.get("notAfter"),
    )


def _is_known(label: str) -> bool:
    base = _INSTANCE_SUFFIX.sub("", label)
    return any(base == p or base.startswith(p) for p in _KNOWN_ASSERTION_PREFIXES)


def _credentials_from(
    store: Mapping[str, Any], cr: Mapping[str, Any], source: Literal["embedded", "sidecar"]
) -> Credentials:
    label = store.get("active_manifest")
    manifests = store.get("manifests") or {}
    manifest = manifests.get(label) or {}
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    validation_state = store.get("validation_state")
    state: State = {"Trusted": "trusted", "Valid": "valid"}.get(str(validation_state), "invalid")  # type: ignore[assignment]

    actions: list[dict[str, Any]] = []
    governance_raw: dict[str, Any] | None = None
    unknown: list[str] = []
    for assertion in manifest.get("assertions") or ():
        name = str(assertion.get("label", ""))
        if name.startswith("c2pa.actions"):
            actions.extend((assertion.get("data") or {}).get("actions") or ())
        elif name == GOVERNANCE_LABEL:
            governance_raw = assertion.get("data")
        if not _is_known(name):
            unknown.append(name)

    governance: GovernanceRecord | None = None
    governance_error: str | None = None
    if governance_raw is not None:
        try:
            governance = GovernanceRecord.from_assertion(governance_raw)
        except ValueError as exc:
            governance_error = str(exc)

    info = manifest.get("signature_info") or {}
    if info.get("time"):
        signing_time, time_source = str(info["time"]), "time-stamp authority"
    elif governance_raw and governance_raw.get("signed_at"):
        signing_time, time_source = str(governance_raw["signed_at"]), "claimed by signer"
    else:
        signing_time, time_source = None, None

    generators = manifest.get("claim_generator_info") or []
    if generators:
        first = generators[0]
        claim_generator = f"{first.get('name')}/{first.get('version')}" if first.get("version") else first.get("name")
    else:
        claim_generator = manifest.get("claim_generator")

    ingredients = tuple(
        {
            "title": ing.get("title"),
            "format": ing.get("format"),
            "relationship": ing.get("relationship"),
            "role": ing.get("description"),
            "has_credentials": bool(ing.get("active_manifest")),
            "validation_state": _ingredient_state(ing),
        }
        for ing in manifest.get("ingredients") or ()
    )
    return Credentials(
        state=state,
        validation_state=None if validation_state is None else str(validation_state),
        manifest_source=source,
        claim_generator=claim_generator,
        title=manifest.get("title"),
        signer=_signer_from(manifest, cr, str(label)),
        signing_time=signing_time,
        signing_time_source=time_source,  # type: ignore[arg-type]
        actions=tuple(actions),
        ingredients=ingredients,
        governance=governance,
        governance_raw=governance_raw,
        governance_error=governance_error,
        unknown_assertions=tuple(unknown),
        success=_codes(results.get("success")),
        informational=_codes(results.get("informational")),
        failure=_codes(results.get("failure")),
        manifest_count=len(manifests),
        raw=dict(store),
    )


def _ingredient_state(ingredient: Mapping[str, Any]) -> str | None:
    results = (ingredient.get("validation_results") or {}).get("activeManifest") or {}
    if not ingredient.get("active_manifest"):
        return None
    if results.get("failure"):
        codes = {f.get("code") for f in results["failure"]}
        return "valid" if codes == {"signingCredential.untrusted"} else "invalid"
    return (
        "trusted"
        if any(s.get("code") == "signingCredential.trusted" for s in results.get("success") or ())
        else "valid"
    )

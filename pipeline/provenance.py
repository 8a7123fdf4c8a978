"""C2PA content credentials: sign images with the governance verdict inside, and read them back.

This is the only module that imports `c2pa`. Everything it hands out is a plain
dataclass, so callers never touch the SDK's native objects.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import io
import json
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from brandgate import __version__
from pipeline.containers import SNIFF_BYTES, holds_manifest_store, sniff_media_type
from pipeline.keys import KeyFileError, key_paths, load_certificates, read_pem_file
from policies.check import ACCEPTED_BY_POLICY, Decision, Status, Verdict
from policies.errors import BrandgateError, InvalidInput

if TYPE_CHECKING:
    from brandgate.settings import Settings
    from policies.engine import CheckResult

log = logging.getLogger(__name__)

CLAIM_GENERATOR = "brandgate"
GOVERNANCE_LABEL = "com.brandgate.governance"
GOVERNANCE_SCHEMA = 1
ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

MediaType = Literal["image/png", "image/jpeg", "image/webp"]
SIGNABLE_MEDIA_TYPES: tuple[str, ...] = get_args(MediaType)
GovernanceVerdict = Literal[Verdict, Decision]  # the checks' verdict, or a person's decision over it
CheckStatus = Status
# Statuses whose reason the credentials carry: why a check did not decide, or did not apply.
_REASONED = ("skip", "unverified", "error")
Relationship = Literal["parentOf", "componentOf"]
State = Literal["trusted", "valid", "invalid", "no_credentials"]
SignCallback = Callable[[bytes], bytes]

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


class SigningConfigError(InvalidInput):
    """The signer cannot be set up: a certificate, key, trust anchor or TSA problem."""


class SigningError(BrandgateError, RuntimeError):
    """Signing one image failed although the signer is set up (bad image bytes, SDK failure)."""


class CredentialsUnreadable(InvalidInput):
    """Bytes that cannot be read as an asset (not an image, or an unreadable sidecar)."""

    def __init__(self, detail: str, *, in_sidecar: bool = False) -> None:
        self.detail = detail
        self.in_sidecar = in_sidecar
        super().__init__(detail, "--manifest" if in_sidecar else None)


# ---------------------------------------------------------------------------- inputs


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
    status: CheckStatus
    confidence: float
    reason: str | None = None
    accepted: bool = False

    def __post_init__(self) -> None:
        if self.status not in get_args(CheckStatus):
            raise ValueError(f"check {self.id}: status must be one of {get_args(CheckStatus)} (got {self.status!r})")
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


@dataclass(frozen=True)
class Ingredient:
    """An asset that went into the signed one: a logo or background placed, or the preview exported."""

    data: bytes
    media_type: str
    title: str
    relationship: Relationship
    role: str

    def __post_init__(self) -> None:
        if not self.data:
            raise ValueError(f"ingredient {self.title!r} has no bytes")
        if self.relationship not in get_args(Relationship):
            raise ValueError(f"ingredient relationship must be parentOf or componentOf (got {self.relationship!r})")

    @classmethod
    def logo(cls, data: bytes, media_type: str, title: str = "logo") -> Ingredient:
        return cls(data, media_type, title, "componentOf", "logo")

    @classmethod
    def background(cls, data: bytes, media_type: str, title: str = "generated background") -> Ingredient:
        return cls(data, media_type, title, "componentOf", "background")

    @classmethod
    def preview(cls, data: bytes, media_type: str, title: str = "approved preview") -> Ingredient:
        """The signed preview an HQ export was made from."""
        return cls(data, media_type, title, "parentOf", "preview")


# ---------------------------------------------------------------------------- outputs


def sidecar_path(artifact: Path) -> Path:
    """Where the manifest store of `artifact` is kept: same name, `.c2pa` extension."""
    return artifact.with_suffix(".c2pa")


@dataclass(frozen=True)
class SignedAsset:
    """A signed image and its manifest store (the same bytes it embeds), for the sidecar."""

    image: bytes
    manifest_store: bytes
    media_type: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.image).hexdigest()

    @property
    def manifest_sha256(self) -> str:
        return hashlib.sha256(self.manifest_store).hexdigest()

    def write(self, path: Path) -> tuple[Path, Path]:
        """Write the image to `path` and the manifest store next to it; returns both paths.

        The sidecar survives where the embedded copy does not (Slack, CMSs, re-encoders
        strip metadata): it proves what the signed bytes were and who signed them.
        """
        path.parent.mkdir(parents=True, exist_ok=True)
        _replace_file(path, self.image)
        return path, self.write_sidecar(path)

    def write_sidecar(self, image_path: Path) -> Path:
        """Write only the manifest store next to an image already stored (e.g. by the artifact store)."""
        sidecar = sidecar_path(image_path)
        if sidecar == image_path:
            raise ValueError(f"{image_path} ends in .c2pa; give the image its own extension")
        _replace_file(sidecar, self.manifest_store)
        return sidecar


def _replace_file(target: Path, data: bytes) -> None:
    """Readers see the old file or the whole new one, never half of it."""
    tmp = target.with_name(f".{target.name}.part")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(target)


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


# ---------------------------------------------------------------------------- contexts


def _verify_settings(trust_anchors_pem: bytes | None) -> dict[str, Any]:
    # Offline by default: no remote manifests, no OCSP. Without anchors nothing is
    # trusted, and the SDK says so (signingCredential.untrusted) rather than failing.
    settings: dict[str, Any] = {
        "verify": {
            "verify_after_reading": True,
            "verify_trust": True,
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
    }
    if trust_anchors_pem:
        settings["trust"] = {"trust_anchors": trust_anchors_pem.decode("ascii", errors="replace")}
    return settings


def _read_context(trust_anchors_pem: bytes | None) -> c2pa.Context:
    return c2pa.Context.from_dict(_verify_settings(trust_anchors_pem))


def _algorithm_for(cert: x509.Certificate, where: Path | str) -> c2pa.C2paSigningAlg:
    key = cert.public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        by_curve = {
            "secp256r1": c2pa.C2paSigningAlg.ES256,
            "secp384r1": c2pa.C2paSigningAlg.ES384,
            "secp521r1": c2pa.C2paSigningAlg.ES512,
        }
        if key.curve.name in by_curve:
            return by_curve[key.curve.name]
        raise SigningConfigError(f"curve {key.curve.name} is not one C2PA signs with (use P-256)", str(where))
    if isinstance(key, rsa.RSAPublicKey):
        return c2pa.C2paSigningAlg.PS256
    if isinstance(key, ed25519.Ed25519PublicKey):
        return c2pa.C2paSigningAlg.ED25519
    raise SigningConfigError(f"key type {type(key).__name__} cannot sign C2PA claims", str(where))


def _public_der(key: Any) -> bytes:
    return bytes(key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo))


def _check_leaf(cert: x509.Certificate, where: Path | str, now: dt.datetime) -> None:
    """What the SDK would reject at the first image, said at start-up in words that say what to fix."""
    if cert.not_valid_after_utc <= now:
        raise SigningConfigError(
            f"signing certificate {_subject(cert)} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M} UTC; "
            "issue a new one (`brandgate keys init --force` for development)",
            str(where),
        )
    if cert.not_valid_before_utc > now:
        raise SigningConfigError(
            f"signing certificate {_subject(cert)} is not valid until "
            f"{cert.not_valid_before_utc:%Y-%m-%d %H:%M} UTC; check the clock or the certificate",
            str(where),
        )
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is not None and constraints.ca:
        raise SigningConfigError(
            "the first certificate is a CA; put the signing (leaf) certificate first, then intermediates",
            str(where),
        )
    try:
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        usage = None
    if usage is not None and not usage.digital_signature:
        raise SigningConfigError("signing certificate lacks key usage digitalSignature", str(where))


def _subject(cert: x509.Certificate) -> str:
    return cert.subject.rfc4514_string()


@functools.cache
def _probe_png() -> bytes:
    """A tiny real PNG to sign at start-up, so a broken signer fails before the first image."""
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


# ---------------------------------------------------------------------------- signing


class Signer:
    """Signs images with brandgate's manifest; built once per process, checked when built.

    Use `Signer.from_settings(settings)` (PEM files) or pass `sign_callback=` to have an
    HSM or cloud KMS produce signatures while the key never leaves it.
    """

    def __init__(
        self,
        *,
        chain_pem: bytes,
        key_pem: bytes | None = None,
        sign_callback: SignCallback | None = None,
        trust_anchors_pem: bytes | None = None,
        tsa_url: str | None = None,
        thumbnail: bool = False,
        version: str | None = None,
        chain_source: str = "signing certificate",
        key_source: str = "signing key",
    ) -> None:
        if (key_pem is None) == (sign_callback is None):
            raise SigningConfigError("give either a private key or a signing callback, not both or neither")
        if tsa_url is not None and not tsa_url.startswith(("http://", "https://")):
            raise SigningConfigError(f"time-stamp authority URL must be http(s) (got {tsa_url!r})", "BRANDGATE_TSA_URL")

        self.version = version or __version__
        self._tsa_url = tsa_url
        self._trust_anchors_pem = trust_anchors_pem
        certs = load_certificates(chain_pem, Path(chain_source))
        leaf = certs[0]
        now = dt.datetime.now(dt.UTC)
        _check_leaf(leaf, chain_source, now)
        self.algorithm = _algorithm_for(leaf, chain_source)
        self.subject = _subject(leaf)
        self.not_after = leaf.not_valid_after_utc
        if leaf.subject == leaf.issuer:
            raise SigningConfigError(
                "the signing certificate is self-signed; C2PA validators need one issued by a CA "
                "(`brandgate keys init` makes a development chain)",
                chain_source,
            )
        # The root is left out: verifiers must find it among their own anchors, not in the file.
        self._chain_pem = b"".join(
            c.public_bytes(serialization.Encoding.PEM) for c in certs if c is leaf or c.subject != c.issuer
        )

        if key_pem is not None:
            try:
                private_key = serialization.load_pem_private_key(key_pem, password=None)
            except (ValueError, TypeError) as exc:
                raise SigningConfigError(
                    f"cannot read the private key ({exc}); it must be an unencrypted PEM key",
                    key_source,
                ) from exc
            if _public_der(private_key.public_key()) != _public_der(leaf.public_key()):
                raise SigningConfigError(
                    f"the private key does not match the signing certificate {self.subject}; "
                    "set BRANDGATE_SIGNING_KEY to the key of that certificate",
                    key_source,
                )
            info = c2pa.C2paSignerInfo(self.algorithm, self._chain_pem, key_pem, tsa_url)
            self._native = c2pa.Signer.from_info(info)
        else:
            assert sign_callback is not None
            self._native = c2pa.Signer.from_callback(
                sign_callback, self.algorithm, self._chain_pem.decode("ascii"), tsa_url
            )
        self._context = c2pa.Context.from_dict(
            {
                **_verify_settings(trust_anchors_pem),
                "builder": {
                    "claim_generator_info": {"name": CLAIM_GENERATOR, "version": self.version},
                    "thumbnail": {"enabled": thumbnail},
                    # Our actions are explicit; the SDK's automatic ones would duplicate them.
                    "actions": {
                        "auto_created_action": {"enabled": False},
                        "auto_opened_action": {"enabled": False},
                        "auto_placed_action": {"enabled": False},
                    },
                },
            }
        )
        self._self_test(chain_source, key_source, callback=sign_callback is not None)

    @classmethod
    def from_settings(cls, settings: Settings, *, sign_callback: SignCallback | None = None) -> Signer:
        """Build from SIGNING_CERT / SIGNING_KEY / TRUST_ANCHORS (or the dev chain in keys_dir).

        With `sign_callback`, only the certificate chain is read; the callback signs.
        """
        paths = key_paths(settings)
        try:
            chain_pem = read_pem_file(paths.signing_chain, "signing certificate chain", "SIGNING_CERT")
            key_pem = (
                None if sign_callback is not None else read_pem_file(paths.signing_key, "signing key", "SIGNING_KEY")
            )
            anchors = _read_anchors(paths.trust_anchors, explicit=settings.trust_anchors is not None)
        except KeyFileError as exc:
            raise SigningConfigError(str(exc)) from exc
        return cls(
            chain_pem=chain_pem,
            key_pem=key_pem,
            sign_callback=sign_callback,
            trust_anchors_pem=anchors,
            tsa_url=settings.tsa_url,
            thumbnail=settings.signing_thumbnail,
            chain_source=str(paths.signing_chain),
            key_source="signing callback" if sign_callback is not None else str(paths.signing_key),
        )

    def _self_test(self, chain_source: str, key_source: str, *, callback: bool) -> None:
        """Sign a tiny image and read it back, so every SDK-side problem shows up now."""
        try:
            signed = self._sign_raw(
                _probe_png(),
                "image/png",
                {
                    "claim_generator_info": [{"name": CLAIM_GENERATOR, "version": self.version}],
                    "title": "brandgate signer self-test",
                    "assertions": [
                        {
                            "label": "c2pa.actions.v2",
                            "data": {
                                "actions": [
                                    {
                                        "action": "c2pa.created",
                                        "digitalSourceType": ALGORITHMIC_MEDIA,
                                    }
                                ]
                            },
                        }
                    ],
                },
                (),
            )
        except c2pa.C2paError as exc:
            text = str(exc)
            if "does not match" in text:
                what = "the signing callback's key" if callback else "the private key"
                raise SigningConfigError(
                    f"{what} does not match the signing certificate {self.subject} ({text})",
                    key_source,
                ) from exc
            if self._tsa_url and ("time" in text.lower() or "http" in text.lower()):
                raise SigningConfigError(
                    f"time-stamp authority {self._tsa_url} failed ({text}); unset BRANDGATE_TSA_URL to sign "
                    "without a time-stamp (none is reachable offline)",
                ) from exc
            raise SigningConfigError(f"the signer cannot sign with this chain: {text}", chain_source) from exc
        if self._trust_anchors_pem:
            state = _read_state(signed.image, self._context)
            if state != "Trusted":
                raise SigningConfigError(
                    f"signing certificate {self.subject} does not chain to the trust anchors; images would "
                    "verify as untrusted. Point BRANDGATE_TRUST_ANCHORS at the root that issued it",
                    chain_source,
                )

    def sign(
        self,
        image: bytes,
        media_type: str,
        record: GovernanceRecord,
        ingredients: Sequence[Ingredient] = (),
        *,
        title: str | None = None,
        signed_at: dt.datetime | None = None,
    ) -> SignedAsset:
        """Embed a manifest carrying `record` in `image`; returns the signed bytes and the manifest store.

        Without a parentOf ingredient the image is a new creation (`c2pa.created`,
        trainedAlgorithmicMedia, the model as software agent); each componentOf
        ingredient (logo, background) gets a `c2pa.placed` action. With a parentOf
        ingredient (the preview of an HQ export) the actions are `c2pa.opened` on it and
        `c2pa.edited` by the model.
        """
        if media_type not in SIGNABLE_MEDIA_TYPES:
            raise ValueError(f"media_type must be one of {SIGNABLE_MEDIA_TYPES} (got {media_type!r})")
        if not image:
            raise ValueError("image is empty")
        parents = [i for i in ingredients if i.relationship == "parentOf"]
        if len(parents) > 1:
            raise ValueError(f"an image has at most one parentOf ingredient (got {len(parents)})")
        signed_at = signed_at or dt.datetime.now(dt.UTC)
        manifest = self._manifest(record, ingredients, title or f"{record.image_id or record.request_id}", signed_at)
        try:
            return self._sign_raw(image, media_type, manifest, ingredients)
        except c2pa.C2paError as exc:
            raise SigningError(f"signing {media_type} image of request {record.request_id} failed: {exc}") from exc

    def _manifest(
        self,
        record: GovernanceRecord,
        ingredients: Sequence[Ingredient],
        title: str,
        signed_at: dt.datetime,
    ) -> dict[str, Any]:
        agent = {"name": record.model.name, "version": record.model.revision}
        actions: list[dict[str, Any]] = []
        parent = next((i for i, ing in enumerate(ingredients) if ing.relationship == "parentOf"), None)
        if parent is None:
            actions.append(
                {
                    "action": "c2pa.created",
                    "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                    "softwareAgent": agent,
                }
            )
        else:
            actions.append(
                {
                    "action": "c2pa.opened",
                    "parameters": {"ingredientIds": [_ingredient_label(parent)]},
                }
            )
            actions.append(
                {
                    "action": "c2pa.edited",
                    "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA,
                    "softwareAgent": agent,
                    "description": "high-quality export of the approved preview",
                }
            )
        for index, ingredient in enumerate(ingredients):
            if ingredient.relationship == "componentOf":
                actions.append(
                    {
                        "action": "c2pa.placed",
                        "parameters": {"ingredientIds": [_ingredient_label(index)]},
                        "description": f"{ingredient.role} placed by brand compositing",
                    }
                )
        governance = record.to_assertion()
        governance["signed_at"] = signed_at.astimezone(dt.UTC).isoformat()
        return {
            "claim_generator_info": [{"name": CLAIM_GENERATOR, "version": self.version}],
            "title": title,
            "assertions": [
                {"label": "c2pa.actions.v2", "data": {"actions": actions}},
                {"label": GOVERNANCE_LABEL, "data": governance},
            ],
        }

    def _sign_raw(
        self,
        image: bytes,
        media_type: str,
        manifest: dict[str, Any],
        ingredients: Sequence[Ingredient],
    ) -> SignedAsset:
        with c2pa.Builder(manifest, self._context) as builder:
            for index, ingredient in enumerate(ingredients):
                builder.add_ingredient(
                    {
                        "title": ingredient.title,
                        "relationship": ingredient.relationship,
                        "label": _ingredient_label(index),
                        "description": ingredient.role,
                    },
                    ingredient.media_type,
                    io.BytesIO(ingredient.data),
                )
            out = io.BytesIO()
            manifest_store = builder.sign(self._native, media_type, io.BytesIO(image), out)
        return SignedAsset(image=out.getvalue(), manifest_store=bytes(manifest_store), media_type=media_type)


def _ingredient_label(index: int) -> str:
    return f"brandgate-ingredient-{index}"


def _read_anchors(path: Path, *, explicit: bool) -> bytes | None:
    """The verifier's anchors; a default dev root that is absent means 'trust nothing', not an error."""
    if not explicit and not path.exists():
        log.warning("no trust anchors at %s; signatures will verify as valid but untrusted", path)
        return None
    pem = read_pem_file(path, "trust anchors", "TRUST_ANCHORS")
    load_certificates(pem, path)
    return pem


def _read_state(image: bytes, context: c2pa.Context) -> str | None:
    with c2pa.Reader("image/png", io.BytesIO(image), context=context) as reader:
        state = reader.get_validation_state()
    return None if state is None else str(state)


# ---------------------------------------------------------------------------- reading


def _has_c2pa_marker(data: bytes) -> bool:
    """True when a sidecar's first bytes hold a C2PA manifest store box, readable or not."""
    return b"jumb" in data and b"c2pa" in data


# XMP's `dcterms:provenance`, as an attribute or an element: where C2PA points to a remote manifest.
_XMP_PROVENANCE = re.compile(
    rb'dcterms:provenance\s*=\s*"([^"]{0,8192})"|<dcterms:provenance>\s*([^<]{0,8192}?)\s*</dcterms:provenance>'
)
_REMOTE_MANIFEST_MAX_CHARS = 2048


def remote_manifest_reference(data: bytes) -> str | None:
    """The remote-manifest reference in the asset's XMP, decoded as far as it decodes; None without one."""
    # The plain substring test first: bytes.find is many times faster than the pattern's
    # alternation over a whole image, and almost no file has the property at all.
    match = _XMP_PROVENANCE.search(data) if b"dcterms:provenance" in data else None
    if match is None:
        return None
    raw = match.group(1) if match.group(1) is not None else match.group(2)
    return raw.decode("utf-8", errors="replace")


def remote_manifest_problem(reference: str) -> str | None:
    """Why `reference` cannot name a remote manifest (C2PA asks for an http(s) URL); None when it can."""
    from urllib.parse import urlsplit

    if not reference.strip():
        return "it is empty"
    if len(reference) > _REMOTE_MANIFEST_MAX_CHARS:
        return f"it is {len(reference):,} characters long"
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F or ch == "\ufffd" for ch in reference):
        return "it holds spaces, control characters or bytes that are not UTF-8"
    try:
        parts = urlsplit(reference)
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError as exc:
        return f"it is not a URL ({exc})"
    if parts.scheme not in ("http", "https"):
        return "it is not an http(s) URL"
    if not parts.hostname:
        return "it names no host"
    return None


# How XMP points at a manifest store inside the file itself (C2PA 2.x, "self#jumbf=/c2pa/<label>").
_SELF_REFERENCE = "self#jumbf="


def _remote_credentials(reference: str) -> Credentials:
    """Credentials that live at `reference`: not fetched (verification is offline), or a malformed pointer.

    A `self#jumbf=` reference points inside the file; reached here, the file holds no manifest
    store, so its credentials were removed: no credentials (exit 5, with the lookup), not tampering."""
    shown = reference if len(reference) <= 200 else reference[:200] + "…"
    if reference.strip().startswith(_SELF_REFERENCE):
        return Credentials(
            state="no_credentials",
            removed_manifest=reference,
            problem=f"credentials removed from this file: its XMP still points at a manifest store inside it "
            f"({shown!r}), and the store is gone",
        )
    problem = remote_manifest_problem(reference)
    if problem is not None:
        return Credentials(
            state="invalid",
            remote_manifest=reference,
            problem=f"the remote manifest reference {shown!r} is malformed: {problem}",
        )
    return Credentials(
        state="no_credentials",
        remote_manifest=reference,
        problem=f"no credentials in the file: they are remote, at {shown}, and verification is offline (not fetched)",
    )


class Verifier:
    """Reads and validates content credentials against a set of trust anchors."""

    def __init__(self, trust_anchors_pem: bytes | None) -> None:
        self.trust_anchors_pem = trust_anchors_pem
        self._context = _read_context(trust_anchors_pem)

    @classmethod
    def from_settings(cls, settings: Settings) -> Verifier:
        paths = key_paths(settings)
        try:
            anchors = _read_anchors(paths.trust_anchors, explicit=settings.trust_anchors is not None)
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
        if manifest_store is not None and not _has_c2pa_marker(manifest_store[:4096]):
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
                return _remote_credentials(reference)
            return Credentials(state="no_credentials")
        except c2pa.C2paError as exc:
            text = str(exc)
            if manifest_store is None and (isinstance(exc, c2pa.C2paError.RemoteManifest) or text.startswith("Remote")):
                # Remote fetching is off (offline by design); the SDK names the URL it would have fetched.
                reference = remote_manifest_reference(data) or text.rsplit(" ", 1)[-1]
                return _remote_credentials(reference)
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
            if reference is not None and reference.strip().startswith(_SELF_REFERENCE):
                # A damaged file whose XMP still points at a store inside it that is gone: removed.
                return _remote_credentials(reference)
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

"""The signer: embeds a manifest carrying the governance record in an image, checked when it is built."""

from __future__ import annotations

import datetime as dt
import functools
import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, get_args

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from brandgate import __version__
from pipeline.keys import KeyFileError, key_paths, load_certificates, read_pem_file
from pipeline.provenance.governance import GOVERNANCE_LABEL, GovernanceRecord
from pipeline.provenance.sidecar import SignedAsset
from pipeline.provenance.trust import read_anchors, validation_state, verify_settings
from policies.errors import BrandgateError, InvalidInput

if TYPE_CHECKING:
    from brandgate.settings import Settings

CLAIM_GENERATOR = "brandgate"
ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"

MediaType = Literal["image/png", "image/jpeg", "image/webp"]
SIGNABLE_MEDIA_TYPES: tuple[str, ...] = get_args(MediaType)
Relationship = Literal["parentOf", "componentOf"]
SignCallback = Callable[[bytes], bytes]


class SigningConfigError(InvalidInput):
    """The signer cannot be set up: a certificate, key, trust anchor or TSA problem."""


class SigningError(BrandgateError, RuntimeError):
    """Signing one image failed although the signer is set up (bad image bytes, SDK failure)."""


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
                **verify_settings(trust_anchors_pem),
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
            anchors = read_anchors(paths.trust_anchors, explicit=settings.trust_anchors is not None)
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
            state = validation_state(signed.image, self._context)
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

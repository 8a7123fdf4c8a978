"""Signing keys: a local development certificate chain and where the signer's PEM files are."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from policies.errors import InvalidInput

if TYPE_CHECKING:
    from brandgate.settings import Settings

ROOT_CERT = "root-ca.pem"
ROOT_KEY = "root-ca.key"
INTERMEDIATE_CERT = "intermediate-ca.pem"
INTERMEDIATE_KEY = "intermediate-ca.key"
SIGNING_CHAIN = "signing-chain.pem"
SIGNING_KEY = "signing.key"

# The file names `keys init` writes, in the order it writes them.
DEV_CHAIN_FILES = (
    ROOT_CERT,
    ROOT_KEY,
    INTERMEDIATE_CERT,
    INTERMEDIATE_KEY,
    SIGNING_CHAIN,
    SIGNING_KEY,
)

# id-kp-documentSigning: C2PA lists it, but c2pa-rs 0.91 rejects a certificate that has
# only this EKU unless the verifier's trust_config names it, so the leaf also carries
# emailProtection, which every validator accepts.
DOCUMENT_SIGNING_OID = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


class KeyFileError(InvalidInput):
    """A key or certificate file is missing, unreadable or not what it must be."""


@dataclass(frozen=True)
class IssuedChain:
    """A root CA, an intermediate CA and a leaf signing certificate, all in PEM."""

    root_cert: bytes
    root_key: bytes
    intermediate_cert: bytes
    intermediate_key: bytes
    signing_cert: bytes
    signing_key: bytes

    @property
    def signing_chain(self) -> bytes:
        """Leaf first, then the intermediate: what a C2PA signer embeds (never the root)."""
        return self.signing_cert + self.intermediate_cert


@dataclass(frozen=True)
class KeyPaths:
    """Where the signer's chain, its private key and the verifier's trust anchors are."""

    signing_chain: Path
    signing_key: Path
    trust_anchors: Path


def key_paths(settings: Settings) -> KeyPaths:
    """SIGNING_CERT, SIGNING_KEY and TRUST_ANCHORS when set, else the dev chain in keys_dir."""
    keys_dir = Path(settings.keys_dir)
    return KeyPaths(
        signing_chain=Path(settings.signing_cert or keys_dir / SIGNING_CHAIN),
        signing_key=Path(settings.signing_key or keys_dir / SIGNING_KEY),
        trust_anchors=Path(settings.trust_anchors or keys_dir / ROOT_CERT),
    )


def _name(common_name: str, organization: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _certificate(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Name,
    issuer_key: ec.EllipticCurvePrivateKey,
    validity: tuple[dt.datetime, dt.datetime],
    *,
    ca: bool,
    path_length: int | None = None,
    extended_key_usages: Sequence[x509.ObjectIdentifier] = (),
) -> x509.Certificate:
    """A CA certificate (signs certificates) or a leaf (signs claims: digitalSignature only)."""
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
        .add_extension(x509.BasicConstraints(ca=ca, path_length=path_length if ca else None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if extended_key_usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(list(extended_key_usages)), critical=False)
    if issuer_key is not key:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    return builder.sign(issuer_key, hashes.SHA256())


def issue_chain(
    organization: str = "brandgate development",
    *,
    now: dt.datetime | None = None,
    signing_not_before: dt.datetime | None = None,
    signing_not_after: dt.datetime | None = None,
    extended_key_usages: Sequence[x509.ObjectIdentifier] = (ExtendedKeyUsageOID.EMAIL_PROTECTION,),
) -> IssuedChain:
    """Make a fresh root CA, intermediate CA and ES256 (P-256) signing certificate.

    The leaf carries what C2PA validators require of a claim signer: key usage
    digitalSignature (critical), the given extended key usages, not a CA, and key
    identifiers linking it to its issuer. The validity window of the leaf can be
    moved, so an operator (or a test) can make an expired or not-yet-valid one.
    """
    now = now or dt.datetime.now(dt.UTC)
    root_key = ec.generate_private_key(ec.SECP256R1())
    intermediate_key = ec.generate_private_key(ec.SECP256R1())
    signing_key = ec.generate_private_key(ec.SECP256R1())

    root_name = _name(f"{organization} root CA", organization)
    intermediate_name = _name(f"{organization} intermediate CA", organization)
    signing_name = _name(f"{organization} content signer", organization)

    root = _certificate(
        root_name, root_key, root_name, root_key, (now - dt.timedelta(days=1), now + dt.timedelta(days=3650)), ca=True
    )
    intermediate = _certificate(
        intermediate_name,
        intermediate_key,
        root_name,
        root_key,
        (now - dt.timedelta(days=1), now + dt.timedelta(days=1825)),
        ca=True,
        path_length=0,
    )
    leaf = _certificate(
        signing_name,
        signing_key,
        intermediate_name,
        intermediate_key,
        (signing_not_before or now - dt.timedelta(days=1), signing_not_after or now + dt.timedelta(days=730)),
        ca=False,
        extended_key_usages=extended_key_usages,
    )
    pem = serialization.Encoding.PEM
    return IssuedChain(
        root_cert=root.public_bytes(pem),
        root_key=_pem_key(root_key),
        intermediate_cert=intermediate.public_bytes(pem),
        intermediate_key=_pem_key(intermediate_key),
        signing_cert=leaf.public_bytes(pem),
        signing_key=_pem_key(signing_key),
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Create `path` with `mode` from the first byte on: a key is never world-readable, even briefly."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_dev_chain(directory: Path, chain: IssuedChain, *, force: bool = False) -> KeyPaths:
    """Write a chain to `directory` (0700); private keys 0600, certificates 0644.

    Refuses to replace an existing chain unless `force`: images signed with the old
    chain stop verifying as trusted once its root is gone.
    """
    if directory.exists() and not directory.is_dir():
        raise KeyFileError(f"{directory} exists and is not a folder; choose another --dir")
    present = [name for name in DEV_CHAIN_FILES if (directory / name).exists()]
    if present and not force:
        raise KeyFileError(
            f"{directory} already holds a signing chain ({', '.join(present)}); images signed "
            "with it would no longer verify as trusted if it were replaced. Pass --force to "
            "replace it, or --dir to write elsewhere"
        )
    if not directory.exists():
        # Only a folder made here is made private: an existing one (a shared mount, a home folder)
        # keeps its mode; the private keys inside are 0600 either way.
        directory.mkdir(parents=True, mode=0o700)
        os.chmod(directory, 0o700)
    files = {
        ROOT_CERT: (chain.root_cert, 0o644),
        ROOT_KEY: (chain.root_key, 0o600),
        INTERMEDIATE_CERT: (chain.intermediate_cert, 0o644),
        INTERMEDIATE_KEY: (chain.intermediate_key, 0o600),
        SIGNING_CHAIN: (chain.signing_chain, 0o644),
        SIGNING_KEY: (chain.signing_key, 0o600),
    }
    for name, (data, mode) in files.items():
        _write(directory / name, data, mode)
    return KeyPaths(
        signing_chain=directory / SIGNING_CHAIN,
        signing_key=directory / SIGNING_KEY,
        trust_anchors=directory / ROOT_CERT,
    )


def read_pem_file(path: Path, what: str, setting: str) -> bytes:
    """Read a PEM file a setting names, with an error that says which setting to fix."""
    if not path.exists():
        raise KeyFileError(
            f"{what} {path} does not exist; run `brandgate keys init` for a development "
            f"chain, or set BRANDGATE_{setting} to a PEM file"
        )
    if not path.is_file():
        raise KeyFileError(f"{what} {path} is not a file; set BRANDGATE_{setting} to a PEM file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"{what} {path} cannot be read ({exc.strerror})") from exc
    if b"-----BEGIN" not in data:
        raise KeyFileError(f"{what} {path} is not PEM (no -----BEGIN line); set BRANDGATE_{setting}")
    return data


def load_certificates(pem: bytes, where: Path) -> list[x509.Certificate]:
    try:
        certs = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise KeyFileError(f"{where} holds no readable PEM certificate ({exc})") from exc
    if not certs:
        raise KeyFileError(f"{where} holds no certificate")
    return certs

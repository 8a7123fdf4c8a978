"""The trail key: the Ed25519 key that signs the audit tree's heads, kept like the C2PA signing key.

BRANDGATE_TRAIL_KEY names the private key's PEM file (default: trail-key.pem in
BRANDGATE_KEYS_DIR, written by `brandgate keys init`); a verifier that must not hold it names
only the public half with BRANDGATE_TRAIL_PUBLIC_KEY. Neither key is ever logged or printed;
heads carry the key's id (SHA-256 of the raw public key) so a rotated key is named, not guessed.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from brandgate.errors import ConfigError
from brandgate.settings import Settings

TRAIL_KEY_FILE = "trail-key.pem"
TRAIL_PUBLIC_KEY_FILE = "trail-key.pub.pem"


@dataclass(frozen=True)
class TrailKey:
    """The public key heads are checked with, and the private key when this process may sign."""

    public: Ed25519PublicKey
    private: Ed25519PrivateKey | None = None

    def __repr__(self) -> str:  # never show key material, even in a traceback
        return f"TrailKey(key_id={self.key_id[:16]}…, can_sign={self.private is not None})"

    @property
    def key_id(self) -> str:
        raw = self.public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return hashlib.sha256(raw).hexdigest()

    def sign(self, message: bytes) -> bytes:
        if self.private is None:
            raise ConfigError("the trail key's private half is not configured (BRANDGATE_TRAIL_KEY); cannot sign")
        return self.private.sign(message)

    def verifies(self, signature: bytes, message: bytes) -> bool:
        try:
            self.public.verify(signature, message)
        except InvalidSignature:
            return False
        return True


def trail_key_path(settings: Settings) -> Path:
    return Path(settings.trail_key or Path(settings.keys_dir) / TRAIL_KEY_FILE)


def _read(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"trail key {path} does not exist; run `brandgate keys init` for a development key, "
                          f"or set BRANDGATE_{setting} to a PEM file") from None  # fmt: skip
    except OSError as exc:
        raise ConfigError(f"trail key {path} cannot be read ({exc.strerror}); fix BRANDGATE_{setting}") from None


def signing_trail_key(settings: Settings) -> TrailKey:
    """The key that signs heads; ConfigError naming the setting when it is missing or not Ed25519."""
    path = trail_key_path(settings)
    try:
        private = serialization.load_pem_private_key(_read(path, "TRAIL_KEY"), password=None)
    except (ValueError, TypeError):
        raise ConfigError(f"trail key {path} is not an unencrypted PEM private key; fix BRANDGATE_TRAIL_KEY") from None
    if not isinstance(private, Ed25519PrivateKey):
        raise ConfigError(f"trail key {path} is not an Ed25519 key; generate one with `brandgate keys init`")
    return TrailKey(public=private.public_key(), private=private)


def checking_trail_key(settings: Settings) -> TrailKey | None:
    """The key heads are checked against: the public key when named, else the signing key's; None when neither."""
    if settings.trail_public_key is not None:
        path = Path(settings.trail_public_key)
        try:
            public = serialization.load_pem_public_key(_read(path, "TRAIL_PUBLIC_KEY"))
        except (ValueError, TypeError):
            raise ConfigError(f"trail public key {path} is not a PEM public key; fix BRANDGATE_TRAIL_PUBLIC_KEY") \
                from None  # fmt: skip
        if not isinstance(public, Ed25519PublicKey):
            raise ConfigError(f"trail public key {path} is not an Ed25519 key")
        return TrailKey(public=public)
    if not trail_key_path(settings).exists():
        return None
    return signing_trail_key(settings)


def write_trail_key(directory: Path, *, force: bool = False) -> tuple[Path, Path]:
    """A new trail key in `directory` (private 0600, public 0644); refuses to replace one unless `force`."""
    private_path, public_path = directory / TRAIL_KEY_FILE, directory / TRAIL_PUBLIC_KEY_FILE
    if private_path.exists() and not force:
        raise ConfigError(f"{private_path} already holds a trail key; heads signed with it would no longer verify "
                          "if it were replaced. Pass --force to replace it")  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())  # fmt: skip
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo)  # fmt: skip
    private_path.unlink(missing_ok=True)
    fd = os.open(private_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_pem)
    public_path.write_bytes(public_pem)
    os.chmod(public_path, 0o644)
    return private_path, public_path


__all__ = ["TRAIL_KEY_FILE", "TrailKey", "checking_trail_key", "signing_trail_key", "trail_key_path",
           "write_trail_key"]  # fmt: skip

"""A signed image and its manifest store, and where that store is kept beside the image (the sidecar)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path


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

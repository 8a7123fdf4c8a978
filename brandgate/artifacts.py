"""The content-addressed artifact store: image bytes live here by sha256, never in the database."""

from __future__ import annotations

import errno
import hashlib
import os
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Literal

from brandgate.errors import BrandgateError, UserError
from brandgate.settings import Settings

HEX_DIGEST = re.compile(r"^[0-9a-f]{64}$")
SUFFIX = re.compile(r"^\.[a-z0-9]{1,12}$")
CHUNK = 1024 * 1024


class ArtifactStoreError(BrandgateError):
    """The store's folder cannot be written (permissions, full disk, read-only mount)."""


class ArtifactMissing(BrandgateError):
    """An artifact the database names is not in the store (or its bytes no longer match)."""


@dataclass(frozen=True)
class StoredArtifact:
    sha256: str
    path: Path
    size: int
    created: bool = field(default=False, compare=False)  # written by this put, not found already there


def _storage_error(folder: Path, exc: OSError) -> ArtifactStoreError:
    hints = {
        errno.ENOSPC: "the disk is full; free space or point BRANDGATE_ARTIFACTS_DIR elsewhere",
        errno.EDQUOT: "the disk quota is used up; free space or point BRANDGATE_ARTIFACTS_DIR elsewhere",
        errno.EFBIG: "the file is larger than this system allows",
        errno.EACCES: "no permission to write there; fix its owner or mode, or set BRANDGATE_ARTIFACTS_DIR",
        errno.EPERM: "no permission to write there; fix its owner or mode, or set BRANDGATE_ARTIFACTS_DIR",
        errno.EROFS: "it is on a read-only file system; set BRANDGATE_ARTIFACTS_DIR to a writable folder",
        errno.ENOTDIR: "a file stands where a folder should be; set BRANDGATE_ARTIFACTS_DIR to a folder",
        errno.EEXIST: "a file stands where a folder should be; set BRANDGATE_ARTIFACTS_DIR to a folder",
    }
    hint = hints.get(exc.errno or 0, "check the folder and the disk")
    return ArtifactStoreError(f"cannot write to the artifact store {folder}: {exc.strerror or exc}; {hint}")


@contextmanager
def atomic_file(target: Path, mode: Literal["w", "wb"] = "wb") -> Iterator[IO[Any]]:
    """Write `target` so that it holds either its old content or all of the new: temp, fsync, rename."""
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    try:
        handle: IO[Any] = os.fdopen(fd, "wb") if mode == "wb" else os.fdopen(fd, "w", encoding="utf-8", newline="")
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_folder(target.parent)


def _fsync_folder(folder: Path) -> None:
    # the rename is only durable once the folder's entry is on disk
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on folders; the data itself is already synced
    finally:
        os.close(fd)


class ArtifactStore:
    """Files named by their sha256 under `root/ab/cd/`, so no folder grows past 65 536 entries."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def from_settings(cls, settings: Settings) -> ArtifactStore:
        return cls(settings.artifacts_dir)

    def path_for(self, sha256: str, suffix: str) -> Path:
        """Where an artifact lives; the digest and suffix are validated, so no input can steer the path."""
        if not isinstance(sha256, str) or not HEX_DIGEST.match(sha256):
            raise UserError(f"{sha256!r} is not a sha256 digest (64 lower-case hex characters)")
        if not isinstance(suffix, str) or not SUFFIX.match(suffix):
            raise UserError(f"{suffix!r} is not a file suffix like '.png'")
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}{suffix}"

    def put(self, data: bytes, suffix: str) -> StoredArtifact:
        """Store `data`; putting the same bytes again is a no-op that returns the same path."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"artifact data must be bytes, not {type(data).__name__}")
        digest = hashlib.sha256(data).hexdigest()
        path = self.path_for(digest, suffix)
        if self._already_there(path, len(data)):
            return StoredArtifact(digest, path, len(data))
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_file(path, "wb") as handle:
                handle.write(data)
        except OSError as exc:
            raise _storage_error(self.root, exc) from None
        return StoredArtifact(digest, path, len(data), created=True)

    def discard(self, stored: StoredArtifact) -> None:
        """Take back what `put` just wrote and no row ever came to name (the recording failed, or
        another delivery recorded the image first), so no file is left without its row. A file that
        was already there belongs to someone else and stays."""
        if stored.created:
            stored.path.unlink(missing_ok=True)

    def put_file(self, source: Path, suffix: str) -> StoredArtifact:
        """Store a file's bytes without holding them all in memory."""
        self.path_for("0" * 64, suffix)  # refuse a bad suffix before copying anything
        try:
            reader = open(source, "rb")  # noqa: SIM115 (closed by the with below; opening is what may fail)
        except OSError as exc:
            raise UserError(f"cannot read {source}: {exc.strerror or exc}") from None
        with reader:
            try:
                self.root.mkdir(parents=True, exist_ok=True)
                fd, temp_name = tempfile.mkstemp(dir=self.root, prefix=".incoming.", suffix=".part")
            except OSError as exc:
                raise _storage_error(self.root, exc) from None
            try:
                hasher, size = hashlib.sha256(), 0
                with os.fdopen(fd, "wb") as temp:
                    while chunk := reader.read(CHUNK):
                        hasher.update(chunk)
                        temp.write(chunk)
                        size += len(chunk)
                    temp.flush()
                    os.fsync(temp.fileno())
                digest = hasher.hexdigest()
                path = self.path_for(digest, suffix)
                if self._already_there(path, size):
                    os.unlink(temp_name)
                else:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    os.replace(temp_name, path)
                    _fsync_folder(path.parent)
            except BaseException as exc:
                Path(temp_name).unlink(missing_ok=True)
                if isinstance(exc, OSError):
                    raise _storage_error(self.root, exc) from None
                raise
        return StoredArtifact(digest, path, size)

    def open(self, sha256: str, suffix: str) -> IO[bytes]:
        path = self.path_for(sha256, suffix)
        try:
            return path.open("rb")
        except FileNotFoundError:
            raise ArtifactMissing(f"artifact {sha256}{suffix} is not in the store {self.root}") from None

    def read(self, sha256: str, suffix: str, *, verify: bool = True) -> bytes:
        with self.open(sha256, suffix) as handle:
            data = handle.read()
        if verify and hashlib.sha256(data).hexdigest() != sha256:
            raise ArtifactMissing(f"artifact {sha256}{suffix} in {self.root} is corrupt: its bytes no longer match")
        return data

    def exists(self, sha256: str, suffix: str) -> bool:
        return self.path_for(sha256, suffix).is_file()

    @staticmethod
    def _already_there(path: Path, size: int) -> bool:
        # Same name means same sha256; a size mismatch means a damaged file, which is replaced.
        try:
            return path.stat().st_size == size
        except OSError:
            return False


__all__ = ["ArtifactMissing", "ArtifactStore", "ArtifactStoreError", "StoredArtifact", "atomic_file"]

"""The artifact store: content-addressed, atomic, idempotent, no path from user input, clear disk errors."""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from brandgate.artifacts import ArtifactMissing, ArtifactStore, ArtifactStoreError, atomic_file
from brandgate.errors import UserError

ROOT = Path(__file__).resolve().parents[2]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40


def test_put_names_the_file_by_its_sha256_fanned_out_by_prefix(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path / "artifacts")
    stored = store.put(PNG, ".png")
    digest = hashlib.sha256(PNG).hexdigest()
    assert stored.sha256 == digest and stored.size == len(PNG)
    assert stored.path == tmp_path / "artifacts" / digest[:2] / digest[2:4] / f"{digest}.png"
    assert stored.path.read_bytes() == PNG
    assert store.path_for(digest, ".png") == stored.path
    assert store.read(digest, ".png") == PNG and store.exists(digest, ".png")


def test_put_is_idempotent_and_leaves_no_temp_files(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    first = store.put(PNG, ".png")
    before = first.path.stat().st_mtime_ns
    again = store.put(PNG, ".png")
    assert again == first and first.path.stat().st_mtime_ns == before
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files == [first.path]


def test_a_damaged_copy_is_replaced_on_the_next_put(tmp_path: Path) -> None:
    store = ArtifactStore(tmp_path)
    stored = store.put(PNG, ".png")
    stored.path.write_bytes(PNG[:100])  # a truncated file from some earlier crash or copy
    with pytest.raises(ArtifactMissing, match="corrupt"):
        store.read(stored.sha256, ".png")
    assert store.put(PNG, ".png").path.read_bytes() == PNG


def test_put_file_streams_and_matches_put(tmp_path: Path) -> None:
    source = tmp_path / "in.bin"
    source.write_bytes(os.urandom(3 * 1024 * 1024 + 7))
    store = ArtifactStore(tmp_path / "store")
    stored = store.put_file(source, ".bin")
    assert stored.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert store.put(source.read_bytes(), ".bin") == stored
    assert not list((tmp_path / "store").glob(".incoming*"))
    with pytest.raises(UserError, match="cannot read"):
        store.put_file(tmp_path / "missing.png", ".png")


@pytest.mark.parametrize(
    "digest",
    [
        "../" * 21 + "a",
        "A" * 64,  # upper case: a second name for the same content
        "g" * 64,
        "a" * 63,
        "a" * 64 + "/",
        "a" * 32 + "/../" + "a" * 28,
        "",
    ],
)
def test_digests_that_are_not_hex_are_refused(tmp_path: Path, digest: str) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(UserError, match="is not a sha256 digest"):
        store.path_for(digest, ".png")
    with pytest.raises(UserError):
        store.read(digest, ".png")


@pytest.mark.parametrize("suffix", ["png", "./png", "/../x", ".PNG ", ".png/..", "." + "a" * 20, ""])
def test_suffixes_that_could_steer_a_path_are_refused(tmp_path: Path, suffix: str) -> None:
    store = ArtifactStore(tmp_path)
    with pytest.raises(UserError, match="is not a file suffix"):
        store.put(b"x", suffix)
    assert list(tmp_path.iterdir()) == []


def test_missing_artifact_is_named(tmp_path: Path) -> None:
    with pytest.raises(ArtifactMissing, match=f"artifact {'a' * 64}.png is not in the store {tmp_path}"):
        ArtifactStore(tmp_path).read("a" * 64, ".png")


def test_store_folder_blocked_by_a_file_gets_an_error_naming_the_folder(tmp_path: Path) -> None:
    blocked = tmp_path / "artifacts"
    blocked.write_text("not a folder")
    with pytest.raises(ArtifactStoreError, match=f"cannot write to the artifact store {blocked}"):
        ArtifactStore(blocked).put(PNG, ".png")
    assert blocked.read_text() == "not a folder"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores folder permissions")
def test_read_only_store_gets_an_error_naming_the_folder(tmp_path: Path) -> None:
    store_dir = tmp_path / "ro"
    store_dir.mkdir()
    store_dir.chmod(0o500)
    try:
        with pytest.raises(ArtifactStoreError, match="no permission"):
            ArtifactStore(store_dir).put(PNG, ".png")
    finally:
        store_dir.chmod(0o700)


def test_a_write_the_disk_refuses_gets_a_clear_error_and_leaves_nothing(tmp_path: Path) -> None:
    """A file-size limit makes the kernel refuse the write part-way, as a full disk does."""
    script = (
        "import resource, signal, sys\n"
        "from pathlib import Path\n"
        "from brandgate.artifacts import ArtifactStore, ArtifactStoreError\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "try:\n"
        "    ArtifactStore(Path(sys.argv[1])).put(b'x' * 100_000, '.png')\n"
        "except ArtifactStoreError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    assert signal.SIGXFSZ and resource.RLIMIT_FSIZE  # both exist on the Linux machines we run on
    store_dir = tmp_path / "store"
    done = subprocess.run(
        [sys.executable, "-c", script, str(store_dir)], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3, done.stderr
    assert f"cannot write to the artifact store {store_dir}: File too large" in done.stdout
    assert [p for p in store_dir.rglob("*") if p.is_file()] == []


def test_atomic_file_keeps_the_old_content_when_writing_fails(tmp_path: Path) -> None:
    target = tmp_path / "report.jsonl"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_file(target, "w") as handle:
        handle.write("half of the new")
        raise RuntimeError("export failed part-way")
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["report.jsonl"]

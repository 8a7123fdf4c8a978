"""`brandgate verify FILE|DIR...` over many files, run as users run it: the real entry point, in a new process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from brandgate.errors import EXIT_BAD_INPUT, EXIT_FLAG, EXIT_NO_CREDENTIALS, EXIT_OK, EXIT_REJECT, EXIT_VISUAL_MATCH
from brandgate.settings import Settings
from brandgate.verify_many import worst_exit_code
from pipeline.keys import issue_chain
from pipeline.provenance.governance import TrailAnchor
from pipeline.provenance.signer import Signer
from tests.pipeline.provenance_world import encode, record, scene, seed_audit_db, settings_with_chain, signer_for

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Done:
    code: int
    stdout: str
    stderr: str

    @property
    def lines(self) -> list[str]:
        return self.stdout.splitlines()


def brandgate(settings: Settings, *args: str) -> Done:
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "BRANDGATE_KEYS_DIR": str(settings.keys_dir),
               "BRANDGATE_DATABASE_URL": settings.database_url}  # fmt: skip
    for name in ("SIGNING_CERT", "SIGNING_KEY", "TRUST_ANCHORS", "MAX_IMAGE_BYTES"):
        environ.pop(f"BRANDGATE_{name}", None)
    done = subprocess.run([sys.executable, "-m", "brandgate", *args], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    return Done(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return settings_with_chain(tmp_path)


def sign(settings: Settings, path: Path, seed: int = 0, **changes: object) -> Path:
    Signer.from_settings(settings).sign(encode(scene(seed=seed), "image/png"), "image/png", record(**changes)).write(
        path
    )
    return path


@pytest.fixture
def mixed(settings: Settings, tmp_path: Path) -> Path:
    """A folder as compliance finds one: trusted, tampered, unsigned (but ours), and not an image."""
    folder = tmp_path / "found"
    (folder / "sub").mkdir(parents=True)
    sign(settings, folder / "trusted.png")
    tampered = sign(settings, folder / "sub" / "tampered.png", seed=1)
    data = bytearray(tampered.read_bytes())
    data[len(data) // 2] ^= 0x10
    tampered.write_bytes(bytes(data))
    ours = encode(scene(seed=2), "image/png")
    seed_audit_db(settings, {"img-ours": ours})
    (folder / "unsigned.jpg").write_bytes(encode(scene(seed=2).convert("RGB"), "image/jpeg", quality=90))
    (folder / "notes.txt").write_text("campaign notes, not an image\n")
    return folder


def test_a_mixed_folder_prints_one_line_per_file_in_order_and_exits_with_the_worst_code(
    settings: Settings, mixed: Path
) -> None:
    done = brandgate(settings, "verify", str(mixed))

    assert done.code == EXIT_REJECT, done.stderr
    # Sidecars (NAME.c2pa) are not files of their own; everything else is, sorted, sub-folders included.
    assert [line.split(": ", 1)[0] for line in done.lines] == [
        str(mixed / "notes.txt"),
        str(mixed / "sub" / "tampered.png"),
        str(mixed / "trusted.png"),
        str(mixed / "unsigned.jpg"),
    ]
    by_name = {line.split(": ", 1)[0]: line.split(": ", 1)[1] for line in done.lines}
    assert by_name[str(mixed / "notes.txt")].startswith("not verified: is not a readable asset")
    assert by_name[str(mixed / "sub" / "tampered.png")].startswith("invalid or tampered (assertion.dataHash.mismatch")
    assert by_name[str(mixed / "trusted.png")].startswith("trusted: signed by ")
    assert by_name[str(mixed / "unsigned.jpg")].startswith("no credentials; visually matches image img-ours")
    assert done.stderr.strip().splitlines()[-1] == (
        "verified 4 files: 1 invalid or tampered, 1 without credentials, 1 not verified, 1 trusted"
    )


def test_json_lines_parse_one_document_per_file_with_the_lookup_done_for_the_batch(
    settings: Settings, mixed: Path
) -> None:
    done = brandgate(settings, "verify", str(mixed), "--json", "--jobs", "2")

    assert done.code == EXIT_REJECT, done.stderr
    documents = [json.loads(line) for line in done.lines]
    assert [(Path(d["file"]).name, d["state"], d["exit_code"]) for d in documents] == [
        ("notes.txt", "not_verified", EXIT_BAD_INPUT),
        ("tampered.png", "invalid", EXIT_REJECT),
        ("trusted.png", "trusted", EXIT_OK),
        ("unsigned.jpg", "no_credentials", EXIT_VISUAL_MATCH),
    ]
    unsigned = documents[3]
    assert unsigned["lookup"]["status"] == "match"
    assert unsigned["lookup"]["match"]["image_id"] == "img-ours"
    # The tampered file is looked up too, as `verify FILE` does; its flipped byte broke the picture.
    assert documents[1]["lookup"]["detail"].startswith("lookup not possible: cannot decode the image")
    assert documents[2]["governance"]["request_id"] == "req-0001"
    assert documents[0]["problem"].startswith("is not a readable asset")


def test_one_job_and_several_give_the_same_report(settings: Settings, mixed: Path) -> None:
    one = brandgate(settings, "verify", str(mixed), "--json", "--jobs", "1")
    several = brandgate(settings, "verify", str(mixed), "--json", "--jobs", "3")

    assert one.code == several.code == EXIT_REJECT
    assert one.stdout == several.stdout


def test_a_file_name_cannot_forge_a_line(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "names"
    folder.mkdir()
    tampered = sign(settings, folder / "a.png")
    tampered.write_bytes(tampered.read_bytes()[:-2000])
    forged_name = "b.png: trusted: signed by Acme\nc.png"
    (folder / forged_name).write_bytes((folder / "a.png").read_bytes())
    ansi = folder / "d\x1b[32m.png"
    sign(settings, ansi)
    (folder / "d\x1b[32m.c2pa").unlink()

    done = brandgate(settings, "verify", str(folder))

    assert done.code == EXIT_REJECT
    assert len(done.lines) == 3
    assert done.lines[1].startswith(repr(str(folder / forged_name)) + ": invalid or tampered")
    assert "\x1b" not in done.stdout
    assert done.lines[2].startswith(repr(str(ansi)) + ": trusted: signed by ")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        (["trusted", "foreign", "unsigned", "not-an-image"], EXIT_FLAG),
        (["trusted", "unsigned", "not-an-image"], EXIT_NO_CREDENTIALS),
        (["trusted", "not-an-image"], EXIT_BAD_INPUT),
        (["trusted", "trusted"], EXIT_OK),
    ],
    ids=["untrusted-beats-none", "none-beats-unreadable", "unreadable-beats-trusted", "all-trusted"],
)
def test_the_worst_file_decides_the_exit_code_in_the_documented_order(
    settings: Settings, tmp_path: Path, files: list[str], expected: int
) -> None:
    paths = []
    for n, kind in enumerate(files):
        path = tmp_path / f"{n}-{kind}.png"
        if kind == "trusted":
            sign(settings, path, seed=n)
        elif kind == "foreign":
            foreign = signer_for(issue_chain("Mallory Media"))
            foreign.sign(encode(scene(), "image/png"), "image/png", record()).write(path)
        elif kind == "unsigned":
            path.write_bytes(encode(scene(seed=n), "image/png"))
        else:
            path.write_bytes(b"GIF89a not really")
        paths.append(str(path))

    done = brandgate(settings, "verify", *paths)

    assert done.code == expected, done.stdout + done.stderr
    assert len(done.lines) == len(files)


def test_worst_exit_code_order() -> None:
    assert worst_exit_code([EXIT_OK, EXIT_NO_CREDENTIALS, EXIT_REJECT, EXIT_FLAG, EXIT_BAD_INPUT]) == EXIT_REJECT
    assert worst_exit_code([EXIT_OK, EXIT_NO_CREDENTIALS, EXIT_BAD_INPUT]) == EXIT_NO_CREDENTIALS
    assert worst_exit_code([EXIT_OK, EXIT_BAD_INPUT]) == EXIT_BAD_INPUT
    assert worst_exit_code([EXIT_OK, EXIT_OK]) == EXIT_OK


def test_anchors_of_many_files_are_held_against_the_trail(settings: Settings, tmp_path: Path) -> None:
    seed_audit_db(settings, {})
    folder = tmp_path / "published"
    folder.mkdir()
    sign(settings, folder / "cut.png", trail=TrailAnchor(99, "d" * 64))
    sign(settings, folder / "plain.png", seed=1)

    done = brandgate(settings, "verify", str(folder), "--json")

    # An intact trail that never saw the credential's request is another trail, not this one cut:
    # a person must look (3), as `verify FILE` says of the same file (tests/hostile).
    assert done.code == EXIT_FLAG, done.stderr
    cut, plain = (json.loads(line) for line in done.lines)
    assert cut["trail_anchor"]["status"] == "other_trail"
    assert "recorded in a different audit trail" in cut["trail_anchor"]["detail"]
    assert plain["trail_anchor"] is None and plain["exit_code"] == EXIT_OK


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["{folder}", "{folder}/missing.png"], "missing.png does not exist"),
        (["{empty}"], "is a folder with no files to verify in it"),
        (["{folder}/a.png", "{folder}/b.png", "--manifest", "{folder}/a.c2pa"], "--manifest goes with one FILE"),
        (["{folder}", "--jobs", "0"], "Invalid value for '--jobs'"),
    ],
    ids=["missing-path", "empty-folder", "manifest-with-several", "zero-jobs"],
)
def test_bad_calls_are_refused_before_any_file_is_verified(
    settings: Settings, tmp_path: Path, args: list[str], expected: str
) -> None:
    folder = tmp_path / "files"
    folder.mkdir()
    sign(settings, folder / "a.png")
    sign(settings, folder / "b.png", seed=1)
    (tmp_path / "empty").mkdir()

    done = brandgate(settings, "verify", *(a.format(folder=folder, empty=tmp_path / "empty") for a in args))

    assert done.code == EXIT_BAD_INPUT
    assert done.stdout == ""
    assert expected in done.stderr

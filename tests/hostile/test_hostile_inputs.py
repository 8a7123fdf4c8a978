"""Round two of hostile input: flags, briefs, kits, settings and unreadable files, each refused in
one line with the contract's exit code, or handled without a traceback, a hang or a memory blow-up."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest
import yaml
from PIL import Image

from tests.hostile.cli import KITS, MEMORY_LIMIT_BYTES, ROOT, Ran, assert_refused, environment, run
from tests.hostile.test_hostile_files import huge_png_header

BRIEF = ROOT / "tests" / "fixtures" / "briefs" / "acme_apples.yaml"
# Files root cannot read either: the kernel answers EIO for one and EACCES for the other.
UNREADABLE = {"EIO": "/proc/self/mem", "EACCES": "/proc/sys/vm/compact_memory"}


def _nothing_recorded(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "brandgate.db") as db:
        assert db.execute("select count(*) from requests").fetchone() == (0,)
        assert db.execute("select count(*) from audit_events").fetchone() == (0,)


@pytest.mark.parametrize("timeout", ["-5", "nan", "inf", "0"])
def test_a_timeout_that_is_not_a_positive_number_is_refused_before_queueing(tmp_path: Path, timeout: str) -> None:
    env = environment(tmp_path)
    assert run("db", "upgrade", env=env).code == 0
    ran = run("generate", "--brief", str(BRIEF), "--timeout", timeout, env=env)
    assert_refused(ran, "--timeout", "positive number of seconds")
    _nothing_recorded(tmp_path)


@pytest.mark.parametrize("args", [("generate", "--nope"), ("stauts",), ("check",)], ids=["option", "command", "arg"])
def test_a_usage_error_is_one_line(tmp_path: Path, args: tuple[str, ...]) -> None:
    ran = run(*args, env=environment(tmp_path))
    assert_refused(ran, "--help")
    assert "Usage:" not in ran.stderr


@pytest.mark.parametrize("args", [(), ("kit",)], ids=["top", "group"])
def test_a_group_without_a_command_still_shows_its_help(tmp_path: Path, args: tuple[str, ...]) -> None:
    ran = run(*args, env=environment(tmp_path))
    assert "Usage: brandgate" in ran.stderr + ran.stdout and "error:" not in ran.stderr, ran.stderr


def test_counts_that_differ_only_in_case_are_refused(tmp_path: Path) -> None:
    brief = tmp_path / "brief.yaml"
    brief.write_text(yaml.safe_dump({"kit": "acme", "prompt": "apples", "size": [256, 256], "n": 1,
                                     "counts": {"apple": 3, "Apple": 5}}))
    assert_refused(run("brief", "validate", str(brief), env=environment(tmp_path)), "counts", "'apple' twice")


def test_keys_init_leaves_an_existing_folder_mode_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o755)
    ran = run("keys", "init", "--dir", str(shared), env=environment(tmp_path))
    assert ran.code == 0, ran.stderr
    assert stat.S_IMODE(shared.stat().st_mode) == 0o755
    assert stat.S_IMODE((shared / "signing.key").stat().st_mode) == 0o600
    made = tmp_path / "new" / "keys"
    assert run("keys", "init", "--dir", str(made), env=environment(tmp_path)).code == 0
    assert stat.S_IMODE(made.stat().st_mode) == 0o700


def test_a_raised_pixel_limit_names_the_limit_that_refused(tmp_path: Path) -> None:
    image = tmp_path / "huge.png"
    image.write_bytes(huge_png_header(60000))
    ran = run("check", str(image), "--kit", "acme",
              env=environment(tmp_path, BRANDGATE_MAX_IMAGE_PIXELS="100000000000"))
    line = assert_refused(ran, "3600000000 pixels", "BRANDGATE_MAX_IMAGE_PIXELS=100000000000 cannot raise")
    assert "limit of 100000000000" not in line


def test_audit_verify_on_an_empty_trail_prints_no_anchor_it_would_refuse(tmp_path: Path) -> None:
    env = environment(tmp_path)
    assert run("db", "upgrade", env=env).code == 0
    ran = run("audit", "verify", env=env)
    assert ran.code == 0, ran.stderr
    assert "--anchor 0:" not in ran.stdout and "the trail is empty" in ran.stdout, ran.stdout


@pytest.mark.parametrize(
    ("variable", "value", "mention"),
    [
        ("BRANDGATE_DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1/brandgate", "'psycopg2'"),
        ("BRANDGATE_BROKER_URL", "redis://127.0.0.1:99999/0", "not a TCP port"),
        ("BRANDGATE_BROKER_URL", "redis://127.0.0.1:6379/abc", "Redis database 'abc'"),
    ],
    ids=["driver-not-installed", "broker-port", "broker-database"],
)
@pytest.mark.parametrize("command", [("health",), ("generate", "--brief", str(BRIEF))], ids=["health", "generate"])
def test_a_url_that_cannot_work_is_one_line(
    tmp_path: Path, variable: str, value: str, mention: str, command: tuple[str, ...]
) -> None:
    env = environment(tmp_path, BRANDGATE_QUEUE="celery", **{variable: value})
    if command == ("health",) and variable == "BRANDGATE_DATABASE_URL":
        # health reports every check on its own line; the database's names what to fix
        _unhealthy(run(*command, env=env), "database", variable, mention)
    else:
        assert_refused(run(*command, env=env), variable, mention)


def _unhealthy(ran: Ran, check: str, *mentions: str) -> None:
    """`health` exits 1 with one `error: unhealthy:` line naming the failed checks, and the failed
    check's own line on stdout says what to fix; no traceback."""
    assert "Traceback" not in ran.stderr, ran.stderr[-3000:]
    assert ran.code == 1, (ran.code, ran.stderr[-2000:])
    [error] = [line for line in ran.stderr.splitlines() if line.startswith("error:")]
    assert error.startswith("error: unhealthy:") and check in error, error
    [line] = [line for line in ran.stdout.splitlines() if line.startswith(f"{check}: FAILED: ")]
    for mention in mentions:
        assert mention in line, line


def test_a_tls_broker_url_against_plain_redis_does_not_hang_health(tmp_path: Path) -> None:
    env = environment(tmp_path, BRANDGATE_QUEUE="celery", BRANDGATE_BROKER_URL="rediss://127.0.0.1:6379/0")
    assert run("db", "upgrade", env=env).code == 0
    # Before the fix this hung until the runner's kill (an exception, not an exit code).
    _unhealthy(run("health", env=env), "broker", "rediss://", "BRANDGATE_BROKER_URL")


@pytest.fixture
def kit(tmp_path: Path) -> Path:
    root = tmp_path / "kits" / "acme"
    shutil.copytree(KITS / "acme", root)
    return root


def test_a_font_pattern_is_refused(tmp_path: Path, kit: Path) -> None:
    spec = (kit / "kit.yaml").read_text().replace("file: DejaVuSans-Bold.ttf", "file: '*Bold*.ttf'")
    (kit / "kit.yaml").write_text(spec)
    assert_refused(run("kit", "validate", str(kit), env=environment(tmp_path)), "fonts.headline", "is a pattern")


def test_an_installed_font_is_part_of_the_kit_hash(tmp_path: Path, kit: Path) -> None:
    import json

    before = json.loads(run("kit", "validate", str(kit), "--json", env=environment(tmp_path)).stdout)
    spec = (kit / "kit.yaml").read_text().replace("file: DejaVuSans-Bold.ttf", "file: DejaVuSerif-Bold.ttf")
    (kit / "kit.yaml").write_text(spec)
    (kit / "kit.yaml").write_text(spec.replace("file: DejaVuSerif-Bold.ttf", "file: DejaVuSans-Bold.ttf"))
    same = json.loads(run("kit", "validate", str(kit), "--json", env=environment(tmp_path)).stdout)
    assert same["content_hash"] == before["content_hash"]
    fonts = kit / "fonts"
    fonts.mkdir()
    shutil.copy(Path("/usr/share/fonts/truetype/dejavu/DejaVuSerif-Bold.ttf"), fonts / "DejaVuSans-Bold.ttf")
    swapped = json.loads(run("kit", "validate", str(kit), "--json", env=environment(tmp_path)).stdout)
    assert swapped["content_hash"] != before["content_hash"]


def test_a_kit_holding_a_huge_design_file_is_hashed_streaming(tmp_path: Path, kit: Path) -> None:
    # Sparse: no disk spent. Read whole, as before, it alone would pass the memory limit.
    with (kit / "campaign-master.psd").open("wb") as big:
        big.truncate(MEMORY_LIMIT_BYTES + 512 * 1024**2)
    ran = run("kit", "validate", str(kit), env=environment(tmp_path))
    assert ran.code == 0, ran.stderr[-2000:]
    assert ran.peak_rss_bytes < MEMORY_LIMIT_BYTES, ran.peak_rss_bytes


@pytest.mark.parametrize("errno_name", sorted(UNREADABLE))
def test_an_unreadable_file_in_a_kit_is_one_line(tmp_path: Path, kit: Path, errno_name: str) -> None:
    (kit / "notes.txt").symlink_to(UNREADABLE[errno_name])
    line = assert_refused(run("kit", "validate", str(kit), env=environment(tmp_path)), "notes.txt", "cannot be read")
    assert os.strerror({"EIO": 5, "EACCES": 13}[errno_name]) in line


@pytest.mark.parametrize("errno_name", sorted(UNREADABLE))
def test_an_unreadable_image_given_to_check_is_one_line(tmp_path: Path, errno_name: str) -> None:
    image = tmp_path / "campaign.png"
    image.symlink_to(UNREADABLE[errno_name])
    # EACCES is caught by the argument check already ("is not readable"), EIO only when read.
    assert_refused(run("check", str(image), "--kit", "acme", env=environment(tmp_path)), "campaign.png", "read")


def test_an_unreadable_file_under_anchors_is_named_not_a_traceback(tmp_path: Path) -> None:
    env = environment(tmp_path)
    assert run("db", "upgrade", env=env).code == 0
    published = tmp_path / "published"
    published.mkdir()
    Image.new("RGB", (64, 64)).save(published / "plain.png")
    for errno_name, target in UNREADABLE.items():
        (published / f"{errno_name}.png").symlink_to(target)
    ran = run("audit", "verify", "--anchors", str(published), env=env)
    assert "Traceback" not in ran.stderr and ran.code == 0, ran.stderr[-2000:]
    assert ran.stderr.count("cannot be read") == 2, ran.stderr


@pytest.mark.parametrize("size", [(16, 40000), (40000, 16)], ids=["tall", "wide"])
def test_a_long_strip_is_checked_without_a_crash_and_called_blank(tmp_path: Path, kit: Path,
                                                                    size: tuple[int, int]) -> None:
    import json

    # The two detector checks (BG402, BG502) already took strips; left out here only for time.
    with (kit / "policy.yaml").open("a") as policy:
        policy.write("BG402: {enabled: false}\nBG502: {enabled: false}\n")
    image = tmp_path / "strip.png"
    Image.new("RGB", size, (200, 30, 30)).save(image)
    ran = run("check", str(image), "--kit", str(kit), "--json", env=environment(tmp_path))
    assert "Traceback" not in ran.stderr, ran.stderr[-3000:]
    (result,) = json.loads(ran.stdout)["results"]
    statuses = {c["id"]: c for c in result["checks"]}
    assert not [c for c in result["checks"] if c["status"] == "error"], result["checks"]
    assert statuses["BG601"]["status"] == "fail" and "single-colour" in statuses["BG601"]["message"]
    assert statuses["BG103"]["status"] == "unverified" and "strip too narrow" in statuses["BG103"]["message"]
    assert ran.code == 4


def test_many_large_images_are_held_one_at_a_time(tmp_path: Path, kit: Path) -> None:
    # Thirty images each within the pixel limit, together past the memory limit (30 × 12 Mpx × 3
    # bytes ≈ 1 GiB), shown with small files: flat colour compresses to almost nothing. Only the
    # cheap checks run, the point being memory, not the checks.
    (kit / "policy.yaml").write_text("".join(
        f"{i}: {{enabled: false}}\n" for i in ("BG101", "BG102", "BG103", "BG104", "BG201", "BG202", "BG301",
                                               "BG302", "BG401", "BG402", "BG501", "BG502", "BG603")))
    images = []
    for n in range(30):
        path = tmp_path / f"large-{n:02d}.png"
        Image.new("RGB", (4000, 3000), (n * 8, 120, 200 - n * 5)).save(path, compress_level=1)
        images.append(str(path))
    ran = run("check", *images, "--kit", str(kit), env=environment(tmp_path))
    assert "Traceback" not in ran.stderr and "MemoryError" not in ran.stderr, ran.stderr[-2000:]
    assert ran.stdout.count("BG601 blank-image            fail") == 30, ran.stdout[-2000:]
    assert ran.peak_rss_bytes < MEMORY_LIMIT_BYTES, f"peak RSS {ran.peak_rss_bytes / 2**20:.0f} MiB"


def test_an_icon_wrapping_a_large_png_is_refused_before_decoding(tmp_path: Path) -> None:
    import io
    import struct

    frame = io.BytesIO()
    Image.new("RGB", (6000, 6000), (10, 200, 30)).save(frame, "PNG", compress_level=9)
    png = frame.getvalue()
    # An ICO directory that says 256x256 (width and height 0) over a 6000x6000 PNG frame.
    icon = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 0, 0, 0, 0, 1, 32, len(png), 22) + png
    path = tmp_path / "favicon.ico"
    path.write_bytes(icon)
    ran = run("check", str(path), "--kit", "acme", env=environment(tmp_path))
    assert_refused(ran, "favicon.ico", "icon file")
    assert "Warning" not in ran.stderr, ran.stderr

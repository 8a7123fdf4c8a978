"""`brandgate verify` and `brandgate keys init` as users run them: exit codes, JSON, the audit lookup."""

from __future__ import annotations

import io
import json
import os
import stat
import struct
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from PIL import Image

from brandgate.cli.main import main
from brandgate.settings import Settings, get_settings
from pipeline.keys import ROOT_CERT, SIGNING_CHAIN, SIGNING_KEY, issue_chain, write_dev_chain
from pipeline.provenance.signer import Signer, SigningConfigError
from tests.pipeline.provenance_world import (
    encode,
    foreign_tool_png,
    png_chunks,
    png_from_chunks,
    record,
    remote_manifest_asset,
    scene,
    seed_audit_db,
    settings_with_chain,
    signer_for,
    stripped_of_its_manifest_store,
    transplant_credentials,
    with_provenance_reference,
)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """A dev chain in tmp_path/keys, an audit DB path, and BRANDGATE_* pointing at them for the CLI."""
    settings = settings_with_chain(tmp_path)
    monkeypatch.setenv("BRANDGATE_KEYS_DIR", str(settings.keys_dir))
    monkeypatch.setenv("BRANDGATE_DATABASE_URL", settings.database_url)
    for name in ("SIGNING_CERT", "SIGNING_KEY", "TRUST_ANCHORS", "MAX_IMAGE_BYTES"):
        monkeypatch.delenv(f"BRANDGATE_{name}", raising=False)
    get_settings.cache_clear()
    yield settings
    get_settings.cache_clear()


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture
def run(env: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Outcome]:
    """Run `brandgate ARGS` in-process through main(), where user errors become exit codes."""

    def invoke(*args: str) -> Outcome:
        get_settings.cache_clear()
        capsys.readouterr()
        monkeypatch.setattr(sys, "argv", ["brandgate", *args])
        try:
            main()
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        captured = capsys.readouterr()
        return Outcome(code, captured.out, captured.err)

    return invoke


def signed_file(settings: Settings, path: Path, media_type: str = "image/png") -> Path:
    signer = Signer.from_settings(settings)
    signer.sign(encode(scene(), media_type), media_type, record()).write(path)
    return path


def test_signed_file_is_trusted_with_exit_0_and_full_json(
    run: Callable[..., Outcome], env: Settings, tmp_path: Path
) -> None:
    path = signed_file(env, tmp_path / "img.png")

    result = run("verify", str(path), "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["state"] == "trusted"
    assert report["validation_state"] == "Trusted"
    assert report["signer"]["subject"].endswith("CN=brandgate development content signer")
    assert report["signing_time_source"] == "claimed by signer"
    assert report["actions"][0]["action"] == "c2pa.created"
    assert report["governance"]["checks"] == record().to_assertion()["checks"]
    assert report["governance"]["request_id"] == "req-0001"
    assert "assertion.dataHash.match" in report["validation_codes"]["success"]
    assert report["lookup"] is None


def test_sidecar_given_with_manifest_option(run: Callable[..., Outcome], env: Settings, tmp_path: Path) -> None:
    path = signed_file(env, tmp_path / "img.jpg", "image/jpeg")

    result = run("verify", str(path), "--manifest", str(tmp_path / "img.c2pa"), "--json")

    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["manifest_source"] == "sidecar"


def test_other_trust_anchors_give_exit_3(
    run: Callable[..., Outcome], env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = signed_file(env, tmp_path / "img.png")
    elsewhere = tmp_path / "other-root.pem"
    elsewhere.write_bytes(issue_chain("another company").root_cert)
    monkeypatch.setenv("BRANDGATE_TRUST_ANCHORS", str(elsewhere))

    result = run("verify", str(path))

    assert result.exit_code == 3, result.output
    assert "valid, but the signer is not trusted" in result.output
    assert "signingCredential.untrusted" in result.output


def test_file_signed_by_a_foreign_ca_gives_exit_3(run: Callable[..., Outcome], env: Settings, tmp_path: Path) -> None:
    path = tmp_path / "foreign.webp"
    signer_for(issue_chain("Mallory Media")).sign(encode(scene(), "image/webp"), "image/webp", record()).write(path)

    result = run("verify", str(path), "--json")

    assert result.exit_code == 3
    assert "Mallory Media" in json.loads(result.stdout)["signer"]["subject"]


def test_flipped_byte_gives_exit_4(run: Callable[..., Outcome], env: Settings, tmp_path: Path) -> None:
    path = signed_file(env, tmp_path / "img.jpg", "image/jpeg")
    data = bytearray(path.read_bytes())
    data[-300] ^= 0x10
    path.write_bytes(bytes(data))

    result = run("verify", str(path), "--json")

    assert result.exit_code == 4
    codes = [f["code"] for f in json.loads(result.stdout)["validation_codes"]["failure"]]
    assert "assertion.dataHash.mismatch" in codes


def test_pixels_edited_under_copied_credentials_give_exit_4_and_name_the_original(
    run: Callable[..., Outcome], env: Settings, tmp_path: Path
) -> None:
    path = signed_file(env, tmp_path / "img.png")
    seed_audit_db(env, {"img-0001": path.read_bytes()})
    edited = Image.open(path).convert("RGB")
    edited.paste((255, 255, 255), (20, 20, 28, 26))  # a small patch painted over
    forged = tmp_path / "forged.png"
    forged.write_bytes(transplant_credentials(path.read_bytes(), encode(edited, "image/png")))

    result = run("verify", str(forged))

    assert result.exit_code == 4
    assert "invalid or tampered (assertion.dataHash.mismatch" in result.stdout
    assert "visually matches image img-0001 of request req-0001" in result.stdout


def test_truncated_file_gives_exit_4(run: Callable[..., Outcome], env: Settings, tmp_path: Path) -> None:
    path = signed_file(env, tmp_path / "img.png")
    path.write_bytes(path.read_bytes()[:-5000])

    result = run("verify", str(path))

    assert result.exit_code == 4
    assert "credentials present but unreadable" in result.output


def test_damaged_manifest_store_gives_exit_4(run: Callable[..., Outcome], env: Settings, tmp_path: Path) -> None:
    path = signed_file(env, tmp_path / "img.png")
    chunks = []
    for kind, body in png_chunks(path.read_bytes()):
        if kind == b"caBX":  # zero 64 bytes in the middle of the manifest store (the chunk's CRC recomputed)
            middle = len(body) // 2
            body = body[:middle] + bytes(64) + body[middle + 64 :]
        chunks.append((kind, body))
    path.write_bytes(png_from_chunks(chunks))

    result = run("verify", str(path))

    assert result.exit_code == 4, result.output
    assert "invalid or tampered" in result.stdout


MENTIONS_C2PA = "C2PA manifest store (JUMBF `jumb`/`jumd` boxes, label c2pa), XMP `self#jumbf=/c2pa/urn:x`\n"


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("CHANGELOG.md", "# Changelog\n\n- verify reads the " + MENTIONS_C2PA * 3),
        ("test_c2pa.py", f"JUMBF = b'jumb'  # c2pa self#jumbf\n{MENTIONS_C2PA!r}\n" * 3),
    ],
    ids=["markdown", "python"],
)
def test_text_that_mentions_c2pa_is_not_verified_not_tampered(
    run: Callable[..., Outcome], tmp_path: Path, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text)

    result = run("verify", str(path))

    assert result.exit_code == 2, result.output
    assert "not a readable asset of a type C2PA covers" in result.output
    assert "tampered" not in result.output and "credentials present" not in result.output


def png_mentioning_c2pa() -> bytes:
    """An unsigned PNG whose tEXt comment names C2PA and a self#jumbf reference: no manifest store."""
    chunks = png_chunks(encode(scene(seed=7), "image/png"))
    comment = (b"tEXt", b"Comment\x00c2pa self#jumbf=/c2pa/urn:x (jumb jumd boxes)")
    return png_from_chunks([chunks[0], comment, *chunks[1:]])


def test_png_whose_text_chunk_mentions_c2pa_has_no_credentials(run: Callable[..., Outcome], tmp_path: Path) -> None:
    path = tmp_path / "mentions.png"
    path.write_bytes(png_mentioning_c2pa())

    result = run("verify", str(path), "--json")

    assert result.exit_code == 5, result.output
    assert json.loads(result.stdout)["state"] == "no_credentials"


def test_truncated_png_whose_text_chunk_mentions_c2pa_is_unreadable_not_tampered(
    run: Callable[..., Outcome], tmp_path: Path
) -> None:
    data = png_mentioning_c2pa()
    path = tmp_path / "mentions.png"
    path.write_bytes(data[: len(data) // 2])  # the SDK cannot parse it; nothing in it is a manifest store

    result = run("verify", str(path))

    assert result.exit_code == 2, result.output
    assert "is not a readable image/png" in result.output and "tampered" not in result.output


def test_truncated_jpeg_whose_comment_mentions_c2pa_is_not_tampered(
    run: Callable[..., Outcome], tmp_path: Path
) -> None:
    jpeg = encode(scene(seed=8), "image/jpeg")
    comment = b"c2pa manifest: self#jumbf=/c2pa/urn:x (jumb jumd)"
    data = jpeg[:2] + b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + jpeg[2:]
    path = tmp_path / "mentions.jpg"
    path.write_bytes(data[: len(data) // 3])

    result = run("verify", str(path))

    assert result.exit_code in (2, 5), result.output
    assert "tampered" not in result.output and "credentials present" not in result.output


def test_re_encoded_file_has_no_credentials_and_is_found_in_the_audit_db(
    run: Callable[..., Outcome], env: Settings, tmp_path: Path
) -> None:
    path = signed_file(env, tmp_path / "img.png")
    decoy = encode(scene(seed=5), "image/png")
    seed_audit_db(env, {"img-decoy": decoy, "img-0001": path.read_bytes()})
    screenshot = tmp_path / "from-slack.jpg"
    screenshot.write_bytes(encode(Image.open(path).convert("RGB").resize((200, 200)), "image/jpeg", quality=70))

    result = run("verify", str(screenshot), "--json")

    assert result.exit_code == 6  # a copy of one of ours, stripped: not the same as no credentials at all
    report = json.loads(result.stdout)
    assert report["state"] == "no_credentials" and report["exit_code"] == 6
    match = report["lookup"]["match"]
    assert (match["image_id"], match["request_id"]) == ("img-0001", "req-0001")
    assert match["distance"] <= env.visual_match_max_distance
    assert (match["verdict"], match["decision"]) == ("flag", None)
    assert report["summary"] == (
        f"no credentials; visually matches image img-0001 of request req-0001 (distance {match['distance']}):"
        " verdict flag, not decided by a brand manager"
    )


def test_pixel_edit_that_drops_credentials_reports_the_lookup_in_words(
    run: Callable[..., Outcome], env: Settings, tmp_path: Path
) -> None:
    path = signed_file(env, tmp_path / "img.png")
    seed_audit_db(env, {"img-0001": path.read_bytes()})
    edited = Image.open(path).convert("RGB")
    edited.putpixel((3, 3), (255, 0, 255))
    edited.save(tmp_path / "edited.png")

    result = run("verify", str(tmp_path / "edited.png"))

    assert result.exit_code == 6
    assert "no credentials; visually matches image img-0001 of request req-0001 (distance 0)" in result.output


def test_lookup_without_tables_says_it_was_not_possible(
    run: Callable[..., Outcome], env: Settings, tmp_path: Path
) -> None:
    Path(env.database_url.removeprefix("sqlite:///")).touch()  # a database file with no tables yet
    plain = tmp_path / "plain.png"
    plain.write_bytes(encode(scene(), "image/png"))

    result = run("verify", str(plain), "--json")

    assert result.exit_code == 5
    assert json.loads(result.stdout)["lookup"]["detail"] == (
        "lookup not possible: the audit database has no images table yet (run `brandgate db upgrade`)"
    )


def test_lookup_with_unreachable_database_says_it_was_not_possible(
    run: Callable[..., Outcome], env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BRANDGATE_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2")
    plain = tmp_path / "plain.png"
    plain.write_bytes(encode(scene(), "image/png"))

    result = run("verify", str(plain), "--json")

    assert result.exit_code == 5
    assert json.loads(result.stdout)["lookup"]["detail"].startswith("lookup not possible: the audit database cannot")


@pytest.mark.parametrize(("media_type", "suffix"), [("image/jpeg", "jpg"), ("image/png", "png")])
def test_remote_manifest_says_where_the_credentials_are_exits_5_and_looks_the_image_up(
    run: Callable[..., Outcome], env: Settings, tmp_path: Path, media_type: str, suffix: str
) -> None:
    url = "https://credentials.example.com/manifests/cloud.c2pa"
    picture = scene(seed=3)
    seed_audit_db(env, {"img-cloud": encode(picture, "image/png")})
    path = tmp_path / f"cloud.{suffix}"
    asset, store = remote_manifest_asset(issue_chain("Cloud Publisher"), picture, media_type, url)
    path.write_bytes(asset)
    (tmp_path / "fetched.c2pa").write_bytes(store)

    text = run("verify", str(path))
    result = run("verify", str(path), "--json")
    fetched = run("verify", str(path), "--manifest", str(tmp_path / "fetched.c2pa"))

    assert text.exit_code == result.exit_code == 6, text.output  # remote credentials, but a match of ours
    assert text.stdout.splitlines()[0].startswith(
        f"{path}: no credentials in the file: they are remote, at {url}, and verification is offline (not fetched)"
    )
    report = json.loads(result.stdout)
    assert (report["state"], report["remote_manifest"]) == ("no_credentials", url)
    assert report["lookup"]["match"]["image_id"] == "img-cloud"
    assert "visually matches image img-cloud of request req-0001" in report["summary"]
    # The manifest fetched by hand checks out: valid, from a signer our anchors don't know.
    assert fetched.exit_code == 3, fetched.output


@pytest.mark.parametrize(("media_type", "suffix"), [("image/jpeg", "jpg"), ("image/png", "png")])
def test_credentials_cut_out_with_the_xmp_kept_are_removed_not_tampered_and_looked_up(
    run: Callable[..., Outcome], env: Settings, tmp_path: Path, media_type: str, suffix: str
) -> None:
    signed = signed_file(env, tmp_path / f"signed.{suffix}", media_type)
    seed_audit_db(env, {"img-decoy": encode(scene(seed=5), "image/png"), "img-0001": signed.read_bytes()})
    path = tmp_path / f"stripped.{suffix}"
    path.write_bytes(stripped_of_its_manifest_store(signed.read_bytes(), media_type))
    assert b"self#jumbf=/c2pa/" in path.read_bytes() and b"jumd" not in path.read_bytes()  # no JUMBF box left

    text = run("verify", str(path))
    result = run("verify", str(path), "--json")

    # removed, not tampered; found in the trail by its looks: exit 6 (a stripped copy of ours)
    assert text.exit_code == result.exit_code == 6, text.output
    assert text.stdout.startswith(f"{path}: credentials removed from this file"), text.output
    assert "malformed" not in text.output and "tampered" not in text.output
    report = json.loads(result.stdout)
    assert report["state"] == "no_credentials" and report["remote_manifest"] is None
    assert report["removed_manifest"].startswith("self#jumbf=/c2pa/urn:")
    assert report["lookup"]["match"]["image_id"] == "img-0001"
    assert "visually matches image img-0001 of request req-0001" in report["summary"]


@pytest.mark.parametrize(
    ("reference", "why"),
    [
        ("not a url", "holds spaces"),
        ("javascript:alert(1)", "is not an http(s) URL"),
        ("https://", "names no host"),
        ("https://credentials.example.com:port/x", "is not a URL"),
        ("", "is empty"),
    ],
    ids=["words", "javascript", "no-host", "bad-port", "empty"],
)
@pytest.mark.parametrize("media_type", ["image/png", "image/jpeg"])
def test_malformed_remote_manifest_reference_exits_4_and_looks_the_image_up(
    run: Callable[..., Outcome], env: Settings, tmp_path: Path, media_type: str, reference: str, why: str
) -> None:
    picture = scene(seed=4)
    seed_audit_db(env, {"img-pointer": encode(picture, "image/png")})
    path = tmp_path / "pointer.img"
    path.write_bytes(with_provenance_reference(picture, media_type, reference))

    result = run("verify", str(path), "--json")

    assert result.exit_code == 4, result.output
    report = json.loads(result.stdout)
    assert report["state"] == "invalid" and report["remote_manifest"] == reference
    assert "remote manifest reference" in report["problem"] and why in report["problem"]
    assert report["lookup"]["match"]["image_id"] == "img-pointer"


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda p: p.write_bytes(b""), "is empty (0 bytes)"),
        (lambda p: p.write_text("this is not a picture\n" * 20), "is not a readable"),
        (lambda p: p.mkdir(), "is a folder"),
    ],
    ids=["zero-byte", "text-named-png", "directory"],
)
def test_bad_input_gives_exit_2(
    run: Callable[..., Outcome], tmp_path: Path, make: Callable[[Path], object], expected: str
) -> None:
    target = tmp_path / "suspect.png"
    make(target)

    result = run("verify", str(target))

    assert result.exit_code == 2
    assert expected in result.stderr


def test_file_over_the_size_limit_is_refused_from_its_size(
    run: Callable[..., Outcome], env: Settings, tmp_path: Path
) -> None:
    huge = tmp_path / "huge.png"
    with huge.open("wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.truncate(200 * 1024 * 1024)  # sparse: 200 MB on paper, a few bytes on disk
    assert huge.stat().st_blocks * 512 < 1024 * 1024

    result = run("verify", str(huge))

    assert result.exit_code == 2
    assert "is 209,715,200 bytes, over the 52,428,800-byte limit" in result.stderr


def test_garbage_sidecar_is_bad_input(run: Callable[..., Outcome], env: Settings, tmp_path: Path) -> None:
    path = signed_file(env, tmp_path / "img.png")
    junk = tmp_path / "junk.c2pa"
    junk.write_bytes(b"not a manifest store" * 10)

    result = run("verify", str(path), "--manifest", str(junk))

    assert result.exit_code == 2
    assert "is not a C2PA manifest store" in result.stderr


def test_other_tools_assertions_are_listed_and_do_not_fail_verification(
    run: Callable[..., Outcome], env: Settings, tmp_path: Path
) -> None:
    chain = issue_chain("Other Tool Inc")
    path = tmp_path / "other-tool.png"
    path.write_bytes(foreign_tool_png(chain, scene()))

    result = run("verify", str(path))

    assert result.exit_code == 3, result.output  # their CA is not among our anchors
    assert "unknown assertions (not checked by brandgate): org.example.review" in result.stdout
    assert "governance assertion unreadable" in result.stdout


@pytest.mark.postgres
def test_lookup_finds_the_image_in_a_postgresql_audit_db(
    run: Callable[..., Outcome], env: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, pg_migrated_url: str
) -> None:
    monkeypatch.setenv("BRANDGATE_DATABASE_URL", pg_migrated_url)
    path = signed_file(env, tmp_path / "img.png")
    seed_audit_db(env.model_copy(update={"database_url": pg_migrated_url}), {"img-0001": path.read_bytes()})
    stripped = tmp_path / "stripped.webp"
    stripped.write_bytes(encode(Image.open(path).convert("RGB"), "image/webp", quality=60))

    result = run("verify", str(stripped), "--json")

    assert result.exit_code == 6
    assert json.loads(result.stdout)["lookup"]["match"]["image_id"] == "img-0001"


def test_exit_code_reaches_the_shell_through_the_real_entry_point(env: Settings, tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.png"
    signer_for(issue_chain("Mallory Media")).sign(encode(scene(), "image/png"), "image/png", record()).write(foreign)
    environ = {**os.environ, "BRANDGATE_KEYS_DIR": str(env.keys_dir), "BRANDGATE_DATABASE_URL": env.database_url}

    done = subprocess.run(
        [sys.executable, "-m", "brandgate", "verify", str(foreign)],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
    )

    assert done.returncode == 3, done.stderr
    assert "valid, but the signer is not trusted" in done.stdout


def test_keys_init_writes_a_chain_validators_accept(
    run: Callable[..., Outcome], tmp_path: Path, env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "fresh-keys"

    result = run("keys", "init", "--dir", str(target))

    assert result.exit_code == 0, result.output
    assert "PRIVATE KEY" not in result.output
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    for key_file in ("root-ca.key", "intermediate-ca.key", SIGNING_KEY):
        assert stat.S_IMODE((target / key_file).stat().st_mode) == 0o600
    leaf = x509.load_pem_x509_certificates((target / SIGNING_CHAIN).read_bytes())[0]
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in eku
    # The chain really signs: with our root as anchor, a signed image verifies as trusted.
    settings = Settings(keys_dir=target, database_url=env.database_url)
    signed_file(settings, tmp_path / "check.png")
    assert run("verify", str(tmp_path / "check.png")).exit_code == 3  # env's anchors are another root
    monkeypatch.setenv("BRANDGATE_TRUST_ANCHORS", str(target / ROOT_CERT))
    assert run("verify", str(tmp_path / "check.png")).exit_code == 0


def test_keys_init_refuses_to_replace_a_chain_without_force(run: Callable[..., Outcome], env: Settings) -> None:
    before = (Path(env.keys_dir) / ROOT_CERT).read_bytes()

    refused = run("keys", "init")
    replaced = run("keys", "init", "--force")

    assert refused.exit_code == 2 and "--force" in refused.stderr
    assert replaced.exit_code == 0
    assert (Path(env.keys_dir) / ROOT_CERT).read_bytes() != before


def test_signer_from_settings_names_the_missing_file_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(SigningConfigError, match="run `brandgate keys init`"):
        Signer.from_settings(Settings(keys_dir=tmp_path / "nothing-here"))


def test_signer_from_settings_catches_a_key_of_another_certificate(tmp_path: Path) -> None:
    settings = settings_with_chain(tmp_path)
    stray = tmp_path / "stray.key"
    write_dev_chain(tmp_path / "other", issue_chain())
    stray.write_bytes((tmp_path / "other" / SIGNING_KEY).read_bytes())

    with pytest.raises(SigningConfigError, match=r"stray\.key: the private key does not match"):
        Signer.from_settings(settings.model_copy(update={"signing_key": stray}))


def test_signed_bytes_decode_to_the_same_pixels(env: Settings) -> None:
    picture = scene()
    signed = Signer.from_settings(env).sign(encode(picture, "image/png"), "image/png", record())
    assert Image.open(io.BytesIO(signed.image)).tobytes() == picture.tobytes()


def test_a_stripped_copy_of_an_approved_image_exits_6_and_says_who_approved_it(
    run: Callable[..., Outcome], env: Settings, tmp_path: Path
) -> None:
    from brandgate.db.approvals import decide
    from brandgate.db.engine import make_engine, make_sessionmaker

    path = signed_file(env, tmp_path / "img.png")
    seed_audit_db(env, {"img-0001": path.read_bytes()})
    engine = make_engine(env)
    decide(make_sessionmaker(engine), "img-0001", "approved", "slack:T1:UANNA", decided_by_name="Anna Lind")
    engine.dispose()
    stripped = tmp_path / "stripped.png"
    Image.open(path).convert("RGB").save(stripped)
    unknown = tmp_path / "unknown.png"
    unknown.write_bytes(encode(scene(seed=11), "image/png"))

    matched = run("verify", str(stripped))
    document = json.loads(run("verify", str(stripped), "--json").stdout)
    no_match = run("verify", str(unknown))

    assert matched.exit_code == 6 and no_match.exit_code == 5
    assert "verdict flag, approved by slack:T1:UANNA at " in matched.stdout.splitlines()[0]
    match = document["lookup"]["match"]
    assert (match["verdict"], match["decision"], match["decided_by"]) == ("flag", "approved", "slack:T1:UANNA")
    assert "no image in the audit database is within distance" in no_match.stdout

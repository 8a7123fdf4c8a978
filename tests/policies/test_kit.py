"""Bad kits get a clear error naming the file and field, exit 2 from `brandgate kit validate`, and change nothing."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from brandgate.errors import UserError
from brandgate.kits import resolve_kit
from brandgate.settings import Settings
from policies.checks import known_ids
from policies.errors import InvalidInput
from policies.kit import kit_content_hash, load_kit

ROOT = Path(__file__).resolve().parents[2]
ACME = ROOT / "brand_kits" / "acme"


@pytest.fixture
def kits(tmp_path: Path) -> Path:
    """A kits folder holding a copy of acme, free to break."""
    folder = tmp_path / "kits"
    shutil.copytree(ACME, folder / "acme")
    return folder


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_shipped_kits_load(settings: Settings) -> None:
    for name in ("acme", "nordwind"):
        kit = resolve_kit(name, settings)
        assert kit.name == name and len(kit.content_hash) == 64


def test_missing_kit_folder_is_named(kits: Path, settings: Settings) -> None:
    with pytest.raises(InvalidInput, match="no such kit folder"):
        load_kit(kits / "absent", known_check_ids=known_ids())
    with pytest.raises(UserError, match=r"no kit named 'absent' in .*available: acme"):
        resolve_kit("absent", settings.model_copy(update={"kits_dir": kits}))


@pytest.mark.parametrize("name", ["../acme", "..", "acme/../../etc", "ACME", "acme kit", "-acme"])
def test_kit_names_that_are_not_names_never_reach_outside_the_kits_folder(
    kits: Path, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # run from a folder with no kits around it, so a path-shaped name resolves to nothing
    empty = tmp_path / "elsewhere" / "deeper"
    empty.mkdir(parents=True)
    monkeypatch.chdir(empty)
    with pytest.raises(UserError):
        resolve_kit(name, settings.model_copy(update={"kits_dir": kits}))


def test_brief_refuses_a_kit_name_with_dot_dot() -> None:
    from policies.brief import brief_from_mapping

    with pytest.raises(InvalidInput, match="kit"):
        brief_from_mapping({"kit": "../acme", "prompt": "apples"})


def test_missing_logo_file_names_the_variant_and_the_file(kits: Path) -> None:
    (kits / "acme" / "logos" / "acme-mono.png").unlink()
    with pytest.raises(InvalidInput, match=r"kit\.yaml: logos\.mono\.file: 'logos/acme-mono\.png' does not exist"):
        load_kit(kits / "acme", known_check_ids=known_ids())


def test_logo_path_outside_the_kit_is_refused(kits: Path) -> None:
    _edit(kits / "acme" / "kit.yaml", "file: logos/acme-mono.png", "file: ../../../etc/passwd")
    with pytest.raises(
        InvalidInput, match=r"logos\.mono\.file: '\.\./\.\./\.\./etc/passwd' points outside the kit folder"
    ):
        load_kit(kits / "acme", known_check_ids=known_ids())


def test_malformed_yaml_names_file_and_line(kits: Path) -> None:
    _edit(kits / "acme" / "kit.yaml", "palette:\n", "palette: [unclosed\n")
    with pytest.raises(InvalidInput, match=r"kit\.yaml: not valid YAML: .* at line \d+"):
        load_kit(kits / "acme", known_check_ids=known_ids())


def test_malformed_policy_yaml_names_the_policy_file(kits: Path) -> None:
    (kits / "acme" / "policy.yaml").write_text("BG101: {severity: flag\n", encoding="utf-8")
    with pytest.raises(InvalidInput, match=r"policy\.yaml: not valid YAML"):
        load_kit(kits / "acme", known_check_ids=known_ids())


def test_unknown_policy_check_id_is_named(kits: Path) -> None:
    _edit(kits / "acme" / "policy.yaml", "BG601: {severity: reject}", "BG999: {severity: reject}")
    with pytest.raises(InvalidInput, match=r"policy\.yaml: unknown check ID 'BG999'; known: BG101"):
        load_kit(kits / "acme", known_check_ids=known_ids())


@pytest.mark.parametrize("colour", ['"red"', '"#D6282"', '"#GG2828"', '"D62828"', '"#D62828FF"', "12"])
def test_palette_colour_that_is_not_hex_names_the_colour(kits: Path, colour: str) -> None:
    _edit(kits / "acme" / "kit.yaml", '"#F77F00"', colour)
    expected = (
        r"kit\.yaml: palette\.acme-orange: Input should be a valid string"
        if colour == "12"
        else r"kit\.yaml: palette: .*colour 'acme-orange' is .*write it as hex like '#D62828'"
    )
    with pytest.raises(InvalidInput, match=expected):
        load_kit(kits / "acme", known_check_ids=known_ids())


def test_a_failed_validation_changes_nothing_in_the_kit(kits: Path) -> None:
    _edit(kits / "acme" / "policy.yaml", "BG601: {severity: reject}", "BG999: {}")
    before = kit_content_hash(kits / "acme")
    with pytest.raises(InvalidInput):
        load_kit(kits / "acme", known_check_ids=known_ids())
    assert kit_content_hash(kits / "acme") == before


@pytest.mark.parametrize(
    ("breakage", "message"),
    [
        (lambda kit: shutil.rmtree(kit), "no kit named 'acme'"),
        (lambda kit: (kit / "logos" / "acme-primary.png").unlink(), "logos.primary.file"),
        (lambda kit: (kit / "kit.yaml").write_text("name: acme\npalette: {a: '#12'}\n"), "write it as hex"),
        (lambda kit: (kit / "kit.yaml").write_text("name: [acme\n"), "not valid YAML"),
        (lambda kit: (kit / "policy.yaml").write_text("BG000: {}\n"), "unknown check ID 'BG000'"),
    ],
)
def test_kit_validate_cli_exits_2_with_one_line(
    kits: Path, settings: Settings, run_cli: Any, breakage: Any, message: str
) -> None:
    breakage(kits / "acme")
    code, out, err = run_cli(settings.model_copy(update={"kits_dir": kits}), "kit", "validate", "acme")
    assert code == 2, (out, err)
    assert message in err and out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_kit_validate_from_the_shell(tmp_path: Path) -> None:
    ok = subprocess.run(
        [sys.executable, "-m", "brandgate", "kit", "validate", str(ACME), "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert '"valid": true' in ok.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "brandgate", "kit", "validate", "../no-such-kit"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert bad.returncode == 2 and "Traceback" not in bad.stderr

"""Alias bombs, deep nesting and duplicate keys in every file brandgate reads: exit 2, one line, nothing made."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.hostile.cli import KITS, assert_refused, environment, run
from tests.hostile.documents import (
    alias_bomb,
    deep_json,
    deep_yaml,
    duplicate_keys_json,
    duplicate_keys_yaml,
    huge_value_yaml,
    nested_alias_bomb,
)

BRIEF_COMMANDS = {
    "brief validate": lambda f: ("brief", "validate", str(f)),
    "check --brief": lambda f: ("check", str(KITS / "acme" / "logos" / "acme-primary.png"), "--kit", "acme",
                                "--brief", str(f)),
    "render --brief": lambda f: ("render", "--brief", str(f)),
    "generate --brief": lambda f: ("generate", "--brief", str(f)),
}


def _nothing_made(tmp_path: Path) -> None:
    assert not (tmp_path / "artifacts").exists() or not any((tmp_path / "artifacts").rglob("*.png"))
    assert not (tmp_path / "brandgate.db").exists() or (tmp_path / "brandgate.db").stat().st_size == 0


@pytest.mark.parametrize("command", sorted(BRIEF_COMMANDS))
@pytest.mark.parametrize(
    ("name", "text", "mention"),
    [
        ("bomb.yaml", alias_bomb(), "aliases expand"),
        ("nested-bomb.yaml", nested_alias_bomb(), "aliases expand"),
        ("deep.yaml", deep_yaml(), "nested deeper than"),
        ("deep.json", deep_json(), "nested deeper than"),
        ("twice.yaml", duplicate_keys_yaml(), "'n' is given twice"),
        ("twice.json", duplicate_keys_json(), "'n' is given twice"),
    ],
)
def test_hostile_brief_is_refused_by_every_command(
    tmp_path: Path, command: str, name: str, text: str, mention: str
) -> None:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    ran = run(*BRIEF_COMMANDS[command](path), env=environment(tmp_path))
    assert_refused(ran, name, mention)
    _nothing_made(tmp_path)


def test_a_huge_value_is_measured_not_repeated(tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    path.write_text(huge_value_yaml(100_000), encoding="utf-8")
    line = assert_refused(run("brief", "validate", str(path), env=environment(tmp_path)), "100000 characters")
    assert "x" * 300 not in line and "y" * 300 not in line


@pytest.fixture
def kits(tmp_path: Path) -> Path:
    root = tmp_path / "kits"
    shutil.copytree(KITS / "acme", root / "acme")
    return root


@pytest.mark.parametrize("file", ["kit.yaml", "policy.yaml"])
@pytest.mark.parametrize(
    ("text", "mention"),
    [
        (alias_bomb("banned_words", extra=""), "aliases expand"),
        (deep_yaml(3000, "banned_words").replace("kit: acme\n", ""), "nested deeper than"),
        ("BG101: {severity: flag}\nBG101: {severity: reject}\nname: a\nname: b\n", "given twice"),
    ],
)
def test_hostile_kit_files_are_refused(tmp_path: Path, kits: Path, file: str, text: str, mention: str) -> None:
    (kits / "acme" / file).write_text(text, encoding="utf-8")
    ran = run("kit", "validate", "acme", env=environment(tmp_path, BRANDGATE_KITS_DIR=str(kits)))
    assert_refused(ran, file, mention)


def test_a_kit_yaml_that_is_a_folder_is_one_line(tmp_path: Path, kits: Path) -> None:
    (kits / "acme" / "kit.yaml").unlink()
    (kits / "acme" / "kit.yaml").mkdir()
    ran = run("kit", "validate", str(kits / "acme"), env=environment(tmp_path))
    assert_refused(ran, "kit.yaml", "is a folder")


@pytest.mark.parametrize(
    ("text", "mention"),
    [
        (alias_bomb("description", extra="name: bomb\n"), "aliases expand"),
        (deep_yaml(3000, "description").replace("kit: acme\n", ""), "nested deeper than"),
        ("name: a\nname: b\n", "given twice"),
    ],
)
def test_hostile_profiles_are_refused(tmp_path: Path, text: str, mention: str) -> None:
    profile = tmp_path / "bad-profile.yaml"
    profile.write_text(text, encoding="utf-8")
    brief = tmp_path / "brief.yaml"
    brief.write_text("kit: acme\nprompt: apples\nsize: [128, 128]\nn: 1\n", encoding="utf-8")
    ran = run("render", "--brief", str(brief), "--profile", str(profile), env=environment(tmp_path))
    assert_refused(ran, "bad-profile.yaml", mention)
    _nothing_made(tmp_path)


@pytest.mark.parametrize(
    ("text", "mention"),
    [
        (alias_bomb("briefs", extra="suite: bomb\n"), "aliases expand"),
        ("suite: deep\nbriefs: " + "[" * 3000 + "]" * 3000 + "\n", "nested deeper than"),
        ("suite: a\nsuite: b\nbriefs: []\n", "given twice"),
    ],
)
def test_hostile_suites_are_refused_before_the_database(tmp_path: Path, text: str, mention: str) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(text, encoding="utf-8")
    ran = run("regress", "run", "--suite", str(suite), env=environment(tmp_path))
    assert_refused(ran, "suite.yaml", mention)
    _nothing_made(tmp_path)

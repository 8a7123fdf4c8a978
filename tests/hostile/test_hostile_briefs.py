"""Briefs and kits with invisible text, unknown layouts or text that cannot fit: refused at intake, one line."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml

from brandgate.kits import resolve_kit
from brandgate.regress.suite import load_suite
from brandgate.settings import Settings
from pipeline.compose import plan_layout
from tests.hostile.cli import KITS, ROOT, assert_refused, environment, run

BASE = {"kit": "acme", "prompt": "five red apples on a wooden table", "size": [256, 256], "n": 1}


def write(tmp_path: Path, name: str = "brief.yaml", **fields: object) -> Path:
    path = tmp_path / name
    data = {**BASE, **fields}
    path.write_text(json.dumps(data) if name.endswith(".json") else yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("fields", "mention"),
    [
        ({"headline": "Fresh\x00Deals\x1b[31m"}, "U+0000"),
        ({"headline": "\u200b\u200b\u200b"}, "U+200B (ZERO WIDTH SPACE)"),
        ({"headline": "\u3164 \u3164"}, "only invisible characters"),
        ({"disclaimer": "Offer ends \u202eyadnuS"}, "U+202E (RIGHT-TO-LEFT OVERRIDE)"),
        ({"prompt": "apples\x07"}, "U+0007"),
        ({"counts": {"ap\x00ple": 2}}, "U+0000"),
        ({"layout": "nope"}, "no layout 'nope'"),
        ({"logo": "holiday"}, "no logo variant 'holiday'"),
        ({"headline": "Fresh \u4e00 Deals"}, "DejaVuSans-Bold.ttf has no glyph for U+4E00"),
        ({"kit": "nordwind", "headline": "Into the Wild", "size": [64, 64]}, "does not fit the disclaimer box"),
    ],
    ids=["controls", "zero-width-only", "blank-letters", "bidi", "prompt-bell", "count-name", "unknown-layout",
         "unknown-logo", "missing-glyph", "cannot-fit"],
)
@pytest.mark.parametrize("suffix", [".yaml", ".json"])
def test_brief_validate_refuses_what_generate_would(
    tmp_path: Path, fields: dict[str, object], mention: str, suffix: str
) -> None:
    path = write(tmp_path, f"brief{suffix}", **fields)
    assert_refused(run("brief", "validate", str(path), env=environment(tmp_path)), mention)


@pytest.mark.parametrize(
    ("fields", "mention"),
    [
        ({"headline": "Fresh\x00Deals"}, "U+0000"),
        ({"layout": "nope"}, "no layout 'nope'"),
        ({"kit": "nordwind", "headline": "Into the Wild", "size": [64, 64]}, "does not fit the disclaimer box"),
    ],
    ids=["controls", "unknown-layout", "cannot-fit"],
)
def test_generate_refuses_at_intake_and_records_nothing(
    tmp_path: Path, fields: dict[str, object], mention: str
) -> None:
    env = environment(tmp_path)
    assert run("db", "upgrade", env=env).code == 0
    out = tmp_path / "out"
    ran = run("generate", "--brief", str(write(tmp_path, **fields)), "--out", str(out), env=env)
    assert_refused(ran, mention)
    with sqlite3.connect(tmp_path / "brandgate.db") as db:
        assert db.execute("select count(*) from requests").fetchone() == (0,)
        assert db.execute("select count(*) from audit_events").fetchone() == (0,)
    assert not out.exists()


def test_check_with_a_brief_uses_the_same_validator(tmp_path: Path) -> None:
    image = KITS / "acme" / "logos" / "acme-primary.png"
    ran = run("check", str(image), "--kit", "acme", "--brief", str(write(tmp_path, layout="nope")),
              env=environment(tmp_path))
    assert_refused(ran, "no layout 'nope'")


@pytest.mark.parametrize("side", [256, 2048])
@pytest.mark.parametrize("kit", ["acme", "nordwind"])
def test_brief_validate_accepts_every_kit_from_256_to_2048(tmp_path: Path, kit: str, side: int) -> None:
    path = write(tmp_path, kit=kit, headline="Fresh Deals Friday", disclaimer="Offer ends Sunday.", logo="primary",
                 size=[side, side])
    ran = run("brief", "validate", str(path), env=environment(tmp_path))
    assert ran.code == 0, ran.stderr


@pytest.mark.parametrize(
    ("field", "value", "mention"),
    [
        ("required_disclaimers", ["Prices in EUR\x00"], "U+0000"),
        ("banned_words", ["\u200b"], "U+200B"),
        ("display_name", "Nord\u202ewind", "U+202E"),
    ],
)
def test_kit_text_with_invisible_characters_is_refused(tmp_path: Path, field: str, value: object, mention: str) -> None:
    kits = tmp_path / "kits"
    shutil.copytree(KITS / "nordwind", kits / "nordwind")
    spec = yaml.safe_load((kits / "nordwind" / "kit.yaml").read_text())
    spec[field] = value
    (kits / "nordwind" / "kit.yaml").write_text(yaml.safe_dump(spec), encoding="utf-8")
    ran = run("kit", "validate", "nordwind", env=environment(tmp_path, BRANDGATE_KITS_DIR=str(kits)))
    assert_refused(ran, "kit.yaml", field, mention)


def test_the_core_suite_composes_or_is_refused_at_load() -> None:
    """Every brief the suite loader accepts can be composed at its size; the rest are load problems."""
    settings = Settings(kits_dir=KITS)
    suite = load_suite(ROOT / "suites" / "core.yaml", settings)
    kits = {name: resolve_kit(name, settings)
            for name in {b.brief.kit for b in suite.briefs}}
    for entry in suite.briefs:
        if entry.brief.wants_composition:
            plan_layout(entry.brief, kits[entry.brief.kit], entry.brief.size)
    assert all("does not fit" in p.message or "cannot hold logo" in p.message for p in suite.problems)
    nordwind = [b for b in suite.briefs if b.brief.kit == "nordwind" and b.brief.wants_composition]
    # The nordwind briefs with brand text: at two seeds and a watchdog render, the ~50 jobs that
    # used to fail at compositing after the model had run.
    assert len(nordwind) >= 20

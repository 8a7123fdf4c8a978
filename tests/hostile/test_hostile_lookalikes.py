"""Banned words hidden behind look-alike letters or invisible characters: refused at intake, and
judged as they render when they are placed anyway; a refused brief records nothing."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.hostile.cli import KITS, environment, run

CYRILLIC_E = "\u0435"
ZWJ = "\u200d"

HIDDEN = [
    ({"headline": f"Ch{CYRILLIC_E}apest apples"}, "'cheapest' in the headline"),
    ({"headline": f"Mira{ZWJ}cle apples"}, "'miracle' in the headline"),
    ({"disclaimer": "Fr\u0435e m\u043eney inside."}, "'free money' in the disclaimer"),
    ({"prompt": "the \uff43\uff48\uff45\uff41\uff50\uff45\uff53\uff54 red apples"}, "'cheapest' in the prompt"),
    ({"headline": "Cheapest apples"}, "'cheapest' in the headline"),
]
IDS = ["cyrillic-e", "zero-width-joiner", "cyrillic-phrase", "fullwidth", "plain"]


def _brief(tmp_path: Path, **fields: object) -> Path:
    path = tmp_path / "brief.yaml"
    data = {"kit": "acme", "prompt": "red apples on a wooden table", "size": [256, 256], "n": 1, **fields}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize(("fields", "mention"), HIDDEN, ids=IDS)
def test_brief_validate_reads_the_word_a_reader_sees(tmp_path: Path, fields: dict[str, str], mention: str) -> None:
    ran = run("brief", "validate", str(_brief(tmp_path, **fields)), env=environment(tmp_path))
    _refused_by_policy(ran, "BG501", mention)


@pytest.mark.parametrize(("fields", "mention"), HIDDEN, ids=IDS)
def test_generate_refuses_at_intake_and_records_nothing(
    tmp_path: Path, fields: dict[str, str], mention: str
) -> None:
    env = environment(tmp_path)
    assert run("db", "upgrade", env=env).code == 0
    ran = run("generate", "--brief", str(_brief(tmp_path, **fields)), env=env)
    _refused_by_policy(ran, "BG501", mention)
    with sqlite3.connect(tmp_path / "brandgate.db") as db:
        assert db.execute("select count(*) from requests").fetchone() == (0,)
        assert db.execute("select count(*) from audit_events").fetchone() == (0,)


def _refused_by_policy(ran: Any, *mentions: str) -> None:
    """A policy refusal is its own outcome: exit 2 and one `refused:` line naming what refused it."""
    assert "Traceback" not in ran.stderr, ran.stderr[-3000:]
    assert ran.code == 2, (ran.code, ran.stderr[-2000:])
    [line] = [line for line in ran.stderr.splitlines() if line.startswith("refused:")]
    for mention in mentions:
        assert mention in line, line


def test_what_brandgate_placed_is_judged_as_placed_and_never_signed_as_a_pass(
    tmp_path: Path, made: tuple[Path, Path]
) -> None:
    """BG103 reads the placed text as it renders; BG202 takes the logo's width from the placement
    (at 256² acme's logo is drawn at exactly its 96 px minimum, which the outline estimate put at 94-95)."""
    # A kit that switched intake screening off: BG103 on the placed text is the last line.
    kits = tmp_path / "kits"
    shutil.copytree(KITS / "acme", kits / "acme")
    with (kits / "acme" / "policy.yaml").open("a") as policy:
        policy.write("BG501: {enabled: false}\n")
    models, keys = made
    env = environment(tmp_path, BRANDGATE_KITS_DIR=str(kits), BRANDGATE_MODELS_DIR=str(models),
                      BRANDGATE_KEYS_DIR=str(keys))
    assert run("db", "upgrade", env=env).code == 0
    brief = _brief(tmp_path, headline=f"Ch{CYRILLIC_E}apest apples", disclaimer=f"A mira{ZWJ}cle offer.",
                   logo="primary")
    ran = run("generate", "--brief", str(brief), "--json", env=env)
    assert ran.code == 0, ran.stderr[-3000:]
    (image,) = json.loads(ran.stdout)["images"]
    bg103 = next(c for c in image["failed_checks"] if c["id"] == "BG103")
    assert {"cheapest", "miracle"} <= {f["word"] for f in bg103["evidence"]["found"]}, bg103
    assert image["verdict"] == "reject"
    assert not any(c["id"] == "BG202" and "minimum" in c["message"] for c in image["failed_checks"]), image
    verified = run("verify", image["path"], "--json", env=env)
    signed = {c["id"]: c["status"] for c in json.loads(verified.stdout)["governance"]["checks"]}
    assert signed["BG103"] == "fail", signed

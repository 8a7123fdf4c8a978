"""The suite file: the shipped core suite and the loader's handling of bad briefs."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from brandgate.regress.suite import FAMILIES, SuiteError, load_suite

ROOT = Path(__file__).resolve().parents[2]


def test_core_suite_has_every_family_in_the_promised_numbers() -> None:
    suite = load_suite(ROOT / "suites" / "core.yaml")
    assert suite.problems == ()
    assert 150 <= len(suite.briefs) <= 200
    counts = Counter(b.family for b in suite.briefs)
    assert counts["typography"] >= 40
    assert counts["small-objects"] >= 30
    assert counts["counting"] >= 30
    assert counts["hands-people"] >= 20
    assert counts["edge-cases"] >= 20
    assert set(counts) == set(FAMILIES)


def test_core_suite_covers_what_typography_and_counting_promise() -> None:
    suite = load_suite(ROOT / "suites" / "core.yaml")
    typography = [b for b in suite.briefs if b.family == "typography"]
    headlines = [b.brief.headline for b in typography if b.brief.headline]
    words = {len(h.split()) for h in headlines}
    assert min(words) == 1 and max(words) == 12
    assert any(any(ch.isdigit() for ch in h) for h in headlines)
    assert any(any(ch in "$€" for ch in h) for h in headlines)
    assert any(any(ord(ch) > 127 and ch.isalpha() for ch in h) for h in headlines)
    assert {b.brief.kit for b in suite.briefs if b.family == "typography"} == {"acme", "nordwind"}
    wanted = {n for b in suite.briefs if b.family == "counting" for n in b.brief.counts.values()}
    assert set(range(1, 11)) <= wanted
    assert sum(b.expect == "reject" for b in suite.briefs) >= 5
    for b in suite.briefs:
        assert b.brief.n == 1 and b.brief.seed is None
    # sizes come from the profile under test; only the aspect-ratio briefs carry their own
    assert {b.id for b in suite.briefs if b.sized} == {"edge-017", "edge-018"}


def test_a_brief_without_a_size_renders_at_the_size_the_run_gives() -> None:
    suite = load_suite(ROOT / "suites" / "core.yaml")
    briefs = {b.id: b for b in suite.briefs}
    assert briefs["count-005"].brief_at((512, 512), 7).size == (512, 512)
    assert briefs["count-005"].brief_at((128, 128), 7).seed == 7
    assert briefs["edge-017"].brief_at((512, 512), 7).size == (256, 64)  # its own aspect ratio stays


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(body, encoding="utf-8")
    return path


def test_bad_brief_is_named_by_line_and_the_rest_still_load(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "suite: mini\n"
        "briefs:\n"
        "  - {id: a, family: counting, kit: acme, prompt: one apple}\n"
        "  - {id: b, family: counting, kit: acme, prompt: two pears, size: [100, 100]}\n"
        "  - {id: c, family: typo, kit: acme, prompt: three plums}\n"
        "  - {id: d, family: counting, kit: acme, prompt: x, colour: red}\n"
        "  - {id: e, family: counting, kit: acme, prompt: ok}\n",
    )
    suite = load_suite(path)
    assert [b.id for b in suite.briefs] == ["a", "e"]
    assert [(p.line, p.brief_id) for p in suite.problems] == [(4, "b"), (5, "c"), (6, "d")]
    assert "not a multiple of 8" in suite.problems[0].message
    assert "family" in suite.problems[1].message
    assert "colour: unknown field" in suite.problems[2].message
    assert suite.problems[0].describe(path).startswith(f"{path}:4 (b): ")


def test_duplicate_ids_refuse_the_suite_naming_both_lines(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "briefs:\n"
        "  - {id: a, family: counting, kit: acme, prompt: one apple}\n"
        "  - {id: a, family: counting, kit: acme, prompt: two apples}\n",
    )
    with pytest.raises(SuiteError, match=r"duplicate brief IDs: 'a' at lines 2 and 3"):
        load_suite(path)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "a suite is a mapping"),
        ("briefs: []\n", "non-empty list"),
        ("briefs: [\n", "not valid YAML"),
        ("- a\n- b\n", "a suite is a mapping"),
    ],
)
def test_unusable_suite_files_are_refused(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(SuiteError, match=message):
        load_suite(_write(tmp_path, body))


def test_missing_suite_and_folder_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SuiteError, match="no such suite file"):
        load_suite(tmp_path / "nope.yaml")
    with pytest.raises(SuiteError, match="is a folder"):
        load_suite(tmp_path)


def test_seed_and_n_belong_to_the_run_not_the_suite(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "briefs:\n"
        "  - {id: a, family: counting, kit: acme, prompt: apple, seed: 4}\n"
        "  - {id: b, family: counting, kit: acme, prompt: apple, n: 3}\n"
        "  - {family: counting, kit: acme, prompt: apple}\n"
        "  - {id: ok, family: counting, kit: acme, prompt: apple}\n",
    )
    suite = load_suite(path)
    assert [p.line for p in suite.problems] == [2, 3, 4]
    assert "seed" in suite.problems[0].message and "n" in suite.problems[1].message
    assert "id" in suite.problems[2].message


def test_select_by_family_and_limit() -> None:
    suite = load_suite(ROOT / "suites" / "core.yaml")
    part = suite.select(["counting"], limit=3)
    assert [b.family for b in part.briefs] == ["counting"] * 3
    with pytest.raises(SuiteError, match="unknown family"):
        suite.select(["colours"])

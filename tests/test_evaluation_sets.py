"""The tuning and held-out evaluation sets are independent: no seed, background or font in common,
and neither is labelled by the code it judges."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks.evalset import (
    HELD_OUT,
    KIT_NAMES,
    SETS,
    TUNING,
    EvalSet,
    eval_items,
    make_item,
    photo_paths,
    review_items,
    set_of,
)

ROOT = Path(__file__).resolve().parents[1]
SEEDS_LOOKED_AT = 5  # the first seeds of each set: the tuning set's 0–4 are the ones thresholds were set on
ITEMS, REVIEW_ITEMS = 96, 48


def _combinations(chosen: EvalSet) -> set[tuple[int, str, str]]:
    """(seed, background, headline face) of every item the set's first seeds make."""
    found = set()
    for seed in chosen.seeds[:SEEDS_LOOKED_AT]:
        for item in eval_items(ITEMS, seed):
            background = item.plan.get("photograph", item.kind)
            found.add((seed, background, item.plan["font"]))
        for review in review_items(REVIEW_ITEMS, seed):
            found.add((seed, review.background, review.face))
    return found


def test_the_sets_share_no_seed_background_or_font() -> None:
    assert not set(TUNING.seeds) & set(HELD_OUT.seeds)
    assert not set(TUNING.kinds) & set(HELD_OUT.kinds)
    assert not set(TUNING.photographs) & set(HELD_OUT.photographs)
    assert not set(TUNING.drawn) & set(HELD_OUT.drawn)
    for kit_name in KIT_NAMES:
        assert not TUNING.headline_faces(kit_name) & HELD_OUT.headline_faces(kit_name), kit_name


def test_no_item_of_one_set_is_drawn_from_the_others_seeds_backgrounds_or_fonts() -> None:
    tuning, held_out = _combinations(TUNING), _combinations(HELD_OUT)
    assert not tuning & held_out
    for seeds, backgrounds, faces, chosen in (
        ({s for s, _, _ in tuning}, {b for _, b, _ in tuning}, {f for _, _, f in tuning}, TUNING),
        ({s for s, _, _ in held_out}, {b for _, b, _ in held_out}, {f for _, _, f in held_out}, HELD_OUT),
    ):
        other = HELD_OUT if chosen is TUNING else TUNING
        other_faces = set().union(*(other.headline_faces(k) for k in KIT_NAMES))
        other_backgrounds = {*other.kinds, *other.drawn, *other.photographs, *(Path(p).stem for p in other.photographs)}
        assert seeds <= set(chosen.seeds)
        assert not backgrounds & other_backgrounds, f"{chosen.name} draws {backgrounds & other_backgrounds}"
        assert not faces & other_faces, f"{chosen.name} sets headlines in {faces & other_faces}"
    # every background and face the held-out set names is used by the items looked at
    assert {b for _, b, _ in held_out} >= {*HELD_OUT.kinds} - {"photograph"}


def test_a_seed_belongs_to_one_set_and_others_are_refused() -> None:
    assert set_of(0) is TUNING and set_of(4) is TUNING
    assert set_of(100) is HELD_OUT and set_of(199) is HELD_OUT
    assert set(SETS) == {"tuning", "held-out"}
    with pytest.raises(ValueError, match="belongs to no evaluation set"):
        make_item(0, seed=200)


def test_the_held_out_photographs_are_in_the_repository() -> None:
    found = photo_paths(HELD_OUT.photographs)
    assert len(found) == len(HELD_OUT.photographs)
    assert all(path.is_relative_to(ROOT / "tests" / "fixtures" / "photos") for path in found.values())


@pytest.mark.parametrize("kind", HELD_OUT.kinds)
def test_each_held_out_background_is_drawn(kind: str) -> None:
    item = next(i for i in eval_items(24, HELD_OUT.seeds[0]) if i.kind == kind)
    rgb = item.render()
    assert rgb.shape == (item.brief.size[1], item.brief.size[0], 3)
    assert rgb.std() > 5  # a background, a headline, a logo: not one flat colour


# The policies modules the sets may load: the brief and kit vocabulary, colour arithmetic, the
# parsers (and their bounded file reads) and which glyphs a font has. Any other (a check, the
# engine, the OCR, the logo finder, the typeface matcher) would let the code under judgement label
# its own test items.
VOCABULARY = {
    "policies",
    "policies.bounded_read",
    "policies.brief",
    "policies.characters",
    "policies.colour",
    "policies.documents",
    "policies.errors",
    "policies.glyphs",
    "policies.kit",
    "policies.prompt_counts",
}


def test_no_evaluation_set_loads_a_check_even_indirectly() -> None:
    """Importing every evaluation-set module and drawing items of both sets (compositing included)
    loads no check module, directly or through another module."""
    program = """
import json, sys
from benchmarks import evalset, photo_creatives, photoset
for seed in (0, 100):
    evalset.make_item(0, seed).render()
    evalset.make_review_item(4, seed).render()
photoset.photo_items(0)[0].render()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("policies", "brandgate", "bot"))))
"""
    done = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, check=True, timeout=300
    )
    loaded = set(json.loads(done.stdout.strip().splitlines()[-1]))
    assert not loaded - VOCABULARY, f"the evaluation sets load {sorted(loaded - VOCABULARY)}"
    assert "policies.kit" in loaded  # the program did run the sets

"""Counts read from the prompt: what is a number of things in the picture, and what only looks like one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from policies.brief import Brief, brief_from_mapping
from policies.prompt_counts import counts_in_prompt

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    ("prompt", "counts"),
    [
        ("five red apples on a rustic wooden table, studio light", {"apple": 5}),
        ("3 cups of coffee", {"cup": 3}),
        ("two cats sleeping on a sofa", {"cat": 2}),
        ("a dozen eggs in a carton", {"egg": 12}),
        ("a pair of shoes by the door", {"shoe": 2}),
        ("FIVE APPLES!", {"apple": 5}),
        ("Two Cats.", {"cat": 2}),
        ("the two cats on the porch", {"cat": 2}),
        ("two red sports cars on a mountain road", {"car": 2}),
        ("ten happy people at a party", {"person": 10}),
        ("twenty-five balloons over a field", {"balloon": 25}),
        ("half a dozen cupcakes", {"cupcake": 6}),
        ("two dozen roses in a vase", {"rose": 24}),
        ("two pairs of socks", {"sock": 4}),
        ("a couple of dogs running", {"dog": 2}),
        ("a trio of vases", {"vase": 3}),
        ("one red apple", {"apple": 1}),
        ("1 bottle of olive oil", {"bottle": 1}),
        ("three glasses of wine", {"glass": 3}),
        ("four boxes stacked", {"box": 4}),
        ("two knives and three forks", {"knife": 2, "fork": 3}),
        ("seven cherries", {"cherry": 7}),
        ("two cookies and a glass of milk", {"cookie": 2}),
        ("three ripe tomatoes", {"tomato": 3}),
        ("three kids playing with two balls", {"kid": 3, "ball": 2}),
        ("two men and three women", {"man": 2, "woman": 3}),
        ("six sheep in a field", {"sheep": 6}),
        ("two wolves in the snow", {"wolf": 2}),
        ("a bowl with 3 oranges", {"orange": 3}),
        ("five red apples, three pears", {"apple": 5, "pear": 3}),
        ("24/7 service, two cats", {"cat": 2}),
        ("100 balloons", {"balloon": 100}),
        ("eleven candles on a cake", {"candle": 11}),
        ("two apples on a plate, then the two apples in a bowl", {"apple": 2}),  # a later mention: the first stands
        # not counts
        ("5-star service", {}),
        ("24/7", {}),
        ("open 7 days a week", {}),
        ("one of a kind", {}),
        ("$5 off everything", {}),
        ("the 2026 collection", {}),
        ("3D render of a car", {}),
        ("Save 30%", {}),
        ("save 30 percent today", {}),
        ("a pair of scissors", {}),
        ("no one around", {}),
        ("buy 2 get 1 free", {}),
        ("2 for 1 pizza", {}),
        ("a couple walking on a beach", {}),
        ("8 hours of sleep", {}),
        ("top 10 gadgets", {}),
        ("Fresh Deals Friday", {}),
        ("two 5-star hotels", {}),
        ("ready in 2 minutes", {}),
        ("101 dalmatians", {}),
        ("3.5 apples", {}),
        ("$3.50 coffee", {}),
        ("7:30 breakfast", {}),
        ("two of the apples", {}),
        ("one day sale", {}),
        ("3 flavours of ice cream", {}),
        ("1,000 balloons", {}),
        ("red apples on a table", {}),
    ],
)
def test_counts_in_prompt(prompt: str, counts: dict[str, int]) -> None:
    assert counts_in_prompt(prompt) == counts


# What a number belongs to: back-references, adjectives and participles are not objects; group
# words, partitives and coordination read as a person would read them.
@pytest.mark.parametrize(
    ("prompt", "counts"),
    [
        # back-references: the number points at things already counted
        ("two mugs of tea, one red and one blue", {"mug": 2}),
        ("four kids at a table, one laughing", {"kid": 4}),
        ("three dogs on a lawn, one of them asleep", {"dog": 3}),
        ("two cups, one full, the other empty", {"cup": 2}),
        ("two vases, one tall and one short", {"vase": 2}),
        ("five balloons, one popped", {"balloon": 5}),
        ("three cats, one black and two white", {"cat": 3}),
        ("two mugs, two big ones and a small one", {"mug": 2}),
        ("two chairs, one broken", {"chair": 2}),
        ("three friends, one holding a phone", {"friend": 3}),
        ("a family of four, one smiling", {"person": 4}),
        ("two bikes, both red", {"bike": 2}),
        ("both hands on a steering wheel", {}),
        ("two girls, each with a balloon", {"girl": 2}),
        ("three kids, each holding two balloons", {"kid": 3}),
        ("two cups apiece, four guests at a table", {"guest": 4}),
        ("one of the three lamps lit", {"lamp": 3}),
        ("one another", {}),
        ("two of them smiling", {}),
        ("one of our five stores", {"store": 5}),
        # adjectives and participles after the number name no object
        ("one laughing", {}),
        ("one red", {}),
        ("two smiling", {}),
        ("one sleeping under a tree", {}),
        # a participle or an adjective between the number and the noun
        ("two smiling women", {"woman": 2}),
        ("one sleeping cat", {"cat": 1}),
        ("three freshly baked loaves", {"loaf": 3}),
        ("one beautiful painting on the wall", {"painting": 1}),
        ("one gold ring", {"ring": 1}),
        ("two cats sleeping on a sofa", {"cat": 2}),
        ("one dog running on the beach", {"dog": 1}),
        ("two cars parked outside", {"car": 2}),
        # group words and collective nouns are numbers
        ("a pair of earrings", {"earring": 2}),
        ("a couple of mugs on a shelf", {"mug": 2}),
        ("a dozen roses", {"rose": 12}),
        ("three dozen eggs", {"egg": 36}),
        ("a family of four at dinner", {"person": 4}),
        ("a team of five in an office", {"person": 5}),
        ("a family of three ducks", {"duck": 3}),
        ("a pair of sunglasses on a towel", {}),
        # partitives: part of a set already named
        ("one of the apples", {}),
        ("three of the cookies", {}),
        ("a dozen of the eggs", {}),
        # coordination
        ("three red and two blue balloons", {"balloon": 5}),
        ("two red and blue balloons", {"balloon": 2}),
        ("one red apple and one green apple", {"apple": 2}),
        ("two apples and five apples", {"apple": 7}),
        ("two cats and three dogs", {"cat": 2, "dog": 3}),
        ("two cats, three dogs and a parrot", {"cat": 2, "dog": 3}),
        ("two men, three women and four children", {"man": 2, "woman": 3, "child": 4}),
        ("a cat and two dogs", {"dog": 2}),
        # ranges are not one number
        ("two or three cats", {}),
        ("2 to 3 candles", {}),
        ("five to six people", {}),
    ],
)
def test_counts_read_the_noun_phrase_a_number_belongs_to(prompt: str, counts: dict[str, int]) -> None:
    assert counts_in_prompt(prompt) == counts


def test_a_brief_without_counts_reads_them_from_its_prompt_and_says_so() -> None:
    brief = brief_from_mapping({"kit": "acme", "prompt": "five red apples on a wooden table"})
    assert brief.counts == {"apple": 5}
    assert brief.counts_inferred
    # stored and read back (a request's brief), the counts stay inferred
    again = brief_from_mapping(brief.model_dump(mode="json"))
    assert (again.counts, again.counts_inferred) == ({"apple": 5}, True)


def test_given_counts_win_and_empty_counts_opt_out() -> None:
    given = Brief(kit="acme", prompt="five red apples", counts={"pear": 2})
    assert (given.counts, given.counts_inferred) == ({"pear": 2}, False)
    none = Brief(kit="acme", prompt="five red apples", counts={})
    assert (none.counts, none.counts_inferred) == ({}, False)
    nothing = Brief(kit="acme", prompt="red apples on a table")
    assert (nothing.counts, nothing.counts_inferred) == ({}, False)


def test_brief_validate_shows_counts_read_from_the_prompt(tmp_path: Path) -> None:
    brief = tmp_path / "brief.yaml"
    brief.write_text('kit: acme\nprompt: "a dozen eggs and two cats on a rustic table, 24/7 diner"\n')
    done = subprocess.run([sys.executable, "-m", "brandgate", "brief", "validate", str(brief)],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "counts (read from the prompt): egg: 12, cat: 2" in done.stdout
    as_json = subprocess.run([sys.executable, "-m", "brandgate", "brief", "validate", str(brief), "--json"],
                             cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    document = json.loads(as_json.stdout)["brief"]
    assert document["counts"] == {"egg": 12, "cat": 2} and document["counts_inferred"] is True
    brief.write_text('kit: acme\nprompt: "two mugs of tea, one red and one blue, four kids, one laughing"\n')
    references = subprocess.run([sys.executable, "-m", "brandgate", "brief", "validate", str(brief)],
                                cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert references.returncode == 0, references.stderr
    assert "counts (read from the prompt): mug: 2, kid: 4\n" in references.stdout
    brief.write_text('kit: acme\nprompt: "a dozen eggs"\ncounts: {}\n')
    opted_out = subprocess.run([sys.executable, "-m", "brandgate", "brief", "validate", str(brief)],
                               cwd=ROOT, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert opted_out.returncode == 0 and "counts" not in opted_out.stdout

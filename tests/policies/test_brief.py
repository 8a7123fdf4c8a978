from __future__ import annotations

import json
from pathlib import Path

import pytest

from policies.brief import Brief, brief_from_mapping, load_brief
from policies.errors import InvalidInput

BASE = {"kit": "acme", "prompt": "five red apples"}


def test_minimal_brief_gets_defaults() -> None:
    brief = brief_from_mapping(BASE)
    assert brief.size == (512, 512)
    assert brief.n == 4
    assert brief.seed is None
    assert not brief.wants_composition


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"prompt": ""}, "prompt"),
        ({"prompt": "   "}, "prompt"),
        ({"prompt": "x" * 100_000}, "prompt"),
        ({"n": 0}, "n"),
        ({"n": 10_000}, "n"),
        ({"size": [513, 512]}, "size"),
        ({"counts": {"apple": -1}}, "counts"),
        ({"colour": "red"}, "colour"),
        ({"kit": "../etc"}, "kit"),
        ({"seed": -5}, "seed"),
        ({"counts": {"apple": "five"}}, "counts.apple"),
    ],
)
def test_bad_fields_are_named(change: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as info:
        brief_from_mapping({**BASE, **change})
    assert str(info.value).split(": ", 1)[1].startswith(field)


def test_unknown_field_is_named_not_dropped() -> None:
    with pytest.raises(InvalidInput, match="colour: unknown field"):
        brief_from_mapping({**BASE, "colour": "red"})


def test_size_message_suggests_a_multiple_of_8() -> None:
    with pytest.raises(InvalidInput, match="try 512"):
        brief_from_mapping({**BASE, "size": [513, 512]})


def test_yaml_given_as_json_is_explained(tmp_path: Path) -> None:
    path = tmp_path / "brief.json"
    path.write_text("kit: acme\nprompt: apples\n")
    with pytest.raises(InvalidInput, match="looks like YAML"):
        load_brief(path)


def test_json_content_in_yaml_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "brief.yaml"
    path.write_text(json.dumps(BASE))
    assert load_brief(path).prompt == "five red apples"


def test_malformed_yaml_names_line(tmp_path: Path) -> None:
    path = tmp_path / "brief.yaml"
    path.write_text("kit: acme\nprompt: [unclosed\n")
    with pytest.raises(InvalidInput, match="line"):
        load_brief(path)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "brief.yaml"
    path.write_text("")
    with pytest.raises(InvalidInput, match="empty"):
        load_brief(path)


def test_content_hash_is_stable_and_sensitive() -> None:
    a = Brief(kit="acme", prompt="apples")
    assert a.content_hash() == Brief(kit="acme", prompt="apples").content_hash()
    assert a.content_hash() != Brief(kit="acme", prompt="pears").content_hash()

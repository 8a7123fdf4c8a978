"""Hypothesis strategies for hostile input: documents, briefs, kits and policy files.

Shared by the property-based tests of every entry point (CLI files here; Slack payloads build on
`hostile_text` and `plain_data`): each produces what a careless user or an attacker could send.
"""

from __future__ import annotations

import json
from typing import Any

import yaml
from hypothesis import strategies as st

from tests.hostile.documents import alias_bomb, deep_json, deep_yaml, duplicate_keys_yaml, nested_alias_bomb

# Characters that have broken text handling somewhere: controls, escapes, bidi overrides,
# zero-width and blank letters, surrogate-adjacent and astral code points, YAML specials.
AWKWARD_CHARACTERS = (
    "\x00\x07\x1b\x7f\x85\u00a0\u00ad\u200b\u200c\u200d\u202e\u2066\u2800\u3164\ufeff\uffff"
    "\U0001f600\U000e0001:#&*!|>'\"%@`{}[],-?\\\n\t\r"
)

hostile_text = st.text(
    alphabet=st.one_of(st.characters(codec="utf-8"), st.sampled_from(AWKWARD_CHARACTERS)), max_size=300
)
"""Any text, weighted towards the characters above."""

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False),
    hostile_text,
)

plain_data = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=5),
        st.dictionaries(st.one_of(hostile_text, st.integers()), children, max_size=5),
    ),
    max_leaves=30,
)
"""Anything JSON or YAML can hold, nested a few levels."""

BRIEF_FIELDS = {
    "kit": st.one_of(st.sampled_from(["acme", "nordwind", "ACME", "../acme", ""]), hostile_text),
    "prompt": st.one_of(st.just("five red apples"), hostile_text),
    "headline": st.one_of(st.just("Fresh Deals Friday"), hostile_text, st.none()),
    "disclaimer": st.one_of(st.just("Offer ends Sunday."), hostile_text, st.none()),
    "counts": st.one_of(st.dictionaries(hostile_text, st.integers(-5, 200), max_size=3), plain_data),
    "logo": st.one_of(st.sampled_from(["primary", "mono", "holiday"]), hostile_text, st.none()),
    "size": st.one_of(
        st.tuples(st.integers(0, 4096), st.integers(0, 4096)).map(list),
        st.sampled_from([[64, 64], [256, 256], [2048, 2048], [2048, 256]]),
        plain_data,
    ),
    "n": st.one_of(st.integers(-3, 40), plain_data),
    "seed": st.one_of(st.integers(-(2**70), 2**70), plain_data),
    "layout": st.one_of(st.sampled_from(["default", "nope"]), hostile_text, st.none()),
    "compose": st.one_of(st.booleans(), plain_data),
    "format": st.one_of(st.sampled_from(["png", "jpeg", "gif"]), hostile_text),
}

brief_data = st.fixed_dictionaries(
    {"kit": BRIEF_FIELDS["kit"], "prompt": BRIEF_FIELDS["prompt"]},
    optional={name: strategy for name, strategy in BRIEF_FIELDS.items() if name not in ("kit", "prompt")},
)
"""A brief's fields, each either plausible or hostile."""


def as_document(data: Any, kind: str) -> str:
    """`data` written as a JSON or YAML document (YAML of Python objects it cannot hold is skipped)."""
    if kind == "json":
        return json.dumps(data, ensure_ascii=False)
    return yaml.safe_dump(data, allow_unicode=True)


CRAFTED = [
    alias_bomb(),
    nested_alias_bomb(),
    deep_yaml(),
    deep_json(),
    duplicate_keys_yaml(),
    "kit: acme\nprompt: *undefined\n",
    "kit: acme\nprompt: !!python/object/apply:os.system ['true']\n",
    "kit: acme\nprompt: &a [*a]\n",
    "kit: acme\nn: 1" + "0" * 5000 + "\n",
    "kit: acme\nseed: 2026-13-45\n",
    "{\"kit\": \"acme\", \"n\": NaN}",
    "\ufeffkit: acme\nprompt: apples\n",
    "kit: acme\n\tprompt: tab\n",
    "",
    "---\n---\n",
]


def document(kind: str, fields: st.SearchStrategy[Any] = brief_data) -> st.SearchStrategy[str]:
    """Documents of `kind` (json or yaml): generated data, crafted attacks, or text with bytes mangled."""
    generated = st.one_of(fields, plain_data).map(lambda data: as_document(data, kind))
    mangled = st.tuples(generated, st.integers(0, 400), hostile_text).map(
        lambda parts: parts[0][: parts[1]] + parts[2] + parts[0][parts[1]:]
    )
    return st.one_of(generated, mangled, st.sampled_from(CRAFTED), hostile_text)


def kit_data(base: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
    """A kit.yaml mapping: the real one with a few fields replaced by plausible or hostile values."""
    replacements = st.dictionaries(
        st.sampled_from(
            ["name", "palette", "fonts", "logos", "banned_words", "required_disclaimers", "layouts", "slack",
             "display_name", "extra"]
        ),
        plain_data,
        max_size=3,
    )
    return replacements.map(lambda changes: {**base, **changes})


CHECK_IDS = ["BG101", "BG102", "BG201", "BG302", "BG401", "BG501", "BG601", "BG999", "bg101", ""]

policy_data = st.dictionaries(
    st.one_of(st.sampled_from(CHECK_IDS), hostile_text),
    st.one_of(
        st.fixed_dictionaries(
            {},
            optional={
                "severity": st.one_of(st.sampled_from(["flag", "reject", "warn"]), plain_data),
                "enabled": st.one_of(st.booleans(), plain_data),
                "max_edits": plain_data,
            },
        ),
        plain_data,
    ),
    max_size=6,
)
"""A policy.yaml mapping of check IDs (real, unknown, mangled) to options."""

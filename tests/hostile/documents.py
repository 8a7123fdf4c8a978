"""Hostile YAML and JSON documents, shared by the CLI cases and the property-based tests."""

from __future__ import annotations

import json


def alias_bomb(top_field: str = "prompt", extra: str = "kit: acme\n") -> str:
    """A 'billion laughs' document of a few hundred bytes whose aliases expand to ~4.8 million strings."""
    lines = [f"{extra}x: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    previous = "a"
    for name in "bcdefg":
        lines.append(f"{name}: &{name} [" + ", ".join(f"*{previous}" for _ in range(9)) + "]")
        previous = name
    lines.append(f"{top_field}: *{previous}")
    return "\n".join(lines) + "\n"


def nested_alias_bomb() -> str:
    """The same expansion with every anchor inside the one field (no unknown top-level keys to stop at)."""
    inner = "&a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"
    parts = [inner]
    previous = "a"
    for name in "bcdefg":
        parts.append(f"&{name} [" + ", ".join(f"*{previous}" for _ in range(9)) + "]")
        previous = name
    return "kit: acme\nprompt: [" + ", ".join(parts) + "]\n"


def deep_yaml(levels: int = 3000, field: str = "prompt") -> str:
    return f"kit: acme\n{field}: " + "[" * levels + "]" * levels + "\n"


def deep_json(levels: int = 3000) -> str:
    return '{"kit": "acme", "prompt": ' + "[" * levels + "]" * levels + "}"


def duplicate_keys_yaml() -> str:
    return "kit: acme\nprompt: five red apples\nsize: [128, 128]\nn: 1\nn: 16\n"


def duplicate_keys_json() -> str:
    return '{"kit": "acme", "prompt": "five red apples", "n": 1, "n": 16}'


def huge_value_yaml(chars: int = 200_000) -> str:
    """A field whose value is far too long: the error may say how long, never repeat it."""
    return json.dumps({"kit": "acme", "prompt": "apples", "counts": {"x" * chars: 1}, "n": "y" * chars})

"""Which characters a font can draw: a character it lacks is drawn as the .notdef box, never as itself."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from fontTools.ttLib import TTFont, TTLibError

from policies.errors import InvalidInput

if TYPE_CHECKING:
    from policies.kit import Kit


@lru_cache(maxsize=64)
def _codepoints(font_path: str, font_number: int = 0) -> frozenset[int]:
    with TTFont(font_path, fontNumber=font_number, lazy=True) as font:
        cmap = font.getBestCmap() or {}
    return frozenset(cmap)


def missing_glyphs(text: str, font_path: Path) -> list[str]:
    """The distinct characters of `text` that `font_path` has no glyph for, in order of appearance.

    White space is not drawn and joiners only shape their neighbours, so neither counts. A font
    file fontTools cannot read raises OSError, as PIL does for it.
    """
    try:
        have = _codepoints(str(font_path))
    except (TTLibError, ValueError, KeyError, AssertionError) as exc:
        raise OSError(f"{font_path.name} is not a readable font: {exc}") from None
    missing: list[str] = []
    for char in text:
        if char.isspace() or char in "\u200c\u200d" or ord(char) in have or char in missing:
            continue
        missing.append(char)
    return missing


def describe_missing(missing: list[str], font_path: Path) -> str:
    """'U+4E00 '一', U+1F600 '😀'' for messages, at most five characters named."""
    named = ", ".join(f"U+{ord(c):04X} {c!r}" for c in missing[:5])
    more = f" and {len(missing) - 5} more" if len(missing) > 5 else ""
    return f"{font_path.name} has no glyph for {named}{more}"


def kit_font_gaps(text: str, kit: Kit, font_role: str) -> tuple[Path, list[str]] | None:
    """The kit font for `font_role` and the characters of `text` it cannot draw; None when the kit names no
    such font (then nothing is known about what was drawn)."""
    try:
        font_path = kit.font_path(font_role)
        return font_path, missing_glyphs(text, font_path)
    except (InvalidInput, OSError):
        return None

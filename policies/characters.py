"""Text people will see or read back: control, bidi and invisible characters refused, quotes kept short."""

from __future__ import annotations

import reprlib
import unicodedata
from typing import Any

# How much of anything a user gave us an error message repeats.
QUOTE_CHARS = 200

# Joiners shape Arabic, Indic and emoji text; they are invisible on purpose, so they are allowed.
_JOINERS = frozenset("\u200c\u200d")
# Letters that draw nothing: text made only of these (and spaces) reads as empty.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
_MULTILINE_WHITESPACE = frozenset("\n\t\r")

_reprs = reprlib.Repr()
_reprs.maxstring = QUOTE_CHARS
_reprs.maxother = QUOTE_CHARS
_reprs.maxlevel = 3
_reprs.maxlist = _reprs.maxtuple = _reprs.maxdict = _reprs.maxset = 6


def _allowed(char: str, multiline: bool) -> bool:
    if char.isprintable() or char in _JOINERS:
        return True
    if multiline and char in _MULTILINE_WHITESPACE:
        return True
    # Spaces other than ASCII's (no-break, thin) are typography, not tricks.
    return unicodedata.category(char) == "Zs"


def text_problem(value: str, *, multiline: bool = False) -> str | None:
    """What makes `value` unfit to show or draw, or None.

    Refused: control characters (a line break or tab only where `multiline`), format characters
    such as bidi overrides and zero-width spaces (joiners excepted), unassigned and private-use
    code points, and text that is only invisible characters.
    """
    for position, char in enumerate(value):
        if not _allowed(char, multiline):
            name = unicodedata.name(char, unicodedata.category(char))
            return (
                f"contains the invisible or control character U+{ord(char):04X} ({name}) "
                f"at position {position + 1}; remove it"
            )
    if value and all(c.isspace() or c in _JOINERS or c in _BLANK_LETTERS or not c.isprintable() for c in value):
        return "is only invisible characters; give visible text"
    return None


def visible_text(value: str, *, multiline: bool = False) -> str:
    """`value` unchanged when `text_problem` finds nothing; else ValueError (for pydantic validators)."""
    problem = text_problem(value, multiline=multiline)
    if problem is not None:
        raise ValueError(problem)
    return value


def quote(value: Any, limit: int = QUOTE_CHARS) -> str:
    """A short, one-line, escaped rendering of anything a user gave, for messages."""
    if isinstance(value, str):
        shown = repr(value[:limit])
        return shown if len(value) <= limit else f"{shown}… ({len(value)} characters)"
    try:
        shown = _reprs.repr(value)
    except Exception:  # a hostile object's repr must not take the error message down with it
        shown = f"<{type(value).__name__}>"
    return printable(shown, limit)


def printable(text: str, limit: int | None = None) -> str:
    """`text` with every non-printable character escaped (\\u202e, \\x1b), clipped to `limit`."""
    clipped = text if limit is None or len(text) <= limit else text[:limit]
    out = "".join(c if c.isprintable() or c == " " else _escape(c) for c in clipped)
    if clipped is not text:
        out += f"… ({len(text)} characters)"
    return out


def terminal_safe(text: str) -> str:
    """`text` for a terminal: line breaks and tabs kept, every other non-printable character escaped.

    A file name with a right-to-left override or an escape sequence would otherwise reorder or
    recolour what a person reads.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() or c in " \n\t" else _escape(c) for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"

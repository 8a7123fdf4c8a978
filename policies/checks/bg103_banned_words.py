"""BG103 banned-words: none of the kit's banned words may appear in the image text.

The kit's `banned_words` (single words or phrases) are looked for in both OCR engines'
readings, word by word: "free money" matches "FREE MONEY!" and "Free\\nmoney" and, since
RapidOCR sometimes drops spaces, "FREEMONEY"; a banned word inside a longer word does not
match ("rape" never matches "grape"). A word read by either engine counts.

Statuses: `pass` none read; `fail` the banned words read, with the line each was read in;
`skip` the kit bans no words; `unverified` no OCR engine could run (the text was
not read, so the image cannot pass).

Options in policy.yaml under `BG103`:
- `severity`: `flag` (default) or `reject`.
- `extra_words`: more banned words or phrases for this kit's checks only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from policies.check import Outcome
from policies.ocr import read_text
from policies.required_text import expected_texts
from policies.text_match import contains_phrase, tokens

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG103"
NAME = "banned-words"
FAMILY = "text"
DEFAULT_SEVERITY = "flag"


def banned_words(kit: Kit, options: Mapping[str, Any]) -> list[str]:
    extra = options.get("extra_words", [])
    if not isinstance(extra, list) or not all(isinstance(w, str) for w in extra):
        raise ValueError(f"option extra_words must be a list of strings, got {extra!r}")
    return [w for w in [*kit.spec.banned_words, *extra] if tokens(w)]


def run(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    words = banned_words(kit, options)
    if not words:
        return Outcome("skip", "the kit bans no words")
    ocr = read_text(creative, expected_texts(brief, kit))
    if not ocr.usable:
        return ocr.not_read("banned words")
    hits: dict[str, dict[str, Any]] = {}
    for engine in ocr.engines:
        # Whole reading: a phrase may break over two lines. Word boxes: RapidOCR's words keep
        # their gaps even where its line text lost the spaces.
        sequences = [tokens(ocr.text(engine)), [t for w in ocr.words(engine) for t in tokens(w.text)]]
        for word in words:
            if word in hits or not any(contains_phrase(word, seq) for seq in sequences):
                continue
            line = next(
                (r.text for ln in ocr.lines if (r := ln.reading(engine)) and _line_has(word, r.text, r.words)),
                ocr.text(engine),
            )
            hits[word] = {"word": word, "engine": engine, "line": line}
    evidence = {"banned_words": words, "found": list(hits.values()), **ocr.summary()}
    if not hits:
        return Outcome("pass", "no banned words read", 0.9, evidence)
    found = ", ".join(repr(w) for w in hits)
    return Outcome("fail", f"banned word(s) in the image: {found}", 0.95, evidence)


def _line_has(word: str, text: str, words: Any) -> bool:
    return contains_phrase(word, tokens(text)) or contains_phrase(word, [t for w in words for t in tokens(w.text)])

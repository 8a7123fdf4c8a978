"""BG103 banned-words: none of the kit's banned words may appear in the image text.

The kit's `banned_words` (single words or phrases) are looked for in both OCR engines'
readings, word by word: "free money" matches "FREE MONEY!" and "Free\\nmoney" and, since
RapidOCR sometimes drops spaces, "FREEMONEY"; a banned word inside a longer word does not
match ("rape" never matches "grape"). A word read by either engine counts.

Text brandgate placed itself (headline, disclaimer) is judged as it renders, from the
compositing record: zero-width and other invisible characters draw nothing and a Cyrillic "е"
draws an "e", so "Mira\u200dcle" and "Chеapest" are the banned words they show
(`policies.text_match.skeleton`). A banned word placed fails the check whatever OCR makes of it.

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
from policies.ocr import placed_lines, read_text
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
    hits: dict[str, dict[str, Any]] = {}
    placed = placed_lines(creative)
    # A phrase may break over two placed lines, so each element's lines are also joined.
    placed_texts = [line.text for line in placed] + [
        " ".join(line.text for line in placed if line.element == element) for element in {p.element for p in placed}
    ]
    for word in words:
        text = next((t for t in placed_texts if contains_phrase(word, tokens(t))), None)
        if text is not None:
            hits[word] = {"word": word, "engine": "placed text", "line": text}
    ocr = read_text(creative, expected_texts(brief, kit))
    if not ocr.usable:
        if hits:
            return _failed(hits, {"banned_words": words, "found": list(hits.values())})
        return ocr.not_read("banned words")
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
    return _failed(hits, evidence)


def _failed(hits: Mapping[str, Any], evidence: dict[str, Any]) -> Outcome:
    found = ", ".join(repr(w) for w in hits)
    return Outcome("fail", f"banned word(s) in the image: {found}", 0.95, evidence)


def _line_has(word: str, text: str, words: Any) -> bool:
    return contains_phrase(word, tokens(text)) or contains_phrase(word, [t for w in words for t in tokens(w.text)])

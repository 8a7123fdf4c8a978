"""BG104 unexpected-text: text in the image that nobody asked for (hallucinated or garbled).

Every text line OCR finds must be explained by what the brief and kit ask for: the brief's
headline and disclaimer, the kit's required disclaimers, the words in the kit's logos (their
wordmarks, read once from the logo files) and the `allowed_text` option. Whatever is left of a
line once those are taken out (case, spaces and punctuation ignored) is unexpected when it has
at least `min_chars` letters or digits; a piece one letter away from an allowed word is taken
as a misreading of it (BG101 and BG102 report misspellings), and a line that is a stretch of an
allowed text (a wrapped or half-read part of a disclaimer, a wordmark read as two lines) is
explained. A line counts as explained when any engine's full reading of it is explained, so
one engine's misreading does not flag a clean image. A reading with fewer characters than its
box holds line heights twice over (3 letters across a box 7 heights wide) is an engine finding
letters in a texture such as gravel or brick, and is ignored. A line lying within the brief's
logo (placed by brandgate, or located as BG201 locates it) is the logo's own lettering, read in
part or misread ("NOI" of "NORDWIND"); BG201 judges the logo.

Statuses: `pass` all text explained (or no text); `fail` the unexpected lines with their
position; `unverified` no OCR engine could run (the text was
not read, so the image cannot pass).

Options in policy.yaml under `BG104`:
- `severity`: `flag` (default) or `reject`.
- `allowed_text`: further text that may appear (a tagline, a URL).
- `min_chars`: letters or digits a leftover must have to count (default 3).
- `min_confidence`: OCR confidence (0–1) below which a reading is ignored (default 0.6).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from policies import logos
from policies.check import Outcome
from policies.ocr import TextLine, read_text
from policies.options import number, whole
from policies.required_text import expected_texts, logo_wordmark
from policies.text_match import normalise, similarity, tokens

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG104"
NAME = "unexpected-text"
FAMILY = "text"
DEFAULT_SEVERITY = "flag"

# A line with at least this share of its box inside the located logo is the logo's lettering.
LOGO_SHARE = 0.6


def run(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    min_chars = whole(options, ID, "min_chars", 3, at_least=1)
    min_confidence = number(options, ID, "min_confidence", 0.6, at_least=0)
    allowed = expected_text(brief, kit, options)
    ocr = read_text(creative, expected_texts(brief, kit))
    if not ocr.usable:
        return ocr.not_read("unexpected text")
    unexpected = []
    for line in ocr.lines:
        leftover = _unexplained(line, allowed, min_chars, min_confidence)
        if leftover is not None and not _inside_logo(line, creative, brief, kit):
            unexpected.append({"text": leftover, "box": list(line.box), "readings": line.texts()})
    evidence = {"allowed": allowed, "unexpected": unexpected, **ocr.summary()}
    if not unexpected:
        return Outcome("pass", "all text in the image was asked for", 0.85, evidence)
    shown = ", ".join(repr(u["text"]) for u in unexpected[:5])
    more = f" and {len(unexpected) - 5} more" if len(unexpected) > 5 else ""
    return Outcome("fail", f"text nobody asked for: {shown}{more}", 0.9, evidence)


def expected_text(brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> list[str]:
    """Everything that may appear: brief's headline and disclaimer, kit disclaimers and wordmarks."""
    extra = options.get("allowed_text", [])
    if not isinstance(extra, list) or not all(isinstance(t, str) for t in extra):
        raise ValueError(f"option allowed_text must be a list of strings, got {extra!r}")
    texts = [*extra, *kit.spec.required_disclaimers]
    if brief is not None:
        texts += [t for t in (brief.headline, brief.disclaimer) if t]
    for variant in kit.spec.logos:
        texts += list(logo_wordmark(kit.logo_path(variant)))
    return [t for t in dict.fromkeys(texts) if normalise(t)]


def _inside_logo(line: TextLine, creative: Creative, brief: Brief | None, kit: Kit) -> bool:
    """The line lies within the brief's logo where it was found (placed by brandgate, else
    located by its features, as BG201 finds it): it is the logo's own lettering, read in part or
    misread ("NOI" of "NORDWIND"), and BG201 judges the logo."""
    if brief is None or not brief.logo or brief.logo not in kit.spec.logos:
        return False
    located = logos.locate(creative, logos.reference_for(kit.logo_path(brief.logo)), brief.logo)
    if located is None:
        return False
    x0, y0, x1, y1 = line.box
    lx0, ly0, lx1, ly1 = located.box
    inside = max(0, min(x1, lx1) - max(x0, lx0)) * max(0, min(y1, ly1) - max(y0, ly0))
    return inside >= LOGO_SHARE * max(1, (x1 - x0) * (y1 - y0))


def _unexplained(line: TextLine, allowed: list[str], min_chars: int, min_confidence: float) -> str | None:
    """The unexplained part of a line, or None when some substantive reading is explained."""
    x0, y0, x1, y1 = line.box
    # Letters are about half as wide as a line is tall (a letter-spaced word up to twice
    # that): a reading with fewer characters than its box holds line heights twice over is
    # an engine finding letters in a texture (gravel, brick), not text.
    sparse = (x1 - x0) / max(1, 2 * (y1 - y0))
    readings = [
        r
        for r in line.readings.values()
        if r.text.strip() and r.confidence >= min_confidence and len(normalise(r.text)) >= sparse
    ]
    lengths = {r.engine: len(normalise(r.text)) for r in readings}
    longest = max(lengths.values(), default=0)
    if longest < min_chars:
        return None
    # A reading much shorter than another engine's of the same line missed most of it.
    substantive = [r for r in readings if lengths[r.engine] >= 0.6 * longest]
    leftovers = []
    for reading in substantive:
        left = _leftover(normalise(reading.text), allowed)
        if len(left) < min_chars:
            return None
        leftovers.append((len(left), reading.text))
    return min(leftovers)[1] if leftovers else None


def _leftover(text: str, allowed: list[str]) -> str:
    """`text` without the allowed texts in it, whole texts first, then their single words.

    A leftover piece one letter away from an allowed word is a misreading of it (a small logo
    read as "AGME") or a misspelling that BG101/BG102 report, not text nobody asked for.
    """
    whole = sorted({normalise(a) for a in allowed}, key=len, reverse=True)
    # A line that is a stretch of an allowed text: a wrapped or half-read part of it ("Items
    # cannot be return" of a disclaimer, "NOR" and "DWIND" of a wordmark read as two lines).
    if any(text in w for w in whole):
        return ""
    pieces = [text]
    words = sorted({t for a in allowed for t in tokens(a) if len(t) >= 2}, key=len, reverse=True)
    for part in [*whole, *words]:
        if part:
            pieces = [p for piece in pieces for p in piece.split(part) if p]
    near = [w for w in [*whole, *words] if len(w) >= 4]
    return "".join(p for p in pieces if not any(similarity(p, w) >= 1 - 1.5 / len(w) for w in near))

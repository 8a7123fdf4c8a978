"""BG102 disclaimer-text: every required disclaimer must appear in the image, spelt exactly.

Required are the brief's `disclaimer` and every entry of the kit's `required_disclaimers`.
Each is judged the way BG101 judges the headline: where brandgate placed the disclaimer (which
holds all of them), glyph by glyph against its rendering; otherwise in both OCR engines'
readings in layout order (a disclaimer wrapped beside the logo is read without the logo's word
in it), glyph-aware in the kit's body font: case, spacing, line breaks, punctuation and accents
are forgiven, changed letters not. Small print the line detector half misses gets a closer look
(both engines over the enlarged region where part of it was read), then a second look by
Tesseract over the whole image. Disclaimer lines read exactly but not placed by brandgate are
judged by their glyphs in the face that fits them, as BG101 does (a look-alike the engines read
through fails).

Statuses: `pass` all read; `fail` one or more missing or misspelt, each named with the closest
text read and its similarity; `skip` nothing is required; `unverified` no OCR engine
could run (the text was not read, so the image cannot pass).

Options in policy.yaml under `BG102`:
- `severity`: `flag` (default) or `reject`.
- `max_edits`: letters per disclaimer that may differ and still pass (default 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from policies.check import Outcome
from policies.ocr import read_text
from policies.options import whole
from policies.required_text import agreement_confidence, expected_texts, find_in_creative, font_for
from policies.text_match import normalise
from policies.typefaces import candidate_faces

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG102"
NAME = "disclaimer-text"
FAMILY = "text"
DEFAULT_SEVERITY = "flag"


def required_disclaimers(brief: Brief | None, kit: Kit) -> list[str]:
    """The brief's disclaimer, then the kit's, each once."""
    wanted = ([brief.disclaimer] if brief is not None and brief.disclaimer else []) + list(
        kit.spec.required_disclaimers
    )
    seen: set[str] = set()
    out = []
    for text in wanted:
        key = normalise(text)
        if key and key not in seen:
            seen.add(key)
            out.append(text)
    return out


def run(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    wanted = required_disclaimers(brief, kit)
    if not wanted:
        return Outcome("skip", "neither the brief nor the kit requires a disclaimer")
    max_edits = whole(options, ID, "max_edits", 0)
    ocr = read_text(creative, expected_texts(brief, kit))
    font = font_for(brief, kit, "body")
    if not ocr.usable:
        return ocr.not_read("disclaimer text")
    faces = candidate_faces(brief, kit, "body")
    findings = [find_in_creative(text, creative, ocr, max_edits, "disclaimer", font, faces) for text in wanted]
    missing = [f for f in findings if not f.found]
    evidence = {"disclaimers": [f.evidence() for f in findings], **ocr.summary()}
    confidence = min(agreement_confidence(f, ocr) for f in (missing or findings))
    if not missing:
        return Outcome("pass", f"{len(findings)} required disclaimer(s) read", confidence, evidence)
    return Outcome("fail", "; ".join(f.describe_miss("disclaimer") for f in missing), confidence, evidence)

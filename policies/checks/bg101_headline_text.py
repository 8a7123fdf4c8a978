"""BG101 headline-text: the brief's headline must appear in the image, spelt exactly.

Where brandgate placed the headline (the pipeline passes its compositing record), each placed
line is compared glyph by glyph with the headline rendered in its font at its size where it was
drawn (`policies/rendered_text.py`): a look-alike swap a reader can see (l→1, i→l, m→rn, l→I in
a serif face) fails, naming the glyph; an I drawn for an l where the face draws them alike passes.

Otherwise the image text is read by RapidOCR and Tesseract (once per image, shared with the
other text checks), in layout order. The headline passes when either engine's reading contains
it. Case, spacing, line breaks, punctuation and accents are forgiven, and a substituted
character only where it is the same picture in the kit's headline font (so O read as 0 counts
where the face draws them apart); a changed, missing or extra letter is not: "Fresh Deels
Friday" fails for the headline "Fresh Deals Friday". Before reporting it missing, both engines
take a closer look at the enlarged region where part of it was read, then Tesseract a second
look over the whole image; not where every engine that read it read it within one line of at
least 40 px, at its full length, as the same other text (RapidOCR alone: at confidence 0.9),
since a second look reads those pixels the same way. A headline read exactly is then judged by its glyphs: the face its
line is set in is found among the kit's fonts and common installed faces, and a look-alike the
engines read through ("Sa1e" read as "Sale", "rn" as "m") fails when it fits the glyphs and the
headline does not (`policies/typefaces.py`; no face fitting decides nothing). Evidence
`judged_by` says which: `placed glyphs`, `ocr` or `ocr, enlarged region` (with `reading_order`),
ending in `+ glyphs` when the glyphs overruled the reading; `line_glyphs` gives each line's face
and outcome. A headline with a
character the kit's headline font has no glyph for fails without reading: it would be drawn as
the font's empty .notdef box (evidence `missing_glyphs`).

Statuses: `pass` headline read; `fail` not read, the message names the closest text read and
the evidence gives it with its similarity (1.0 = identical); `skip` the brief has no headline
(or there is no brief); `unverified` no OCR engine could run (the text was not read, so the
image cannot pass).

Options in policy.yaml under `BG101`:
- `severity`: `flag` (default) or `reject`.
- `max_edits`: letters that may differ and still pass (default 0: exact).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from policies.check import Outcome
from policies.errors import InvalidInput
from policies.glyphs import describe_missing, kit_font_gaps
from policies.ocr import read_text
from policies.options import whole
from policies.required_text import agreement_confidence, expected_texts, find_in_creative, font_for
from policies.typefaces import candidate_faces

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG101"
NAME = "headline-text"
FAMILY = "text"
DEFAULT_SEVERITY = "flag"


def run(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    if brief is None or not brief.headline:
        return Outcome("skip", "the brief asks for no headline")
    notdef = _undrawable(brief, kit)
    if notdef is not None:
        return notdef
    max_edits = whole(options, ID, "max_edits", 0)
    ocr = read_text(creative, expected_texts(brief, kit))
    font = font_for(brief, kit, "headline")
    if not ocr.usable:
        return ocr.not_read("headline text")
    faces = candidate_faces(brief, kit, "headline")
    finding = find_in_creative(brief.headline, creative, ocr, max_edits, "headline", font, faces)
    evidence = {**finding.evidence(), **ocr.summary()}
    confidence = agreement_confidence(finding, ocr)
    if finding.found:
        return Outcome("pass", f"headline {brief.headline!r} read", confidence, evidence)
    return Outcome("fail", finding.describe_miss("headline"), confidence, evidence)


def _undrawable(brief: Brief, kit: Kit) -> Outcome | None:
    """A fail when the kit's headline font has no glyph for some character of the headline.

    Such a character is drawn as the font's .notdef box, which OCR reads as nothing or as noise,
    so a reading could still "find" the headline around it.
    """
    try:
        role = kit.layout(brief.layout).headline_font
    except InvalidInput:
        return None
    gaps = kit_font_gaps(brief.headline or "", kit, role)
    if gaps is None or not gaps[1]:
        return None
    font_path, missing = gaps
    return Outcome(
        "fail",
        f"headline cannot be drawn as written: {describe_missing(missing, font_path)} (drawn as an empty box)",
        1.0,
        {"missing_glyphs": [f"U+{ord(c):04X}" for c in missing], "font": font_path.name},
    )

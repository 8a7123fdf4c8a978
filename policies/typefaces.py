"""Which typeface a line of text brandgate did not place is set in, and whether its glyphs are
the expected ones in that face: where OCR engines read through a look-alike (a "1" for an "l",
"rn" for "m"), the pixels decide.

The face is found by fitting the expected text, rendered in each candidate face (the kit's own
fonts first, then common faces installed here), over the line's ink: a quick overlap ranks
them and the best few are compared glyph by glyph (`policies.rendered_text`). Where the
expected text does not fit glyph for glyph in the face found, single look-alike substitutions
(the VISIBLE_SWAPS) are tried in its place: one that fits glyph for glyph is what the image
shows. Nothing is decided from a face that fits poorly (it may be one we do not have).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from policies.kit import resolve_font
from policies.rendered_text import GlyphComparison, LineInk, compare_in_box, line_inks, renders_same, rough_fit
from policies.text_match import normalise

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

Box = tuple[int, int, int, int]

# Faces tried after the kit's own: the common families installed with the kits' packages, in
# their upright weights (a designer's file may be set in any of them).
COMMON_FACES = (
    "DejaVuSans-Bold.ttf",
    "DejaVuSans.ttf",
    "DejaVuSerif-Bold.ttf",
    "DejaVuSerif.ttf",
    "DejaVuSansCondensed-Bold.ttf",
    "DejaVuSansCondensed.ttf",
    "DejaVuSerifCondensed-Bold.ttf",
    "LiberationSans-Bold.ttf",
    "LiberationSans-Regular.ttf",
    "LiberationSerif-Bold.ttf",
    "LiberationSerif-Regular.ttf",
)
# A face is taken for the line's when the expected text (or a look-alike of it) fits its ink
# this well (1 − differing ink share; clean lines in their own face measure 0.90–1.00, the
# nearest other face 0.55–0.85 on the reviewer's set).
GOOD_FIT = 0.85
FACES_COMPARED = 2  # the best-ranked faces compared glyph by glyph...
RUNNER_UP_GAP = 0.1  # ...the second only when its quick overlap is within this of the best
# The kit's face is taken without trying the others when its quick overlap reaches this (clean
# lines in their own face measure 0.97–1.00; the nearest other face at most 0.92).
QUICK_ACCEPT = 0.97
# Substitutions a reader sees in most faces and OCR engines often read through. Tried only
# within SWAP_REACH characters of the glyph that differs (a wider or narrower look-alike
# shifts the rest of the line).
VISIBLE_SWAPS = (
    ("l", "1"),
    ("1", "l"),
    ("l", "I"),
    ("I", "l"),
    ("i", "l"),
    ("l", "i"),
    ("i", "1"),
    ("m", "rn"),
    ("rn", "m"),
    ("w", "vv"),
    ("d", "cl"),
    ("O", "0"),
    ("0", "O"),
    ("o", "0"),
    ("S", "5"),
    ("B", "8"),
    ("Z", "2"),
    ("G", "6"),
    ("g", "9"),
)
SWAP_REACH = 2
# Where no face fits the expected text, at most this many look-alikes of it (in VISIBLE_SWAPS
# order) are tried to find the face.
MAX_UNREAD_SWAPS = 8
# A look-alike that does not fit glyph for glyph wins only when its worst glyph is this many
# times closer than the expected text's.
SWAP_CLEARER = 3.0
# ...and only when it fits the line this well: a look-alike is claimed on a clear fit, never on
# a face that merely fits better than the others (clean and look-alike lines in their own face
# measure 0.97–1.00).
SHOWS_FIT = 0.95


@dataclass(frozen=True)
class LineGlyphs:
    """What the glyphs of one OCR'd line show, judged in the face that fits it."""

    expected: str
    box: Box
    comparison: GlyphComparison | None  # the expected text in the face found (None: no face fits)
    shows: str | None = None  # the look-alike text the image shows instead, when one fits
    shown: GlyphComparison | None = None

    @property
    def differs(self) -> bool:
        return self.shows is not None

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {"text": self.expected, "box": list(self.box)}
        if self.comparison is None:
            out["face"] = None
            out["outcome"] = "no candidate face fits"
            return out
        out.update(self.comparison.evidence())
        if self.shows is not None and self.shown is not None:
            out["outcome"] = "look-alike"
            out["shows"] = self.shows
            out["shows_fit"] = round(self.shown.fit, 3)
        else:
            out["outcome"] = "as expected" if self.comparison.matches else "undecided"
        return out


def candidate_faces(brief: Brief | None, kit: Kit, role: str) -> tuple[str, ...]:
    """Font files to try for text the brief asks for in `role` ("headline" or "body"): the
    font the kit's layout sets it in, the kit's other fonts, then COMMON_FACES installed here."""
    faces: list[str] = []
    try:
        layout = kit.layout(brief.layout if brief is not None else None)
        first = layout.headline_font if role == "headline" else layout.body_font
        names = [first, *(n for n in kit.spec.fonts if n != first)]
        faces.extend(str(kit.font_path(name)) for name in names)
    except Exception:  # a kit without that font or layout: only the common faces
        pass
    for file_name in COMMON_FACES:
        try:
            path = str(resolve_font(kit.root, file_name))
        except Exception:  # a face not installed here is simply not tried
            continue
        if path not in faces:
            faces.append(path)
    return tuple(faces)


def fitted_face(creative: Creative, box: Box, text: str, faces: Sequence[str]) -> GlyphComparison | None:
    """`text` compared glyph by glyph in the candidate face that fits the ink in `box` best,
    when one fits at least GOOD_FIT; computed once per creative, line and text. The first
    face (the kit's, for the role) is taken without ranking the others when its quick overlap
    reaches QUICK_ACCEPT."""

    def compute() -> GlyphComparison | None:
        inks = _inks(creative, box)
        if not inks:
            return None
        scored: list[tuple[float, str, LineInk]] = []
        for face in faces:
            score, ink = max(((rough_fit(ink, text, face), ink) for ink in inks), key=lambda pair: pair[0])
            scored.append((score, face, ink))
            if len(scored) == 1 and score >= QUICK_ACCEPT:
                break
        scored.sort(key=lambda entry: entry[0], reverse=True)
        # A runner-up well behind the best is not worth a full comparison.
        ranked = [(face, ink) for score, face, ink in scored[:FACES_COMPARED] if score >= scored[0][0] - RUNNER_UP_GAP]
        best: GlyphComparison | None = None
        for face, ink in ranked:
            fitted = compare_in_box(creative.rgb, box, text, face, (ink,))
            if fitted is not None and (best is None or fitted.fit > best.fit):
                best = fitted
        return best if best is not None and best.fit >= GOOD_FIT else None

    return creative.shared(f"typeface:{box}:{text}:{'|'.join(faces)}", compute)


def _inks(creative: Creative, box: Box) -> tuple[LineInk, ...]:
    return creative.shared(f"line-ink:{box}", lambda: line_inks(creative.rgb, box))


def judge_line(
    creative: Creative, box: Box, expected: str, faces: Sequence[str], readings: Sequence[str] = ()
) -> LineGlyphs:
    """The glyphs in `box` against `expected` (the part of a required text this line holds).

    The face is found with the expected text and with each look-alike of it that an engine
    read there (`readings`): a "1" wider than the "l" it replaces throws the expected text's
    fit off. Where the expected text does not match in that face, look-alikes near the glyph
    that differs are compared too."""
    read = {normalise(r, fold_confusables=False) for r in readings}
    swaps = single_swaps(expected, None)
    read_swaps = [s for s in swaps if any(normalise(s[0], fold_confusables=False) in r for r in read)]
    read_variants = [variant for variant, _, _ in read_swaps]
    best: tuple[GlyphComparison, str] | None = None
    for text in [expected, *read_variants]:
        fitted = fitted_face(creative, box, text, faces)
        if fitted is not None and (best is None or fitted.fit > best[0].fit):
            best = (fitted, text)
    if best is None:
        # No face fits the text as asked. A look-alike of another width (0 for O, rn for m)
        # throws every face's fit off, and no engine need have read it: a look-alike that fits
        # a face clearly (SHOWS_FIT) finds the face instead, and is then judged as one read.
        for swap in [s for s in swaps if s[0] not in read_variants][:MAX_UNREAD_SWAPS]:
            fitted = fitted_face(creative, box, swap[0], faces)
            if fitted is None or fitted.fit < SHOWS_FIT:
                continue
            if (best is None or fitted.fit > best[0].fit) and not _drawn_alike(swap, fitted.font):
                best = (fitted, swap[0])
                read_swaps = [swap]
                read_variants = [swap[0]]
        if best is None:
            return LineGlyphs(expected, box, None)
    face = best[0].font
    comparison = (
        best[0] if best[1] == expected else compare_in_box(creative.rgb, box, expected, face, _inks(creative, box))
    )
    if comparison is None:
        return LineGlyphs(expected, box, None)
    if comparison.matches:
        return LineGlyphs(expected, box, comparison)
    near = comparison.worst_index if comparison.worst_index >= 0 else None
    tried = read_swaps + [s for s in single_swaps(expected, near) if s[0] not in read_variants]
    for variant, a, b in tried:
        if _drawn_alike((variant, a, b), face):
            continue  # the same picture in this face: a reader cannot tell it apart
        shown = compare_in_box(creative.rgb, box, variant, face, _inks(creative, box))
        if shown is not None and _shows_instead(shown, comparison):
            return LineGlyphs(expected, box, comparison, variant, shown)
    return LineGlyphs(expected, box, comparison)


def _drawn_alike(swap: tuple[str, str, str], face: str) -> bool:
    _, a, b = swap
    return len(a) == len(b) == 1 and renders_same(a, b, face)


def _shows_instead(variant: GlyphComparison, expected: GlyphComparison) -> bool:
    """The look-alike is what the image shows: it fits clearly (SHOWS_FIT), better than the
    expected text, and glyph for glyph (or with its worst glyph SWAP_CLEARER times closer than
    the expected text's, where JPEG or a busy photograph blurs every glyph a little)."""
    return (
        variant.fit >= SHOWS_FIT
        and variant.fit > expected.fit
        and (variant.matches or variant.worst * SWAP_CLEARER <= expected.worst)
    )


def single_swaps(text: str, near: int | None) -> list[tuple[str, str, str]]:
    """`text` with one VISIBLE_SWAPS substitution (with the pair swapped), each place it
    applies (only within SWAP_REACH characters of `near` when given)."""
    out = []
    for a, b in VISIBLE_SWAPS:
        start = text.find(a)
        while start >= 0:
            if near is None or abs(start - near) <= SWAP_REACH:
                out.append((text[:start] + b + text[start + len(a) :], a, b))
            start = text.find(a, start + 1)
    return out

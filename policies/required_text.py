"""Finding text a brief or kit requires (headline, disclaimers): where brandgate placed it, by
comparing the image with the text rendered as placed; elsewhere in what OCR read, in layout
order and glyph-aware in the font it is set in."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from difflib import SequenceMatcher
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from policies.ocr import (
    CLOSER_LINE_PX,
    RAPIDOCR,
    Box,
    OcrResult,
    PlacedLine,
    placed_lines,
    read_closer,
    read_page_with_tesseract,
    read_placed_lines,
    recognise,
)
from policies.rendered_text import GlyphComparison, compare_at, judge_placed, renders_same
from policies.text_match import Match, aligned_stretch, best_match, normalise
from policies.typefaces import LineGlyphs, judge_line, single_swaps

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit


@dataclass(frozen=True)
class Finding:
    """The outcome of looking for one required text."""

    expected: str
    found: bool
    match: Match | None
    engines_exact: tuple[str, ...]
    # How it was judged: "placed glyphs" (the image against the text rendered where brandgate
    # placed it), or "ocr" (the engines' readings, in `OcrResult.reading_order`).
    judged_by: str = "ocr"
    glyphs: tuple[GlyphComparison, ...] = field(default=())
    # Where the text was not placed: the read lines' glyphs, judged in the face that fits them.
    lines: tuple[LineGlyphs, ...] = field(default=())

    def evidence(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "expected": self.expected,
            "read": self.match.read if self.match else "",
            "similarity": round(self.match.similarity, 3) if self.match else 0.0,
            "engine": self.match.engine if self.match else None,
            "engines_exact": list(self.engines_exact),
            "judged_by": self.judged_by,
        }
        if self.glyphs:
            out["glyphs"] = [g.evidence() for g in self.glyphs]
        if self.lines:
            out["line_glyphs"] = [line.evidence() for line in self.lines]
        return out

    def describe_miss(self, what: str) -> str:
        lookalike = next((line for line in self.lines if line.differs), None)
        if lookalike is not None and lookalike.shows is not None and lookalike.comparison is not None:
            face = lookalike.comparison.font.rsplit("/", 1)[-1]
            return (
                f"{what} {self.expected!r} shows {lookalike.shows!r} where {lookalike.expected!r} belongs:"
                f" a look-alike the OCR engines read through, told apart by its glyphs in {face}"
            )
        differing = [g for g in self.glyphs if not g.matches]
        if differing:
            g = differing[0]
            at = g.worst_index
            where = f"{g.text[at]!r} in {g.text!r}" if at >= 0 else repr(g.text)
            read = f"; read {self.match.read!r}" if self.match and self.match.read else ""
            return (
                f"{what} {self.expected!r} does not look as placed: the glyph {where} differs from"
                f" the text rendered in {g.font.rsplit('/', 1)[-1]} at {g.size:g} px{read}"
            )
        if self.match is None or not self.match.read:
            return f"{what} {self.expected!r} not found; no text like it was read"
        return f"{what} {self.expected!r} not found; read {self.match.read!r}"


def find_required(expected: str, ocr: OcrResult, max_edits: int = 0, font: str | None = None) -> Finding:
    """Found when some engine read `expected` with at most `max_edits` letters different
    (glyph-aware in `font` when given: see `text_match.best_match`)."""
    readings = ocr.texts()
    exact = tuple(
        engine for engine, text in readings.items() if (m := best_match(expected, {engine: text}, font)) and m.exact
    )
    match = best_match(expected, readings, font)
    length = max(1, len(normalise(expected)))
    edits = round((1.0 - match.similarity) * length) if match else length
    return Finding(expected=expected, found=bool(exact) or edits <= max_edits, match=match, engines_exact=exact)


def find_in_creative(
    expected: str,
    creative: Creative,
    ocr: OcrResult,
    max_edits: int = 0,
    element: str | None = None,
    font: str | None = None,
    faces: Sequence[str] = (),
) -> Finding:
    """Where brandgate placed `element` and it holds `expected`, the image is compared with the
    placed text rendered as compositing drew it; otherwise `find_required` on the OCR reading,
    then, when missing, a closer look (both engines over the enlarged region where part of it
    was read) and a second look with Tesseract over the whole page. Text OCR found exactly is
    then judged by its glyphs in whichever of `faces` fits its lines (`policies.typefaces`):
    a look-alike the engines read through fails it."""
    placed = judge_placed_text(expected, creative, element) if element and max_edits == 0 else None
    if placed is not None:
        lines = [p for p in placed_lines(creative) if p.element == element]
        doubtful = [line for line, g in zip(lines, placed, strict=True) if g.matches and g.worst > DOUBTFUL_GLYPH]
        misread = _misread_lines(creative, doubtful)
        placed = tuple(_forgive_background(creative, line, g) for line, g in zip(lines, placed, strict=True))
        if all(g.matches for g in placed) and not misread:
            return Finding(expected, True, Match("glyphs", 1.0, expected), (), "placed glyphs", placed)
        # Name what a reader would read there: RapidOCR on the placed lines' own boxes.
        readings = read_placed_lines(creative)
        read = " ".join(readings.get(line.box, "") for line in lines).strip()
        match = best_match(expected, {RAPIDOCR: read}, placed[0].font) if read else None
        judged_by = "placed glyphs + reading" if misread and all(g.matches for g in placed) else "placed glyphs"
        return Finding(expected, False, match, (), judged_by, placed)
    finding = _read_anywhere(expected, creative, ocr, max_edits, font)
    if not finding.found or max_edits or not faces:
        return finding
    judged = tuple(
        judge_line(creative, box, part, faces, readings) for box, part, readings in _lines_holding(expected, ocr)
    )
    if any(line.differs for line in judged):
        return Finding(
            expected, False, finding.match, finding.engines_exact, f"{finding.judged_by} + glyphs", (), judged
        )
    return Finding(expected, True, finding.match, finding.engines_exact, finding.judged_by, (), judged)


def _read_anywhere(expected: str, creative: Creative, ocr: OcrResult, max_edits: int, font: str | None) -> Finding:
    finding = find_required(expected, ocr, max_edits, font)
    if finding.found:
        return finding
    region = _partly_read_region(expected, ocr)
    if region is not None and region[1] >= READ_CLEARLY_PX and _read_alike_otherwise(expected, ocr, font):
        # Both engines read every letter of it, the same other way, at a size they read well:
        # an enlarged or second look reads the same pixels the same way (a misspelt headline).
        return finding
    if region is not None:
        closer = find_required(expected, read_closer(creative, *region), max_edits, font)
        if closer.found:
            return Finding(expected, True, closer.match, closer.engines_exact, "ocr, enlarged region")
    second = find_required(expected, read_page_with_tesseract(creative), max_edits, font)
    if second.found:
        return Finding(expected, True, second.match, ("tesseract-page",))
    return finding


# Text whose lines are at least this tall is read at full strength at the detector's side (29 px
# after its scaling of a 1024-px creative) and is not enlarged by the closer look; smaller print
# (or a box merged over two lines of it) may still gain from that look.
READ_CLEARLY_PX = CLOSER_LINE_PX


def _read_alike_otherwise(expected: str, ocr: OcrResult, font: str | None) -> bool:
    """The engines read `expected` at its full length within one line, letter for letter as
    the same other text: nothing was lost to detection (that shortens a reading), and engines
    that agree on the same different letters are not all misreading them. An engine that read
    nothing like the text there abstains; a lone reading decides only when its engine is sure
    of every line it read it in (SURE_ALONE)."""
    target = normalise(expected)
    agreed: dict[str, str] = {}
    for engine in ocr.engines:
        match = best_match(expected, {engine: ocr.text(engine)}, font)
        if match is None or match.similarity < ABSTAINS_BELOW:
            continue
        if match.similarity < READ_ALIKE_SIMILARITY:
            return False  # a reading half like it: the engines do not agree on what is there
        read = normalise(match.read)
        if not any(read in normalise(r.text) for line in ocr.lines if (r := line.reading(engine))):
            # Across lines: a word lost at the end of one line has the next line's in its place.
            return False
        agreed[engine] = read
    readings = set(agreed.values())
    if len(readings) != 1 or len(next(iter(readings))) != len(target):
        return False
    if len(agreed) >= 2:
        return True
    (engine,) = agreed
    holding = {box for box, _, _ in _lines_holding(expected, ocr)}
    confidences = [r.confidence for line in ocr.lines if line.box in holding and (r := line.reading(engine))]
    return bool(confidences) and min(confidences) >= SURE_ALONE


# ...the reading they agree on is this close to the text (a letter or three changed); an
# engine whose closest reading is under ABSTAINS_BELOW read nothing like it there.
READ_ALIKE_SIMILARITY = 0.75
ABSTAINS_BELOW = 0.5
# A single engine's reading decides only at this confidence (RapidOCR scores clean lines of a
# 40 px headline 0.95–1.00).
SURE_ALONE = 0.9


def _lines_holding(expected: str, ocr: OcrResult) -> list[tuple[Box, str, tuple[str, ...]]]:
    """The OCR'd lines that hold a stretch of `expected` (as PART_MIN_CHARS and PART_EDIT_SHARE
    say), each with that stretch as written and the engines' readings of the line."""
    out = []
    for line in ocr.lines:
        texts = tuple(line.texts().values())
        for text in texts:
            aligned = aligned_stretch(expected, text)
            if aligned is None:
                continue
            cost, part = aligned
            if len(normalise(part)) >= PART_MIN_CHARS and cost <= PART_EDIT_SHARE * len(normalise(part)):
                out.append((line.box, part, texts))
                break
    return out


# A line holds part of a required text when at least this many of its letters and digits are
# read, with at most PART_EDIT_SHARE of them differing from the text's closest stretch.
PART_MIN_CHARS = 4
PART_EDIT_SHARE = 0.25


# ...or, for the closer look, when its reading shares a stretch of this share of the text's
# letters (a line that ends with the first words of a disclaimer whose rest was not read).
PART_SHARED_SHARE = 0.3


def _longest_common(a: str, b: str) -> int:
    return SequenceMatcher(None, a, b, autojunk=False).find_longest_match(0, len(a), 0, len(b)).size


def _partly_read_region(expected: str, ocr: OcrResult) -> tuple[Box, float] | None:
    """Where the lines that hold part of `expected` (or share a good stretch of it) are, with
    room for the words a detector lost around them (a line height above and below, two at
    either end), and their median height; None when no line does."""
    target = normalise(expected)
    shared = min(len(target), max(PART_MIN_CHARS, round(PART_SHARED_SHARE * len(target))))
    boxes = [box for box, _, _ in _lines_holding(expected, ocr)]
    for line in ocr.lines:
        if line.box not in boxes and any(
            _longest_common(normalise(text), target) >= shared for text in line.texts().values()
        ):
            boxes.append(line.box)
    if not boxes:
        return None
    heights = sorted(b[3] - b[1] for b in boxes)
    line_px = float(max(1, heights[len(heights) // 2]))
    pad_x, pad_y = round(2 * line_px), round(1.5 * line_px)
    region = (
        min(b[0] for b in boxes) - pad_x,
        min(b[1] for b in boxes) - pad_y,
        max(b[2] for b in boxes) + pad_x,
        max(b[3] for b in boxes) + pad_y,
    )
    return region, line_px


# A placed line whose worst glyph differs by more than this share (but not by GLYPH_MISMATCH)
# is doubtful: clean lines measure 0 untouched and up to 0.10 after JPEG at quality 60, while a
# changed letter of similar shape in small body text (e→a at 20 px: 0.08; l→f at 20 px, e→a
# at 26 px: 0.13–0.16) stays under the mismatch bar. A doubtful line is read by RapidOCR from
# its box, and a reading that is not the line's text (glyph-aware in its font) fails it.
DOUBTFUL_GLYPH = 0.06


# A placed line whose worst glyph differs by more than GLYPH_MISMATCH but at most this share
# (clean lines over the light parts of a photograph upscaled threefold measure up to 0.19; a
# visible look-alike swap 0.20 and more, a changed letter usually more) is judged by its
# reading and its look-alikes: `_forgive_background`.
MARGINAL_GLYPH = 0.3


def _forgive_background(creative: Creative, line: PlacedLine, judged: GlyphComparison) -> GlyphComparison:
    """`judged`, marked as matching where its glyphs differ only marginally (MARGINAL_GLYPH),
    RapidOCR reads the line exactly as its text, and no visible look-alike of the glyphs around
    the one that differs (`typefaces.single_swaps`) fits the image any better: the difference is
    the picture under the text, not a glyph. A look-alike that fits better keeps it failing."""
    if judged.matches or judged.worst > MARGINAL_GLYPH or judged.worst_index < 0:
        return judged
    read = read_placed_lines(creative).get(line.box)
    match = best_match(line.text, {RAPIDOCR: read}, line.font) if read else None
    if match is None or not match.exact:
        return judged
    for variant, a, b in single_swaps(line.text, judged.worst_index):
        if len(a) == len(b) == 1 and renders_same(a, b, line.font):
            continue
        shown = compare_at(creative.rgb, variant, line.font, line.size, line.origin)
        if shown is not None and shown.worst < judged.worst:
            return judged
    at = judged.text[judged.worst_index]
    return replace(judged, forgiven=f"{at!r} differs marginally, read exactly, and no look-alike of it fits better")


def _misread_lines(creative: Creative, lines: Sequence[PlacedLine]) -> list[PlacedLine]:
    """Those of the placed `lines` whose RapidOCR reading is not their text."""
    if not lines:
        return []
    readings = read_placed_lines(creative)
    out = []
    for line in lines:
        read = readings.get(line.box)
        if read is None:
            continue  # not read (no engine): the glyphs, which matched, stand
        match = best_match(line.text, {RAPIDOCR: read}, line.font)
        if match is None or not match.exact:
            out.append(line)
    return out


def judge_placed_text(expected: str, creative: Creative, element: str) -> tuple[GlyphComparison, ...] | None:
    """Each placed line of `element` against its rendering, when brandgate placed `element`
    with `expected` in it; None when it did not, or a line cannot be judged (no contrast)."""
    lines = [p for p in placed_lines(creative) if p.element == element]
    if not lines or normalise(expected) not in normalise(" ".join(p.text for p in lines)):
        return None
    judged = []
    for line in lines:
        comparison = judge_placed(creative.rgb, line.text, line.font, line.size, line.origin)
        if comparison is None:
            return None
        judged.append(comparison)
    return tuple(judged)


def expected_texts(brief: Brief | None, kit: Kit) -> tuple[str, ...]:
    """All text the brief and kit ask for (headline, disclaimers) and the words of the kit's
    logos: what Tesseract need not re-read where RapidOCR read it exactly."""
    texts = [*kit.spec.required_disclaimers]
    if brief is not None:
        texts += [t for t in (brief.headline, brief.disclaimer) if t]
    for variant in kit.spec.logos:
        texts += list(logo_wordmark(kit.logo_path(variant)))
    return tuple(dict.fromkeys(texts))


def font_for(brief: Brief | None, kit: Kit, role: str) -> str | None:
    """The kit font the brief's layout sets `role` ("headline" or "body") in, when readable."""
    try:
        layout = kit.layout(brief.layout if brief is not None else None)
        name = layout.headline_font if role == "headline" else layout.body_font
        return str(kit.font_path(name))
    except Exception:  # a kit without that font or layout: compare without glyph knowledge
        return None


def agreement_confidence(finding: Finding, ocr: OcrResult) -> float:
    """Higher when every engine that ran agrees with the outcome."""
    ran = max(1, len(ocr.engines))
    if finding.found:
        return 0.9 + 0.09 * len(finding.engines_exact) / ran
    return 0.8 + 0.19 * (ran - len(finding.engines_exact)) / ran


_wordmarks: dict[tuple[str, int], tuple[str, ...]] = {}
_wordmarks_lock = threading.Lock()


def logo_wordmark(path: Path) -> tuple[str, ...]:
    """The words written in a logo file, read once per file version and remembered."""
    try:
        key = (str(path), path.stat().st_mtime_ns)
    except OSError:
        return ()
    with _wordmarks_lock:
        if key in _wordmarks:
            return _wordmarks[key]
    words: tuple[str, ...] = ()
    try:
        with Image.open(path) as image:
            rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        rgb = np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8)
        result = recognise(rgb)
        words = tuple(dict.fromkeys(text for line in result.lines for text in line.texts().values()))
    except (OSError, ValueError):
        words = ()
    with _wordmarks_lock:
        _wordmarks[key] = words
    return words

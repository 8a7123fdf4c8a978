"""Reading the text in a creative with two OCR engines, once per creative, shared by the checks.

RapidOCR (PP-OCR ONNX models shipped inside the `rapidocr` wheel) finds the text lines and
reads them; it is strong on busy photographic backgrounds but drops spaces and confuses O and 0.
Tesseract then reads the same lines from tight, binarised crops, which makes it as good as it
is on flat backgrounds everywhere. Each `TextLine` carries both readings, so a check can accept
a line when either engine read it right and distrust text that neither explains.

Without RapidOCR (not installed, failed to load) Tesseract reads the whole image instead; without
Tesseract the lines carry RapidOCR's reading only. `OcrResult.errors` says what was missing, and
a check with no engine at all reports `error`, never `pass`.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray

from policies.check import Outcome
from policies.rendered_text import otsu_split
from policies.text_match import normalise

if TYPE_CHECKING:
    from policies.creative import Creative

log = logging.getLogger(__name__)

RAPIDOCR = "rapidocr"
TESSERACT = "tesseract"
ENGINES = (RAPIDOCR, TESSERACT)

# RapidOCR's detector sees the image with its longer side at most this long: 1024² creatives
# keep text of 14 px (the kits' smallest) legible; larger sides lose small print, not gain it.
DETECTION_SIDE = 736
# Tesseract reads each line scaled to this height: its models like capitals of 20-40 px.
STRIP_HEIGHT = 56
STRIP_GAP = 28
TESSERACT_TIMEOUT_S = 30.0
MIN_TESSERACT_CONFIDENCE = 30.0
# Where brandgate placed the text, its lines are read from the boxes it drew them in, and the
# rest of the creative (placed text and logo painted out) is searched for other text with the
# detector at this reduced side: text nobody asked for that a reader notices is large enough.
UNPLACED_DETECTION_SIDE = 448

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class Word:
    """One word as an engine read it; `box` is (x0, y0, x1, y1) in creative pixels."""

    text: str
    box: Box
    confidence: float


@dataclass(frozen=True)
class Reading:
    """One engine's reading of one line."""

    engine: str
    text: str
    confidence: float
    words: tuple[Word, ...] = ()


@dataclass(frozen=True)
class TextLine:
    """A line of text found in the creative, with each engine's reading of it."""

    box: Box
    readings: Mapping[str, Reading] = field(default_factory=dict)
    placed: str | None = None  # the element brandgate placed here (headline, disclaimer), if any
    block: int = 0  # the layout block (a column of lines read together) the line belongs to

    def reading(self, engine: str) -> Reading | None:
        found = self.readings.get(engine)
        return found if found is not None and found.text.strip() else None

    def texts(self) -> dict[str, str]:
        """Non-empty readings by engine."""
        return {e: r.text for e, r in self.readings.items() if r.text.strip()}

    @property
    def best(self) -> Reading | None:
        """The most confident non-empty reading (RapidOCR wins ties)."""
        candidates = [r for r in self.readings.values() if r.text.strip()]
        return max(candidates, key=lambda r: (r.confidence, r.engine == RAPIDOCR), default=None)


@dataclass(frozen=True)
class OcrResult:
    """Everything read in one creative, lines in layout order: block by block (the boxes
    brandgate placed, else columns of lines found by geometry), top to bottom inside each, so
    the words of neighbouring elements never interleave. `reading_order` says which."""

    lines: tuple[TextLine, ...]
    engines: tuple[str, ...]
    errors: Mapping[str, str] = field(default_factory=dict)
    duration_ms: float = 0.0
    reading_order: str = "layout"

    @property
    def usable(self) -> bool:
        return bool(self.engines)

    def text(self, engine: str) -> str:
        """One engine's reading of the whole creative, a line per line, block after block."""
        return "\n".join(r.text for line in self.lines if (r := line.reading(engine)) is not None)

    def block_texts(self, engine: str) -> list[str]:
        """One engine's reading of each layout block on its own."""
        blocks: dict[int, list[str]] = {}
        for line in self.lines:
            if (r := line.reading(engine)) is not None:
                blocks.setdefault(line.block, []).append(r.text)
        return ["\n".join(texts) for texts in blocks.values()]

    def texts(self) -> dict[str, str]:
        return {engine: self.text(engine) for engine in self.engines}

    def words(self, engine: str) -> list[Word]:
        return [w for line in self.lines if (r := line.reading(engine)) for w in r.words]

    def not_read(self, what: str) -> Outcome:
        """A text check's outcome when no OCR engine could run: it applies but cannot decide."""
        why = "; ".join(f"{engine}: {error}" for engine, error in sorted(self.errors.items()))
        return Outcome(
            "unverified",
            f"not checked: {what}, no OCR engine could run ({why or 'none installed'})",
            confidence=0.0,
            evidence={"ocr_errors": dict(self.errors)},
        )

    def summary(self) -> dict[str, Any]:
        """Evidence for check results: what each engine read, and what went wrong."""
        out: dict[str, Any] = {"readings": self.texts(), "reading_order": self.reading_order}
        if self.errors:
            out["ocr_errors"] = dict(self.errors)
        return out


def read_text(creative: Creative, expected: Sequence[str] = ()) -> OcrResult:
    """The OCR result of `creative`, computed once however many checks ask, from any thread.

    `expected` is the text the brief and kit ask for (every text check passes the same): a
    line RapidOCR already read as part of it exactly is not read again by Tesseract. Where
    brandgate placed text (`creative.placements`), its lines are read from their boxes.
    """

    def compute() -> OcrResult:
        if placed_lines(creative):
            return recognise_placed(creative, expected)
        return recognise(creative.rgb, expected)

    return creative.shared("ocr", compute)


@dataclass(frozen=True)
class PlacedLine:
    """One line of text as brandgate's compositing drew it."""

    element: str
    text: str
    font: str
    size: float
    origin: tuple[float, float]  # Pillow's top-left anchor, as compositing drew it
    box: Box  # the line's ink box in the creative


def placed_lines(creative: Creative) -> list[PlacedLine]:
    """The text lines brandgate placed in `creative`, from its compositing record; [] when
    there is none (a file checked on its own) or the record predates line origins."""

    def compute() -> list[PlacedLine]:
        from PIL import ImageFont

        out: list[PlacedLine] = []
        for placement in creative.placements:
            lines, origins = placement.get("lines"), placement.get("line_origins")
            font_path, size = placement.get("font"), placement.get("font_px")
            if not lines or not origins or not font_path or not size or len(lines) != len(origins):
                continue
            try:
                font = ImageFont.truetype(str(font_path), size)
            except OSError:
                continue
            for text, (x, y) in zip(lines, origins, strict=True):
                x0, y0, x1, y1 = font.getbbox(str(text))
                box = _clip(
                    (int(x + x0), int(y + y0), int(np.ceil(x + x1)), int(np.ceil(y + y1))),
                    creative.width,
                    creative.height,
                )
                out.append(
                    PlacedLine(
                        str(placement.get("element")), str(text), str(font_path), float(size), (float(x), float(y)), box
                    )
                )
        return out

    return creative.shared("ocr.placed-lines", compute)


def recognise_placed(creative: Creative, expected: Sequence[str] = ()) -> OcrResult:
    """Read a creative whose text brandgate placed. The placed lines are not read again here:
    BG101 and BG102 compare them glyph by glyph with the text rendered as placed, which is
    stricter than any engine's reading (`read_placed_lines` reads them on demand, for a
    message). The rest of the creative, placed text and logo painted out, is searched for other
    text at a reduced detection side; Tesseract re-reads what that finds, in the same painted-out
    pixels."""
    started = time.perf_counter()
    rgb = creative.rgb
    placed = placed_lines(creative)
    errors: dict[str, str] = {}
    engines: list[str] = []
    painted = _paint_out(creative, placed)
    found = _attempt(RAPIDOCR, errors, lambda: _rapid_lines(painted, UNPLACED_DETECTION_SIDE))
    if found is None:
        fallback = recognise(rgb, expected)
        return OcrResult(
            fallback.lines,
            fallback.engines,
            {**fallback.errors, **errors},
            fallback.duration_ms,
            fallback.reading_order,
        )
    engines.append(RAPIDOCR)
    # Read from the pixels the detector saw: a box found at the edge of a painted-out plate on
    # a photograph must not read the placed headline under it as text nobody asked for.
    reread = _attempt(TESSERACT, errors, lambda: _reread(painted, found, lambda line: False))
    if reread is not None:
        engines.append(TESSERACT)
    others = found if reread is None else reread
    lines = [TextLine(box=line.box, placed=line.element) for line in placed]
    return OcrResult(
        lines=tuple(_reading_order([*lines, *others])),
        engines=tuple(engines),
        errors=errors,
        duration_ms=(time.perf_counter() - started) * 1000,
        reading_order="placed boxes",
    )


def read_placed_lines(creative: Creative) -> dict[Box, str]:
    """RapidOCR's reading of each placed line, from its own box (recognition only), once per
    creative: what a check names when a placed line does not look as placed."""

    def compute() -> dict[Box, str]:
        placed = placed_lines(creative)
        try:
            lines = _rapid_read_boxes(creative.rgb, placed)
        except Exception:  # only for a message: a missing engine leaves it out
            return {}
        return {line.box: r.text for line in lines if (r := line.reading(RAPIDOCR)) is not None}

    return creative.shared("ocr.placed-readings", compute)


def _normal(text: str) -> str:
    return normalise(text)


def _paint_out(creative: Creative, placed: list[PlacedLine]) -> NDArray[np.uint8]:
    """The creative with the placed text (its plate too) and the placed logo filled with the
    colour around them, so the detector looks only for text brandgate did not put there."""
    rgb = creative.rgb.copy()
    height, width = rgb.shape[:2]
    regions: list[Box] = []
    for placement in creative.placements:
        # A logo with its clear space; text with its plate (its layout box may hold other text).
        keys = ("clear_zone", "box") if placement.get("element") == "logo" else ("plate_box", "text_box")
        for key in keys:
            value = placement.get(key)
            if value and len(value) == 4:
                regions.append(tuple(int(v) for v in value))  # type: ignore[arg-type]
    for line in placed:
        pad = max(2, (line.box[3] - line.box[1]) // 3)
        x0, y0, x1, y1 = line.box
        regions.append((x0 - pad, y0 - pad, x1 + pad, y1 + pad))
    for x0, y0, x1, y1 in regions:
        x0, y0, x1, y1 = max(0, x0), max(0, y0), min(width, x1), min(height, y1)
        if x1 - x0 < 1 or y1 - y0 < 1:
            continue
        ring = np.concatenate(
            [
                rgb[max(0, y0 - 2) : y0, x0:x1].reshape(-1, 3),
                rgb[y1 : y1 + 2, x0:x1].reshape(-1, 3),
                rgb[y0:y1, max(0, x0 - 2) : x0].reshape(-1, 3),
                rgb[y0:y1, x1 : x1 + 2].reshape(-1, 3),
            ]
        )
        fill = np.median(ring, axis=0) if len(ring) else np.array([128, 128, 128])
        rgb[y0:y1, x0:x1] = fill.astype(np.uint8)
    return rgb


def read_page_with_tesseract(creative: Creative) -> OcrResult:
    """Tesseract alone over the whole creative, once: the second look a check takes before it
    reports required text missing (small print the line detector did not find)."""

    def compute() -> OcrResult:
        strip = _strip_problem(creative.rgb)
        if strip is not None:
            return OcrResult(lines=(), engines=(), errors={TESSERACT: strip})
        started = time.perf_counter()
        try:
            lines = _tesseract_page(creative.rgb)
        except _EngineUnavailable as exc:
            return OcrResult(lines=(), engines=(), errors={TESSERACT: str(exc)})
        return OcrResult(
            lines=tuple(_reading_order(lines)),
            engines=(TESSERACT,),
            duration_ms=(time.perf_counter() - started) * 1000,
        )

    return creative.shared("ocr-tesseract-page", compute)


# The closer look at small print: the region is enlarged until its lines are this tall, at
# most CLOSER_MAX_SCALE times, and the detector sees it whole (at most CLOSER_SIDE pixels).
CLOSER_LINE_PX = 40
CLOSER_MIN_SCALE = 2.0  # a box the detector merged over two lines looks like one tall line
CLOSER_MAX_SCALE = 3.0
CLOSER_SIDE = 1536


def read_closer(creative: Creative, region: Box, line_px: float) -> OcrResult:
    """Both engines over one region of the creative, enlarged so that its lines (about
    `line_px` tall) are CLOSER_LINE_PX (at least twice, at most three times; lines that tall
    already are not enlarged): at the detector's usual resolution a 14 px line of small print
    on a busy photograph can lose a word or two to detection. The boxes are in the creative's
    pixels. A check takes this closer look only where text it requires was read in part,
    before it reports the text missing; a region is read once per creative."""

    def compute() -> OcrResult:
        started = time.perf_counter()
        height, width = creative.height, creative.width
        x0, y0, x1, y1 = _clip(region, width, height)
        # Lines already CLOSER_LINE_PX tall are read at their own size (a box merged over two
        # lines of small print is shorter than that); the detector still sees them closer
        # than across the whole creative.
        least = 1.0 if line_px >= CLOSER_LINE_PX else CLOSER_MIN_SCALE
        scale = float(np.clip(CLOSER_LINE_PX / max(line_px, 1.0), least, CLOSER_MAX_SCALE))
        # Never below 1: the boxes are mapped back by `scale`, and the detector itself
        # shrinks a crop longer than CLOSER_SIDE.
        scale = max(1.0, min(scale, CLOSER_SIDE / max(x1 - x0, y1 - y0, 1)))
        crop = creative.rgb[y0:y1, x0:x1]
        if scale > 1.0:
            size = (round(crop.shape[1] * scale), round(crop.shape[0] * scale))
            crop = np.asarray(cv2.resize(crop, size, interpolation=cv2.INTER_CUBIC), dtype=np.uint8)
        crop = np.ascontiguousarray(crop)
        # The detector sees the enlarged crop at its own size (it only ever scales down).
        zoomed = recognise(crop, (), CLOSER_SIDE)
        lines = [
            TextLine(
                box=_clip(_unzoom(line.box, scale, x0, y0), width, height),
                readings={
                    engine: Reading(
                        r.engine,
                        r.text,
                        r.confidence,
                        tuple(Word(w.text, _unzoom(w.box, scale, x0, y0), w.confidence) for w in r.words),
                    )
                    for engine, r in line.readings.items()
                },
            )
            for line in zoomed.lines
        ]
        return OcrResult(
            lines=tuple(_reading_order(lines)),
            engines=zoomed.engines,
            errors=zoomed.errors,
            duration_ms=(time.perf_counter() - started) * 1000,
            reading_order="layout, enlarged region",
        )

    return creative.shared(f"ocr-closer-{region}-{round(line_px)}", compute)


def _unzoom(box: Box, scale: float, x0: int, y0: int) -> Box:
    bx0, by0, bx1, by1 = box
    return (
        x0 + int(bx0 / scale),
        y0 + int(by0 / scale),
        x0 + int(np.ceil(bx1 / scale)),
        y0 + int(np.ceil(by1 / scale)),
    )


# A picture longer than this many times its width (or the other way) is a strip no engine reads:
# scaled for detection its short side is under a pixel, and Tesseract refuses it.
MAX_READABLE_ASPECT = 50


def _strip_problem(rgb: NDArray[np.uint8]) -> str | None:
    height, width = rgb.shape[:2]
    if max(height, width) > MAX_READABLE_ASPECT * max(1, min(height, width)):
        return f"the image is {width}x{height} pixels, a strip too narrow to read text in"
    return None


def recognise(rgb: NDArray[np.uint8], expected: Sequence[str] = (), detection_side: int = DETECTION_SIDE) -> OcrResult:
    """Run both engines on an H×W×3 uint8 RGB image; Tesseract re-reads every line RapidOCR
    found except those RapidOCR read as an exact part of an `expected` text."""
    strip = _strip_problem(rgb)
    if strip is not None:
        return OcrResult(lines=(), engines=(), errors={RAPIDOCR: strip, TESSERACT: strip})
    started = time.perf_counter()
    errors: dict[str, str] = {}
    engines: list[str] = []
    found = _attempt(RAPIDOCR, errors, lambda: _rapid_lines(rgb, detection_side))
    lines: list[TextLine] = found or []
    if found is not None:
        engines.append(RAPIDOCR)
    if found is not None:
        wanted = [w for w in (_normal(t) for t in expected) if w]
        reread = _attempt(TESSERACT, errors, lambda: _reread(rgb, lines, lambda line: _read_as_expected(line, wanted)))
    else:
        reread = _attempt(TESSERACT, errors, lambda: _tesseract_page(rgb))
    if reread is not None:
        lines = reread
        engines.append(TESSERACT)
    return OcrResult(
        lines=tuple(_reading_order(lines)),
        engines=tuple(engines),
        errors=errors,
        duration_ms=(time.perf_counter() - started) * 1000,
    )


def _reread(rgb: NDArray[np.uint8], lines: list[TextLine], exempt: Callable[[TextLine], bool]) -> list[TextLine]:
    """The lines with Tesseract's reading added, except those `exempt` says need none. The
    engine is looked up even when no line needs it, so that a missing one is reported."""
    _tesseract()
    out = list(lines)
    needs = [i for i, line in enumerate(lines) if not exempt(line)]
    if needs:
        for i, line in zip(needs, _tesseract_on_lines(rgb, [lines[i] for i in needs]), strict=True):
            out[i] = line
    return out


def _read_as_expected(line: TextLine, wanted: list[str]) -> bool:
    """RapidOCR read the line as an exact stretch of an expected text (at least 4 letters), or
    of two run together (the brief's disclaimer followed on its line by the kit's)."""
    reading = line.reading(RAPIDOCR)
    if reading is None:
        return False
    read = _normal(reading.text)
    if len(read) < 4:
        return False
    return any(read in w for w in wanted) or any(read in a + b for a in wanted for b in wanted if a != b)


class _EngineUnavailable(RuntimeError):
    pass


T = TypeVar("T")


def _attempt(engine: str, errors: dict[str, str], read: Callable[[], T]) -> T | None:
    """`read()`, or None with what went wrong noted in `errors`: a missing or broken engine must
    not hide the other one's reading."""
    try:
        return read()
    except _EngineUnavailable as exc:
        errors[engine] = str(exc)
    except Exception as exc:
        log.exception("%s failed", engine)
        errors[engine] = f"{type(exc).__name__}: {exc}"
    return None


# ---- RapidOCR -----------------------------------------------------------------------------

_rapid_engine: Any = None
_rapid_load_error: str | None = None
_rapid_load_lock = threading.Lock()
# RapidOCR keeps per-call state in its pipeline objects; onnxruntime already uses every core
# inside one call, so serialising calls costs nothing on a small machine and keeps it safe.
_rapid_call_lock = threading.Lock()


def _rapid() -> Any:
    """The one RapidOCR engine of this process (its models load on first use). Callers set
    the detection side for their call under `_rapid_call_lock` (`_detect_at`): one set of
    models serves the whole-creative, unplaced-text and closer looks alike."""
    global _rapid_engine, _rapid_load_error
    with _rapid_load_lock:
        engine = _rapid_engine
        if engine is None and _rapid_load_error is None:
            try:
                from rapidocr import RapidOCR

                engine = _rapid_engine = RapidOCR(
                    params={
                        "Global.log_level": "error",
                        "Global.use_cls": False,
                        "Det.limit_type": "max",
                        "Det.limit_side_len": DETECTION_SIDE,
                        # The default 0.5 loses a lone line of small print near an edge;
                        # recognition's own score still drops what is not text.
                        "Det.box_thresh": 0.3,
                    }
                )
            except Exception as exc:
                _rapid_load_error = f"RapidOCR could not be loaded ({type(exc).__name__}: {exc})"
        if engine is None:
            raise _EngineUnavailable(_rapid_load_error or "RapidOCR is not available")
        return engine


def _rapid_read_boxes(rgb: NDArray[np.uint8], placed: list[PlacedLine]) -> list[TextLine]:
    """RapidOCR's recognition alone on each placed line's box (no detection needed)."""
    if not placed:
        return []
    from rapidocr.ch_ppocr_rec.typings import TextRecInput

    engine = _rapid()
    height, width = rgb.shape[:2]
    crops = []
    for line in placed:
        x0, y0, x1, y1 = line.box
        pad = max(2, (y1 - y0) // 4)
        crop = rgb[max(0, y0 - pad) : min(height, y1 + pad), max(0, x0 - pad) : min(width, x1 + pad)]
        crops.append(np.ascontiguousarray(crop[:, :, ::-1]))
    with _rapid_call_lock:
        # Recognition alone, all lines in one batch; RapidOCR loads its models on first use.
        recogniser = engine._load_rec_model()
        result = recogniser(TextRecInput(img=crops, return_word_box=False))
    texts = list(result.txts or ())
    scores = list(result.scores or ())
    out = []
    for i, line in enumerate(placed):
        text = str(texts[i]) if i < len(texts) else ""
        score = float(scores[i]) if i < len(scores) else 0.0
        out.append(TextLine(box=line.box, readings={RAPIDOCR: Reading(RAPIDOCR, text, score)}, placed=line.element))
    return out


def _rapid_lines(rgb: NDArray[np.uint8], detection_side: int = DETECTION_SIDE) -> list[TextLine]:
    engine = _rapid()
    # RapidOCR expects OpenCV's BGR order for arrays.
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    with _rapid_call_lock:
        # The detector reads its longer-side limit on each call.
        engine._load_det_model().limit_side_len = detection_side
        result = engine(bgr, return_word_box=True, use_cls=False)
    boxes = getattr(result, "boxes", None)
    if boxes is None or len(boxes) == 0:
        return []
    texts = list(result.txts or ())
    scores = list(result.scores or ())
    word_results = list(getattr(result, "word_results", None) or ())
    height, width = rgb.shape[:2]
    lines = []
    for i, quad in enumerate(boxes):
        text = str(texts[i]) if i < len(texts) else ""
        words: list[Word] = []
        if i < len(word_results):
            for entry in word_results[i]:
                if len(entry) >= 3 and str(entry[0]).strip():
                    words.append(Word(str(entry[0]), _quad_box(entry[2], width, height), float(entry[1])))
        score = float(scores[i]) if i < len(scores) else 0.0
        reading = Reading(RAPIDOCR, text, score, tuple(words))
        lines.append(TextLine(box=_quad_box(quad, width, height), readings={RAPIDOCR: reading}))
    return _split_at_gaps(rgb, lines)


# A detected line with a gap wider than this many line heights holds two elements side by side
# (a disclaimer's line level with the logo's word): each part is read on its own.
SPLIT_GAP_HEIGHTS = 1.5


def _split_at_gaps(rgb: NDArray[np.uint8], lines: list[TextLine]) -> list[TextLine]:
    """Lines split where their ink has a gap of SPLIT_GAP_HEIGHTS line heights, each part
    re-read by RapidOCR's recognition alone."""
    out: list[TextLine] = []
    pieces: list[Box] = []
    for line in lines:
        parts = _parts(rgb, line.box)
        if len(parts) < 2:
            out.append(line)
        else:
            pieces.extend(parts)
    if not pieces:
        return lines
    fake = [PlacedLine("", "", "", 0.0, (0.0, 0.0), box) for box in pieces]
    out.extend(TextLine(box=line.box, readings=line.readings) for line in _rapid_read_boxes(rgb, fake))
    return out


def _parts(rgb: NDArray[np.uint8], box: Box) -> list[Box]:
    x0, y0, x1, y1 = box
    h = max(1, y1 - y0)
    if x1 - x0 < 4 * h:
        return [box]
    ink = _text_mask_grey(rgb[y0:y1, x0:x1]) == 0
    columns = ink.any(axis=0)
    parts: list[Box] = []
    start: int | None = None
    gap = 0
    last_ink = -1
    for x, inked in enumerate(columns):
        if inked:
            if start is None:
                start = x
            elif gap > SPLIT_GAP_HEIGHTS * h:
                parts.append((x0 + start, y0, x0 + last_ink + 1, y1))
                start = x
            gap = 0
            last_ink = x
        else:
            gap += 1
    if start is not None:
        parts.append((x0 + start, y0, x0 + last_ink + 1, y1))
    return parts if len(parts) > 1 else [box]


def _quad_box(quad: Any, width: int, height: int) -> Box:
    points = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
    x0, y0 = points.min(axis=0)
    x1, y1 = points.max(axis=0)
    return (
        int(max(0, np.floor(x0))),
        int(max(0, np.floor(y0))),
        int(min(width, np.ceil(x1))),
        int(min(height, np.ceil(y1))),
    )


# ---- Tesseract ----------------------------------------------------------------------------

_tesseract_checked: str | None = None
_tesseract_error: str | None = None
_tesseract_lock = threading.Lock()


def _tesseract() -> str:
    global _tesseract_checked, _tesseract_error
    with _tesseract_lock:
        if _tesseract_checked is None and _tesseract_error is None:
            found = shutil.which("tesseract")
            if found is None:
                _tesseract_error = "tesseract is not installed (Debian: tesseract-ocr tesseract-ocr-eng)"
            else:
                _tesseract_checked = found
        if _tesseract_checked is None:
            raise _EngineUnavailable(_tesseract_error or "tesseract is not available")
        return _tesseract_checked


def _run_tesseract(grey: NDArray[np.uint8], psm: int, dark_on_light: bool = False) -> list[dict[str, str]]:
    """Tesseract's TSV word table for one greyscale image, through the CLI (it releases the GIL)."""
    binary = _tesseract()
    ok, encoded = cv2.imencode(".png", grey)
    if not ok:
        raise RuntimeError("could not encode the image for tesseract")
    # One thread per tesseract: the checks already keep both cores busy.
    env = {**os.environ, "OMP_THREAD_LIMIT": "1"}
    # Our binarised strips are black on white already: skip tesseract's second, inverted pass.
    invert = ["-c", "tessedit_do_invert=0"] if dark_on_light else []
    proc = subprocess.run(
        [binary, "stdin", "stdout", "-l", "eng", "--psm", str(psm), *invert, "tsv"],
        input=encoded.tobytes(),
        capture_output=True,
        timeout=TESSERACT_TIMEOUT_S,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        detail = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise RuntimeError(f"tesseract exited {proc.returncode}: {detail[-1] if detail else ''}")
    rows = proc.stdout.decode("utf-8", "replace").splitlines()
    if not rows:
        return []
    header = rows[0].split("\t")
    table = []
    for row in rows[1:]:
        cells = row.split("\t")
        if len(cells) == len(header):
            table.append(dict(zip(header, cells, strict=True)))
    return table


def _text_mask_grey(crop: NDArray[np.uint8]) -> NDArray[np.uint8]:
    """Black text on white for one line crop; the class filling the crop's border is the background."""
    above = otsu_split(crop)
    if above is None:
        return np.full(crop.shape[:2], 255, np.uint8)
    border = np.concatenate([above[0], above[-1], above[:, 0], above[:, -1]])
    background_is_light = border.mean() >= 0.5
    text = ~above if background_is_light else above
    return np.where(text, 0, 255).astype(np.uint8)


def _tesseract_on_lines(rgb: NDArray[np.uint8], lines: list[TextLine]) -> list[TextLine]:
    """Tesseract reads every detected line from one stitched image of binarised line crops."""
    _tesseract()
    if not lines:
        return lines
    height, width = rgb.shape[:2]
    strips: list[NDArray[np.uint8]] = []
    placements: list[tuple[int, float, int, int]] = []  # strip top, scale, crop x0, crop y0
    y = STRIP_GAP
    for line in lines:
        x0, y0, x1, y1 = line.box
        pad = max(2, (y1 - y0) // 5)
        cx0, cy0 = max(0, x0 - pad), max(0, y0 - pad)
        cx1, cy1 = min(width, x1 + pad), min(height, y1 + pad)
        crop = rgb[cy0:cy1, cx0:cx1]
        if crop.shape[0] < 4 or crop.shape[1] < 4:
            strips.append(np.full((STRIP_HEIGHT, 8), 255, np.uint8))
            placements.append((y, 1.0, cx0, cy0))
            y += STRIP_HEIGHT + STRIP_GAP
            continue
        scale = STRIP_HEIGHT / crop.shape[0]
        resized = cv2.resize(
            crop,
            (max(1, round(crop.shape[1] * scale)), STRIP_HEIGHT),
            interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA,
        )
        strips.append(_text_mask_grey(np.asarray(resized, dtype=np.uint8)))
        placements.append((y, scale, cx0, cy0))
        y += STRIP_HEIGHT + STRIP_GAP
    canvas = np.full((y, max(s.shape[1] for s in strips) + 2 * STRIP_GAP), 255, np.uint8)
    for strip, (top, _, _, _) in zip(strips, placements, strict=True):
        canvas[top : top + STRIP_HEIGHT, STRIP_GAP : STRIP_GAP + strip.shape[1]] = strip
    words_per_line: list[list[Word]] = [[] for _ in lines]
    for row in _run_tesseract(canvas, psm=6, dark_on_light=True):
        word = _tsv_word(row)
        if word is None:
            continue
        text, (left, top, w, h), conf = word
        middle = top + h / 2
        index = int((middle - STRIP_GAP / 2) // (STRIP_HEIGHT + STRIP_GAP))
        if not 0 <= index < len(lines):
            continue
        strip_top, scale, cx0, cy0 = placements[index]
        box = (
            int(cx0 + (left - STRIP_GAP) / scale),
            int(cy0 + (top - strip_top) / scale),
            int(np.ceil(cx0 + (left - STRIP_GAP + w) / scale)),
            int(np.ceil(cy0 + (top - strip_top + h) / scale)),
        )
        words_per_line[index].append(Word(text, _clip(box, width, height), conf / 100.0))
    out = []
    for line, words in zip(lines, words_per_line, strict=True):
        words.sort(key=lambda w: w.box[0])
        text = " ".join(w.text for w in words)
        confidence = float(np.mean([w.confidence for w in words])) if words else 0.0
        readings = dict(line.readings)
        readings[TESSERACT] = Reading(TESSERACT, text, confidence, tuple(words))
        out.append(TextLine(box=line.box, readings=readings, placed=line.placed))
    return out


def _tesseract_page(rgb: NDArray[np.uint8]) -> list[TextLine]:
    """Tesseract alone over the whole image (sparse text mode), grouped into its own lines."""
    grey = np.asarray(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8)
    height, width = grey.shape
    grouped: dict[tuple[str, str, str], list[Word]] = {}
    for row in _run_tesseract(grey, psm=11):
        word = _tsv_word(row)
        if word is None:
            continue
        text, (left, top, w, h), conf = word
        key = (row.get("block_num", ""), row.get("par_num", ""), row.get("line_num", ""))
        grouped.setdefault(key, []).append(
            Word(text, _clip((left, top, left + w, top + h), width, height), conf / 100.0)
        )
    lines = []
    for words in grouped.values():
        words.sort(key=lambda w: w.box[0])
        box = (
            min(w.box[0] for w in words),
            min(w.box[1] for w in words),
            max(w.box[2] for w in words),
            max(w.box[3] for w in words),
        )
        text = " ".join(w.text for w in words)
        confidence = float(np.mean([w.confidence for w in words]))
        lines.append(TextLine(box=box, readings={TESSERACT: Reading(TESSERACT, text, confidence, tuple(words))}))
    return lines


def _tsv_word(row: Mapping[str, str]) -> tuple[str, tuple[int, int, int, int], float] | None:
    if row.get("level") != "5":
        return None
    text = row.get("text", "").strip()
    try:
        conf = float(row.get("conf", "-1"))
        geometry = (int(row["left"]), int(row["top"]), int(row["width"]), int(row["height"]))
    except (KeyError, ValueError):
        return None
    if not text or conf < MIN_TESSERACT_CONFIDENCE:
        return None
    return text, geometry, conf


def _clip(box: Box, width: int, height: int) -> Box:
    x0, y0, x1, y1 = box
    return max(0, x0), max(0, y0), min(width, max(x1, x0 + 1)), min(height, max(y1, y0 + 1))


def _reading_order(lines: list[TextLine]) -> list[TextLine]:
    """Layout order: lines grouped into blocks, blocks top to bottom then left to right, lines
    top to bottom inside each block. Placed lines form one block per placed element; other lines
    join a block when they sit under its last line (vertical gap under 1.2 line heights),
    overlap it horizontally and are of similar height (within 2×): a wrapped disclaimer beside a logo is one
    block and the logo's word another, so their words never interleave."""
    if not lines:
        return lines
    blocks: list[list[TextLine]] = []
    by_element: dict[str, list[TextLine]] = {}
    loose = []
    for line in lines:
        if line.placed is not None:
            by_element.setdefault(line.placed, []).append(line)
        else:
            loose.append(line)
    blocks.extend(sorted(group, key=lambda ln: (ln.box[1], ln.box[0])) for group in by_element.values())
    for line in sorted(loose, key=lambda ln: (ln.box[1], ln.box[0])):
        home = next((b for b in blocks if b[-1].placed is None and _continues(b[-1], line)), None)
        if home is None:
            blocks.append([line])
        else:
            home.append(line)
    heights = sorted(max(1, line.box[3] - line.box[1]) for line in lines)
    row = max(1.0, heights[len(heights) // 2] / 2)
    blocks.sort(key=lambda b: (round(b[0].box[1] / row), b[0].box[0]))
    out: list[TextLine] = []
    for number, block in enumerate(blocks):
        out.extend(TextLine(ln.box, ln.readings, ln.placed, number) for ln in block)
    return out


def _continues(above: TextLine, line: TextLine) -> bool:
    """`line` is the next line of the block whose last line is `above`."""
    ax0, ay0, ax1, ay1 = above.box
    bx0, by0, bx1, by1 = line.box
    ha, hb = max(1, ay1 - ay0), max(1, by1 - by0)
    if max(ha, hb) / min(ha, hb) > 2.0:
        return False
    gap = by0 - ay1
    if gap < -0.5 * min(ha, hb) or gap > 1.2 * max(ha, hb):
        return False
    overlap = min(ax1, bx1) - max(ax0, bx0)
    return overlap > 0 or abs(ax0 - bx0) <= max(ha, hb)

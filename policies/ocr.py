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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
from numpy.typing import NDArray

from policies.check import Outcome

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
    """Everything read in one creative, lines in reading order (top to bottom, left to right)."""

    lines: tuple[TextLine, ...]
    engines: tuple[str, ...]
    errors: Mapping[str, str] = field(default_factory=dict)
    duration_ms: float = 0.0

    @property
    def usable(self) -> bool:
        return bool(self.engines)

    def text(self, engine: str) -> str:
        """One engine's reading of the whole creative, a line per line."""
        return "\n".join(r.text for line in self.lines if (r := line.reading(engine)) is not None)

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
        out: dict[str, Any] = {"readings": self.texts()}
        if self.errors:
            out["ocr_errors"] = dict(self.errors)
        return out


def read_text(creative: Creative) -> OcrResult:
    """The OCR result of `creative`, computed once however many checks ask, from any thread."""
    return creative.shared("ocr", lambda: recognise(creative.rgb))


def read_page_with_tesseract(creative: Creative) -> OcrResult:
    """Tesseract alone over the whole creative, once: the second look a check takes before it
    reports required text missing (small print the line detector did not find)."""

    def compute() -> OcrResult:
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


def recognise(rgb: NDArray[np.uint8]) -> OcrResult:
    """Run both engines on an H×W×3 uint8 RGB image."""
    started = time.perf_counter()
    errors: dict[str, str] = {}
    engines: list[str] = []
    lines: list[TextLine] = []
    try:
        lines = _rapid_lines(rgb)
        engines.append(RAPIDOCR)
    except _EngineUnavailable as exc:
        errors[RAPIDOCR] = str(exc)
    except Exception as exc:  # a broken engine must not hide the other one's reading
        log.exception("RapidOCR failed")
        errors[RAPIDOCR] = f"{type(exc).__name__}: {exc}"
    try:
        lines = _tesseract_on_lines(rgb, lines) if RAPIDOCR in engines else _tesseract_page(rgb)
        engines.append(TESSERACT)
    except _EngineUnavailable as exc:
        errors[TESSERACT] = str(exc)
    except Exception as exc:
        log.exception("Tesseract failed")
        errors[TESSERACT] = f"{type(exc).__name__}: {exc}"
    return OcrResult(
        lines=tuple(_reading_order(lines)),
        engines=tuple(engines),
        errors=errors,
        duration_ms=(time.perf_counter() - started) * 1000,
    )


class _EngineUnavailable(RuntimeError):
    pass


# ---- RapidOCR -----------------------------------------------------------------------------

_rapid_engine: Any = None
_rapid_load_error: str | None = None
_rapid_load_lock = threading.Lock()
# RapidOCR keeps per-call state in its pipeline objects; onnxruntime already uses every core
# inside one call, so serialising calls costs nothing on a small machine and keeps it safe.
_rapid_call_lock = threading.Lock()


def _rapid() -> Any:
    global _rapid_engine, _rapid_load_error
    with _rapid_load_lock:
        if _rapid_engine is None and _rapid_load_error is None:
            try:
                from rapidocr import RapidOCR

                _rapid_engine = RapidOCR(
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
        if _rapid_engine is None:
            raise _EngineUnavailable(_rapid_load_error or "RapidOCR is not available")
        return _rapid_engine


def _rapid_lines(rgb: NDArray[np.uint8]) -> list[TextLine]:
    engine = _rapid()
    # RapidOCR expects OpenCV's BGR order for arrays.
    bgr = np.ascontiguousarray(rgb[:, :, ::-1])
    with _rapid_call_lock:
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
    return lines


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


def otsu_split(crop: NDArray[np.uint8]) -> NDArray[np.bool_] | None:
    """Otsu's two classes (True = the lighter) on whichever of grey, R, G and B separates them
    best, so red text on a green plate of equal lightness still splits; None when flat."""
    grey = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    best: tuple[float, NDArray[np.bool_]] | None = None
    for channel in (grey, crop[:, :, 0], crop[:, :, 1], crop[:, :, 2]):
        channel = np.ascontiguousarray(channel)
        if int(channel.max()) - int(channel.min()) < 2:
            continue
        threshold, _ = cv2.threshold(channel, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        above = channel > threshold
        share = float(above.mean())
        if share in (0.0, 1.0):
            continue
        spread = share * (1 - share) * (float(channel[above].mean()) - float(channel[~above].mean())) ** 2
        if best is None or spread > best[0]:
            best = (spread, above)
    return None if best is None else best[1]


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
        out.append(TextLine(box=line.box, readings=readings))
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
    """Top to bottom; lines whose vertical middles are within half a line height share a row."""
    if not lines:
        return lines
    heights = sorted(max(1, line.box[3] - line.box[1]) for line in lines)
    row_height = max(1.0, heights[len(heights) // 2] / 2)
    return sorted(lines, key=lambda line: (round((line.box[1] + line.box[3]) / 2 / row_height), line.box[0]))

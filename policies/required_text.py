"""Finding text a brief or kit requires (headline, disclaimers) in what OCR read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from policies.ocr import OcrResult, read_page_with_tesseract
from policies.text_match import Match, best_match, normalise

if TYPE_CHECKING:
    from policies.creative import Creative


@dataclass(frozen=True)
class Finding:
    """The outcome of looking for one required text."""

    expected: str
    found: bool
    match: Match | None
    engines_exact: tuple[str, ...]

    def evidence(self) -> dict[str, Any]:
        return {
            "expected": self.expected,
            "read": self.match.read if self.match else "",
            "similarity": round(self.match.similarity, 3) if self.match else 0.0,
            "engine": self.match.engine if self.match else None,
            "engines_exact": list(self.engines_exact),
        }

    def describe_miss(self, what: str) -> str:
        if self.match is None or not self.match.read:
            return f"{what} {self.expected!r} not found; no text like it was read"
        return f"{what} {self.expected!r} not found; read {self.match.read!r}"


def find_required(expected: str, ocr: OcrResult, max_edits: int = 0) -> Finding:
    """Found when some engine read `expected` with at most `max_edits` letters different."""
    readings = ocr.texts()
    exact = tuple(
        engine for engine, text in readings.items() if (m := best_match(expected, {engine: text})) and m.exact
    )
    match = best_match(expected, readings)
    length = max(1, len(normalise(expected)))
    edits = round((1.0 - match.similarity) * length) if match else length
    return Finding(expected=expected, found=bool(exact) or edits <= max_edits, match=match, engines_exact=exact)


def find_in_creative(expected: str, creative: Creative, ocr: OcrResult, max_edits: int = 0) -> Finding:
    """`find_required`, then, when missing, a second look with Tesseract over the whole page."""
    finding = find_required(expected, ocr, max_edits)
    if finding.found:
        return finding
    second = find_required(expected, read_page_with_tesseract(creative), max_edits)
    if second.found:
        return Finding(expected, True, second.match, ("tesseract-page",))
    return finding


def agreement_confidence(finding: Finding, ocr: OcrResult) -> float:
    """Higher when every engine that ran agrees with the outcome."""
    ran = max(1, len(ocr.engines))
    if finding.found:
        return 0.9 + 0.09 * len(finding.engines_exact) / ran
    return 0.8 + 0.19 * (ran - len(finding.engines_exact)) / ran



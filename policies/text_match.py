"""Comparing what OCR read with what a brief or kit asks for: normalised, space-insensitive.

Case, spaces, line breaks, punctuation and accents are forgiven, and so is the O/0 confusion
RapidOCR makes; letters are not: "Fresh Deels Friday" never matches "Fresh Deals Friday".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass

# Characters OCR engines swap for each other and that marketing copy never tells apart by.
_CONFUSABLES = str.maketrans({"0": "o"})
_TOKEN_SPLIT = re.compile(r"[^\w]+|_+")


def normalise(text: str) -> str:
    """Case-folded letters and digits only, accents dropped, 0 read as o."""
    return "".join(_normal_chars(text)[0])


def _normal_chars(text: str) -> tuple[list[str], list[int]]:
    """The normalised characters and, for each, the index of the original character it came from."""
    chars: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(text):
        decomposed = unicodedata.normalize("NFKD", char)
        for part in decomposed:
            if unicodedata.combining(part):
                continue
            for folded in part.casefold().translate(_CONFUSABLES):
                if folded.isalnum():
                    chars.append(folded)
                    origin.append(index)
    return chars, origin


def tokens(text: str) -> list[str]:
    """Words of `text`, each normalised; punctuation and spacing split them."""
    return [t for t in (normalise(part) for part in _TOKEN_SPLIT.split(text)) if t]


@dataclass(frozen=True)
class Match:
    """How well `expected` was found in one engine's reading."""

    engine: str
    similarity: float  # 1.0 is an exact (normalised) match
    read: str  # the stretch of the original reading that matched best

    @property
    def exact(self) -> bool:
        return self.similarity >= 1.0


def best_match(expected: str, readings: Mapping[str, str]) -> Match | None:
    """The best match of `expected` in any engine's reading; None when nothing was read."""
    target = normalise(expected)
    best: Match | None = None
    for engine, text in readings.items():
        match = _match_one(target, engine, text)
        if match is not None and (best is None or match.similarity > best.similarity):
            best = match
        if best is not None and best.exact:
            break
    return best


def _match_one(target: str, engine: str, text: str) -> Match | None:
    chars, origin = _normal_chars(text)
    if not chars or not target:
        return None
    haystack = "".join(chars)
    at = haystack.find(target)
    if at >= 0:
        return Match(engine, 1.0, _original(text, origin, at, at + len(target)))
    cost, start, end = _closest_substring(target, haystack)
    similarity = max(0.0, 1.0 - cost / len(target))
    return Match(engine, similarity, _original(text, origin, start, end))


def _original(text: str, origin: list[int], start: int, end: int) -> str:
    if start >= end:
        return ""
    piece = text[origin[start] : origin[end - 1] + 1]
    return " ".join(piece.split())


def _closest_substring(pattern: str, text: str) -> tuple[int, int, int]:
    """Edit distance from `pattern` to its closest substring of `text` (Sellers), with the span."""
    n = len(text)
    previous = [(0, j) for j in range(n + 1)]  # a match may start anywhere in the text for free
    for i in range(1, len(pattern) + 1):
        current = [(i, 0)] * (n + 1)
        p = pattern[i - 1]
        for j in range(1, n + 1):
            diagonal = previous[j - 1]
            up = previous[j]
            left = current[j - 1]
            substitute = diagonal[0] + (p != text[j - 1])
            cost, start = substitute, diagonal[1]
            if up[0] + 1 < cost:
                cost, start = up[0] + 1, up[1]
            if left[0] + 1 < cost:
                cost, start = left[0] + 1, left[1]
            current[j] = (cost, start)
        previous = current
    end = min(range(n + 1), key=lambda j: (previous[j][0], -j))
    return previous[end][0], previous[end][1], end


def similarity(a: str, b: str) -> float:
    """1 − edit distance / length of the longer, on normalised text."""
    x, y = normalise(a), normalise(b)
    if not x and not y:
        return 1.0
    longest = max(len(x), len(y))
    previous = list(range(len(y) + 1))
    for i in range(1, len(x) + 1):
        current = [i] + [0] * len(y)
        for j in range(1, len(y) + 1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x[i - 1] != y[j - 1]))
        previous = current
    return 1.0 - previous[-1] / longest


def contains_phrase(phrase: str, words: list[str]) -> bool:
    """True when the phrase's words appear consecutively among `words` (both normalised tokens),
    or run together into one word as RapidOCR reads them when it drops the spaces."""
    wanted = tokens(phrase)
    if not wanted:
        return False
    joined = "".join(wanted)
    size = len(wanted)
    for i in range(len(words)):
        if words[i : i + size] == wanted:
            return True
        if size > 1 and words[i] == joined:
            return True
    return False

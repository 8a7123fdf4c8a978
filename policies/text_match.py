"""Comparing what OCR read with what a brief or kit asks for: normalised, space-insensitive.

Case, spaces, line breaks, punctuation and accents are forgiven; letters are not: "Fresh Deels
Friday" never matches "Fresh Deals Friday". Required text (BG101, BG102) is compared strictly,
in the font it is set in: a substitution counts only when the two characters render
differently in that font (`policies.rendered_text.renders_same`), so I read for l in a grotesque sans
is forgiven and in a serif face it is not, and 0 read for O only where the two are the same
picture. Searching for words (BG103, BG104) still folds 0 into o.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from policies.rendered_text import LOOKALIKE_GROUPS, renders_same

# Characters OCR engines swap for each other and that marketing copy never tells apart by.
_CONFUSABLES = str.maketrans({"0": "o"})
_NO_CONFUSABLES: dict[int, int] = {}
_TOKEN_SPLIT = re.compile(r"[^\w]+|_+")


def normalise(text: str, fold_confusables: bool = True) -> str:
    """Case-folded letters and digits only, accents dropped, 0 read as o (unless not folding)."""
    return "".join(_normal_chars(text, fold_confusables)[0])


def _normal_chars(text: str, fold_confusables: bool = True) -> tuple[list[str], list[int]]:
    """The normalised characters and, for each, the index of the original character it came from."""
    chars: list[str] = []
    origin: list[int] = []
    table = _CONFUSABLES if fold_confusables else _NO_CONFUSABLES
    for index, char in enumerate(text):
        decomposed = unicodedata.normalize("NFKD", char)
        for part in decomposed:
            if unicodedata.combining(part):
                continue
            for folded in part.casefold().translate(table):
                if folded.isalnum():
                    chars.append(folded)
                    origin.append(index)
    return chars, origin


# Letters of other scripts that render as a Latin letter (Unicode TR39's confusables, lower case:
# text is case-folded first, so capitals that look Latin are listed by their lower-case form).
_LATIN_LOOKALIKES = str.maketrans(
    {
        # Cyrillic
        "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "ё": "e", "һ": "h", "н": "h", "і": "i",
        "ї": "i", "ј": "j", "к": "k", "ӏ": "l", "м": "m", "о": "o", "р": "p", "ԛ": "q", "ѕ": "s",
        "т": "t", "у": "y", "ү": "y", "х": "x", "ԝ": "w", "ɡ": "g", "ı": "i",
        # Greek
        "α": "a", "β": "b", "ε": "e", "η": "n", "ι": "i", "κ": "k", "ν": "v", "ο": "o", "ρ": "p",
        "τ": "t", "υ": "u", "χ": "x", "ζ": "z", "μ": "u",
    }
)
# Characters that draw nothing between letters (Hangul fillers and the like are letters by category).
_DRAW_NOTHING = frozenset("\u115f\u1160\u3164\uffa0\u180e")


def skeleton(text: str) -> str:
    """`text` as it reads when rendered: invisible format characters (zero-width joiners and
    spaces, soft hyphens, bidi controls) removed, compatibility forms folded (NFKC: fullwidth and
    mathematical letters), case folded, and letters of other scripts that look Latin read as the
    Latin letter. "Mira\u200dcle" and "Chеapest" (a Cyrillic е) both read as plain words."""
    visible = "".join(c for c in text if unicodedata.category(c) != "Cf" and c not in _DRAW_NOTHING)
    return unicodedata.normalize("NFKC", visible).casefold().translate(_LATIN_LOOKALIKES)


def tokens(text: str) -> list[str]:
    """Words of `text` as it reads (`skeleton`), each normalised; punctuation and spacing split them."""
    return [t for t in (normalise(part) for part in _TOKEN_SPLIT.split(skeleton(text))) if t]


@dataclass(frozen=True)
class Match:
    """How well `expected` was found in one engine's reading."""

    engine: str
    similarity: float  # 1.0 is an exact (normalised) match
    read: str  # the stretch of the original reading that matched best

    @property
    def exact(self) -> bool:
        return self.similarity >= 1.0


def best_match(expected: str, readings: Mapping[str, str], font: str | None = None) -> Match | None:
    """The best match of `expected` in any engine's reading; None when nothing was read.

    With `font`, the comparison is strict and glyph-aware: 0 is not folded into o, and a
    substituted character is forgiven only when it renders the same as the expected one in
    `font`. Without it, the lenient normalisation applies."""
    if font is not None:
        return _best_glyph_match(expected, readings, font)
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
    cost, start, end = closest_substring(target, haystack)
    similarity = max(0.0, 1.0 - cost / len(target))
    return Match(engine, similarity, _original(text, origin, start, end))


def _best_glyph_match(expected: str, readings: Mapping[str, str], font: str) -> Match | None:
    want, want_origin = _normal_chars(expected, fold_confusables=False)
    if not want:
        return None
    want_raw = [expected[i] for i in want_origin]
    best: Match | None = None
    for engine, text in readings.items():
        chars, origin = _normal_chars(text, fold_confusables=False)
        if not chars:
            continue
        haystack = "".join(chars)
        at = haystack.find("".join(want))
        if at >= 0:
            match = Match(engine, 1.0, _original(text, origin, at, at + len(want)))
        else:
            raw = [text[i] for i in origin]

            def same(i: int, j: int, raw: list[str] = raw, chars: list[str] = chars) -> bool:
                return want[i] == chars[j] or _looks_alike(want_raw[i], raw[j], font)

            cost, start, end = _closest_substring_by(len(want), len(chars), same)
            match = Match(engine, max(0.0, 1.0 - cost / len(want)), _original(text, origin, start, end))
        if best is None or match.similarity > best.similarity:
            best = match
        if best.exact:
            break
    return best


def _looks_alike(a: str, b: str, font: str) -> bool:
    if not any(a in group and b in group for group in LOOKALIKE_GROUPS):
        return False
    return renders_same(a, b, font)


def _closest_substring_by(m: int, n: int, same: Callable[[int, int], bool]) -> tuple[int, int, int]:
    """`closest_substring` with a character-equality predicate on (pattern index, text index)."""
    previous = [(0, j) for j in range(n + 1)]
    for i in range(1, m + 1):
        current = [(i, 0)] * (n + 1)
        for j in range(1, n + 1):
            diagonal = previous[j - 1]
            cost, start = diagonal[0] + (not same(i - 1, j - 1)), diagonal[1]
            if previous[j][0] + 1 < cost:
                cost, start = previous[j][0] + 1, previous[j][1]
            if current[j - 1][0] + 1 < cost:
                cost, start = current[j - 1][0] + 1, current[j - 1][1]
            current[j] = (cost, start)
        previous = current
    end = min(range(n + 1), key=lambda j: (previous[j][0], -j))
    return previous[end][0], previous[end][1], end


def aligned_stretch(expected: str, read: str) -> tuple[int, str] | None:
    """The stretch of `expected` (as written: case, spaces and punctuation kept) that `read`
    is closest to, with the number of letters that differ; None when `read` holds no letter."""
    want, origin = _normal_chars(expected)
    got = normalise(read)
    if not want or not got:
        return None
    cost, start, end = closest_substring(got, "".join(want))
    if start >= end:
        return cost, ""
    # Punctuation touching the stretch belongs to it ("shops." ends a line with its full stop).
    first, last = origin[start], origin[end - 1] + 1
    while first > 0 and not expected[first - 1].isspace() and not expected[first - 1].isalnum():
        first -= 1
    while last < len(expected) and not expected[last].isspace() and not expected[last].isalnum():
        last += 1
    return cost, " ".join(expected[first:last].split())


def _original(text: str, origin: list[int], start: int, end: int) -> str:
    if start >= end:
        return ""
    piece = text[origin[start] : origin[end - 1] + 1]
    return " ".join(piece.split())


def closest_substring(pattern: str, text: str) -> tuple[int, int, int]:
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

"""Object counts read from a brief's prompt: "five red apples on a table" asks for five apples.

A count is a number (a digit string, a number word such as "five" or "twenty-one", or a
quantity phrase: "a dozen", "half a dozen", "two dozen", "a pair of", "a couple of", "a trio
of") standing before a noun phrase. The noun phrase runs to the next function word (on, of,
with, and, ...) or punctuation, at most four words; its last plural noun is the object, made
singular ("apples" → "apple", "glasses" → "glass", "people" → "person"). For "one"/"1" the
phrase's last word is the object and must be singular.

What is *not* a count, because it is not a number of things to see: a number joined to a sign
or a letter ("$5", "30%", "5-star", "24/7", "3D", "7:30", "2.5"), a year or anything above
MAX_COUNT, a unit or a measure ("open 7 days", "2 hours", "30 percent off"), a kind or a
choice ("one of a kind", "3 flavours"), "no one" and its kin, and a noun phrase that is not
plural where the number asks for more than one ("2 for 1"). The same object counted twice keeps
its first count. Pure function; no model, no word list from elsewhere.
"""

from __future__ import annotations

import re

MAX_COUNT = 100


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
# "a pair of shoes": the word after "of" is the object; these are counted in the phrase's number.
_GROUPS = {"pair": 2, "pairs": 2, "couple": 2, "trio": 3, "dozen": 12, "dozens": 12}

# Words that end a noun phrase: articles, prepositions, conjunctions, pronouns and the
# commonest verbs and adverbs of a prompt. A number followed at once by one of them counts nothing.
_STOP = _words("""a an the this that these those some any every each all both no not more most less few
    on in at of with by for from to into onto over under beside besides near next behind against
    around across through between among amongst above below beneath inside outside along upon
    within without beyond toward towards via per off out up down than as like
    and or but nor yet so while when where whence which who whom whose what that than then
    is are was were be been being am has have had do does did will would can could may might
    get gets got buy buys save saves win wins free only just also very really too
    i you he she it we they me him her us them my your his its our their mine yours""")
# A number of these is an amount, a time, a rating or a choice, never things in the picture.
_NOT_OBJECTS = _words("""second minute hour day night week weekend month year decade century time moment
    percent per cent pct dollar buck euro pound penny cent yen point star rating review
    mile kilometre kilometer km metre meter inch foot feet yard mm cm kg gram gramme ounce oz lb
    litre liter ml gallon degree calorie kcal step way reason tip idea thing option choice
    kind sort type variety flavour flavor colour color size shade style version edition model
    item deal offer pick piece pack part page chapter episode season generation level floor
    lane serving portion course bite sip word letter digit number dimension d k x""")
# Nouns spelt the same in the plural, or with a plural that is not "-s" ("two sheep").
_IRREGULAR = {
    "people": "person", "persons": "person", "men": "man", "women": "woman", "children": "child",
    "mice": "mouse", "geese": "goose", "teeth": "tooth", "oxen": "ox", "sheep": "sheep",
    "deer": "deer", "fish": "fish", "salmon": "salmon", "shrimp": "shrimp", "bison": "bison",
    "moose": "moose", "aircraft": "aircraft", "dice": "die", "cacti": "cactus", "fungi": "fungus",
    "buses": "bus", "gases": "gas", "lenses": "lens", "series": "series", "species": "species",
}  # fmt: skip
# Pairs that are one thing: "a pair of scissors" is not two scissors.
_ONE_THING_PAIRS = _words(
    "scissors jeans trousers pants shorts glasses sunglasses spectacles goggles binoculars tongs "
    "pliers tights leggings pyjamas pajamas headphones earphones"
)
_IE_SINGULARS = _words(
    "cookie movie pie tie lie brownie smoothie selfie hoodie zombie calorie rookie veggie goalie "
    "auntie genie pixie hippie prairie sortie necktie bowtie beanie"
)
_F_PLURALS = {
    "knives": "knife", "wives": "wife", "lives": "life", "leaves": "leaf", "loaves": "loaf",
    "wolves": "wolf", "shelves": "shelf", "halves": "half", "calves": "calf", "scarves": "scarf",
    "thieves": "thief", "elves": "elf", "selves": "self", "sheaves": "sheaf",
}  # fmt: skip
_OES_SINGULARS = _words("tomato potato hero mango echo volcano mosquito torpedo veto domino")

# A chunk holding a decimal, a time or a fraction ("3.5", "$3.50", "7:30", "24/7"), a word, or
# one mark that ends a phrase. Numbers keep what is glued to them ("$5", "30%", "5-star", "3d")
# so that such tokens are recognised as not counts.
_TOKEN = re.compile(r"\S*\d[.,:/]\d\S*|[^\s,;:.!?()\[\]{}\"“”]+|[,;:.!?()\[\]{}\"“”]")
_DIGITS = re.compile(r"\d{1,3}")
_NUMBER_WORD = re.compile(r"[a-z]+(?:-[a-z]+)?")
_WORD = re.compile(r"[a-z][a-z'-]*[a-z]|[a-z]")
# Words before a number that make it a rank, a bound or a name, not a number of things.
_BEFORE_NOT_A_COUNT = _words("number no top under over for about around approximately nearly almost aged age size "
                                "model route platform gate room table channel version")  # fmt: skip
# ... and before "one" alone: "no one", "the one", "this one" are not one thing.
_BEFORE_NOT_ONE = _words("no any every each some the this that which other another")
MAX_PHRASE_WORDS = 4


def counts_in_prompt(prompt: str) -> dict[str, int]:
    """The objects the prompt counts, singular name → number, in the order they are named."""
    tokens = [t.lower().strip("'’") for t in _TOKEN.findall(prompt)]
    found: dict[str, int] = {}
    i = 0
    while i < len(tokens):
        number, after = _number_at(tokens, i)
        if number is None:
            i += 1
            continue
        noun = _object_after(tokens, after, number)
        if noun is not None and 0 < number <= MAX_COUNT:
            found.setdefault(noun, number)
        i = max(after, i + 1)
    return found


def _number_at(tokens: list[str], i: int) -> tuple[int | None, int]:
    """The number starting at token i and the index after it (with any "of" of a group phrase)."""
    token = tokens[i]
    before = tokens[i - 1] if i > 0 else ""
    if token in ("a", "an"):
        # "a dozen eggs", "a pair of shoes", "a couple of cats", "a trio of vases"
        if i + 1 < len(tokens) and tokens[i + 1] in ("dozen", "pair", "couple", "trio"):
            return _group(tokens, i + 1, 1)
        return None, i + 1
    if token == "half" and tokens[i + 1 : i + 3] == ["a", "dozen"]:
        return 6, i + 3
    value = _value(token)
    if value is None or before in _BEFORE_NOT_A_COUNT or (value == 1 and before in _BEFORE_NOT_ONE):
        return None, i + 1
    if i + 1 < len(tokens) and tokens[i + 1] in ("dozen", "pair", "pairs", "couple", "trio"):
        return _group(tokens, i + 1, value)
    return value, i + 1


def _group(tokens: list[str], at: int, times: int) -> tuple[int | None, int]:
    word = tokens[at]
    after = at + 1
    if word in ("pair", "pairs", "couple", "trio"):
        if after >= len(tokens) or tokens[after] != "of":
            return None, after  # "a couple" alone is two people, or a phrase: not counted
        after += 1
        if after < len(tokens) and tokens[after] in _ONE_THING_PAIRS:
            return None, after + 1
    elif after < len(tokens) and tokens[after] == "of":  # "a dozen of the eggs"
        after += 1
    return times * _GROUPS[word], after


def _value(token: str) -> int | None:
    if _DIGITS.fullmatch(token):
        return int(token)
    if not _NUMBER_WORD.fullmatch(token):
        return None
    if token in _UNITS:
        return _UNITS[token]
    if token in _TENS:
        return _TENS[token]
    tens, _, unit = token.partition("-")
    if tens in _TENS and unit in _UNITS and 0 < _UNITS[unit] < 10:
        return _TENS[tens] + _UNITS[unit]
    return None


def _object_after(tokens: list[str], start: int, number: int) -> str | None:
    """The singular object the noun phrase at `start` names, or None when it names none."""
    phrase: list[str] = []
    for token in tokens[start : start + MAX_PHRASE_WORDS]:
        if token in _STOP or not _WORD.fullmatch(token) or _value(token) is not None:
            break
        phrase.append(token)
    if not phrase or any(_singular(w) in _NOT_OBJECTS or w in _NOT_OBJECTS for w in phrase):
        return None
    if number == 1:
        last = phrase[-1]
        return last if _plural(last) is None and len(last) > 2 else None
    for word in reversed(phrase):
        singular = _plural(word)
        if singular is not None:
            return singular
    return None


def _singular(word: str) -> str:
    return _plural(word) or word


def _plural(word: str) -> str | None:
    """The singular of a plural noun; None when the word does not read as a plural."""
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if word in _F_PLURALS:
        return _F_PLURALS[word]
    if len(word) < 3 or not word.endswith("s") or word.endswith(("ss", "us", "is", "'s")):
        return None
    if word.endswith("ies"):
        stem = word[:-3]
        return stem + "ie" if stem + "ie" in _IE_SINGULARS else stem + "y"
    if word.endswith("oes"):
        return word[:-2] if word[:-2] in _OES_SINGULARS else word[:-1]
    if word.endswith(("sses", "ches", "shes", "xes", "zzes")):
        return word[:-2]
    return word[:-1]

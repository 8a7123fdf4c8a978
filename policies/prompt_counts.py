"""Object counts read from a brief's prompt: "five red apples on a table" asks for five apples.

The prompt is read as tokens by a small grammar (one function per rule below):

    count        := quantity noun_phrase
                  | quantity modifiers ("and" | "or") count         "three red and two blue balloons"
    quantity     := number [group "of"]                            "two", "two dozen", "two pairs of"
                  | ("a" | "an") group ["of"]                       "a dozen", "a pair of", "a couple of"
                  | "half" "a" "dozen"
    noun_phrase  := modifier* head                                 "red sports cars"

A number is a digit string or a number word ("five", "twenty-one"). The head is the noun the
number belongs to: the last noun of the phrase, plural where the number asks for more than one
("apples" → "apple", "people" → "person") and singular for one. A phrase ends at a function
word (on, of, with, ...), a mark, another number, or an adjective or participle that follows
its noun ("two cats sleeping"). A number whose phrase has no noun counts nothing: adjectives
and participles are not objects, and neither are references back to things already counted
("two mugs, one red and one blue", "four kids, one laughing", "one of them", "the other",
"two big ones"). Coordinated adjectives share the head ("two red and blue balloons" → 2), an
elided head is shared ("three red and two blue balloons" → 5), and counts of one object joined
by "and" or a comma add up ("one red apple and one green apple" → 2); a later mention elsewhere
keeps the first count. "A family of four" (a family, team or crew) is four people.

What is *not* a count, because it is not a number of things to see: a number joined to a sign
or a letter ("$5", "30%", "5-star", "24/7", "3D", "7:30", "2.5"), a year or anything above
MAX_COUNT, a unit or a measure ("open 7 days", "2 hours", "30 percent off"), a kind or a
choice ("one of a kind", "3 flavours"), "no one" and its kin, a part of a set already named
("two of the apples"), a range ("two or three cats"), a count per thing ("each holding two
balloons", "two cups apiece"), and a noun phrase that is not plural where the number asks for
more than one ("2 for 1"). Pure function; no model, no word list from elsewhere.
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

# Words that never head a noun phrase: adjectives a prompt uses of things already named ("one
# red", "one empty") and words that point back ("one other", "two big ones").
_ADJECTIVES = _words("""red yellow green blue purple violet pink brown black white grey gray gold golden
    silver beige teal turquoise navy cream ivory maroon crimson scarlet amber bronze copper pastel
    big small large little tiny huge giant tall short long round square wide narrow thick thin
    empty full open closed old new young fresh ripe raw hot cold warm cool wet dry clean dirty
    broken whole asleep awake alive happy sad shy cute pretty beautiful plain bright dark light
    pale shiny matte striped spotted left right upper lower front back middle first last same
    other another else ones""")
# Suffixes of adjectives (and of participles, below) that no noun of a prompt's ends in.
_ADJECTIVE_ENDINGS = ("ful", "ous", "ive", "ish", "less", "able", "ible")
# Nouns that end like participles: "one ring", "one painting", "one bed".
_ING_NOUNS = _words("""ring king wing swing string spring sibling building painting drawing earring
    pudding dumpling wedding ceiling sling duckling seedling sapling darling offspring bling
    frosting icing topping filling stuffing clothing railing awning ping""")
_ED_NOUNS = _words("bed shed sled seed weed reed steed breed tweed bread thread")
# Collective nouns of people: "a family of four" is four people.
_PEOPLE_GROUPS = _words("family families team teams crew crews")
# After a number and "of", these make it a part of a set already named: "two of the apples".
_PARTITIVE = _words("the them these those us you our my your his her its their both all")
# Words that make the counts near them per thing: "each holding two balloons", "two apiece".
_DISTRIBUTIVE = _words("each every apiece")
_CONJUNCTIONS = ("and", ",", "or")


def counts_in_prompt(prompt: str) -> dict[str, int]:
    """The objects the prompt counts, singular name → number, in the order they are named."""
    tokens = [t.lower().strip("'’") for t in _TOKEN.findall(prompt)]
    return _PromptReader(tokens).counts()


class _PromptReader:
    """Reads counts from a prompt's tokens, one grammar rule per method (see the module docstring)."""

    def __init__(self, tokens: list[str]) -> None:
        self.tokens = tokens

    def at(self, i: int) -> str:
        return self.tokens[i] if 0 <= i < len(self.tokens) else ""

    def counts(self) -> dict[str, int]:
        found: dict[str, int] = {}
        joined_to: str | None = None  # the object of a count just read, while "and" or "," may join another
        per_thing = False  # inside a clause that counts per thing ("each holding two balloons")
        i = 0
        while i < len(self.tokens):
            token = self.tokens[i]
            if token in _DISTRIBUTIVE:
                per_thing = True
            elif not _WORD.fullmatch(token) and not _DIGITS.fullmatch(token):
                per_thing = False  # a mark ends the clause
            counted = self.count(i)
            if counted is None:
                if token not in _CONJUNCTIONS:
                    joined_to = None
                i += 1
                continue
            noun, number, after = counted
            if not per_thing and self.at(after) not in _DISTRIBUTIVE and 0 < number <= MAX_COUNT:
                if noun == joined_to:
                    found[noun] = min(found[noun] + number, MAX_COUNT)
                else:
                    found.setdefault(noun, number)
            joined_to = noun
            i = after
        return found

    def count(self, i: int) -> tuple[str, int, int] | None:
        """count := quantity noun_phrase | quantity modifiers conjunction count.

        The object, its number and the index after the phrase; None where no count starts at i."""
        number, start = self.quantity(i)
        if number is None:
            return None
        if self.at(start) in ("or", "to") and self.quantity(start + 1)[0] is not None:
            return None  # a range: "two or three cats"
        if self.at(start) == "of" and self.at(start + 1) in _PARTITIVE:
            return None  # part of a set already named: "two of the apples", "one of them"
        noun, after = self.noun_phrase(start, number)
        if noun is None and self.at(after) in ("and", "or") and after > start:
            # An elided head: "three red and two blue balloons" are five balloons.
            shared = self.count(after + 1)
            if shared is not None and shared[0] is not None:
                return shared[0], number + shared[1], shared[2]
        if noun is None and after == start and self.at(i - 1) == "of" and self.at(i - 2) in _PEOPLE_GROUPS:
            noun = "person"  # "a family of four"
        return None if noun is None else (noun, number, after)

    def quantity(self, i: int) -> tuple[int | None, int]:
        """quantity := number [group "of"] | ("a" | "an") group ["of"] | "half" "a" "dozen"."""
        token, before = self.at(i), self.at(i - 1)
        if token in ("a", "an"):
            return self.group(i + 1, 1) if self.at(i + 1) in _GROUPS else (None, i + 1)
        if token == "half" and self.tokens[i + 1 : i + 3] == ["a", "dozen"]:
            return 6, i + 3
        value = _value(token)
        if value is None or before in _BEFORE_NOT_A_COUNT or (value == 1 and before in _BEFORE_NOT_ONE):
            return None, i + 1
        if before in ("or", "to") and _value(self.at(i - 2)) is not None:
            return None, i + 1  # the end of a range: "two or three cats"
        if self.at(i + 1) in _GROUPS:
            return self.group(i + 1, value)
        return value, i + 1

    def group(self, at: int, times: int) -> tuple[int | None, int]:
        """A group word and its "of": "dozen", "pair of", "couple of", "trio of"."""
        word, after = self.at(at), at + 1
        if word in ("pair", "pairs", "couple", "trio"):
            if self.at(after) != "of":
                return None, after  # "a couple" alone is two people, or a phrase: not counted
            after += 1
            if self.at(after) in _ONE_THING_PAIRS:
                return None, after + 1  # "a pair of scissors" is one thing
        elif self.at(after) == "of":  # "a dozen of the eggs"
            after += 1
        return times * _GROUPS[word], after

    def noun_phrase(self, start: int, number: int) -> tuple[str | None, int]:
        """noun_phrase := modifier* head. The head's singular (None where the phrase names no
        object) and the index after the phrase."""
        head: str | None = None
        words: list[str] = []
        i = start
        while len(words) < MAX_PHRASE_WORDS:
            token = self.at(i)
            if token in _STOP or token in _DISTRIBUTIVE or not _WORD.fullmatch(token) or _value(token) is not None:
                if token in ("and", "or") and head is None and words and _is_word_phrase(self.at(i + 1)):
                    i += 1  # coordinated adjectives share the head: "two red and blue balloons"
                    continue
                break
            if not _could_be_noun(token):
                if head is not None:
                    break  # an adjective or participle after the noun: "two cats sleeping"
            elif (number == 1) == (_plural(token) is None):
                head = token
            words.append(token)
            i += 1
        if head is None or any(_singular(w) in _NOT_OBJECTS or w in _NOT_OBJECTS for w in words):
            return None, i
        if number == 1:
            return (head if len(head) > 2 else None), i
        return _plural(head), i


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


def _is_word_phrase(token: str) -> bool:
    return bool(_WORD.fullmatch(token)) and token not in _STOP and _value(token) is None


def _could_be_noun(word: str) -> bool:
    """False for adjectives, participles and back-references, which are never the object."""
    if word in _ADJECTIVES or word.endswith(_ADJECTIVE_ENDINGS):
        return False
    if word.endswith("ing") and word not in _ING_NOUNS and _singular(word) not in _ING_NOUNS:
        return False
    return not (word.endswith("ed") and len(word) > 4 and word not in _ED_NOUNS)


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

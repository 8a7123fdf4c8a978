"""BG501 prompt-screening: banned and unsafe terms in the brief, caught before any GPU is spent.

Screens the brief's prompt, headline and disclaimer (not the negative prompt, which names what
must stay out of the image) for the kit's `banned_words` and for brandgate's own list of unsafe
terms (sexual content, sexual content involving minors, graphic violence, hate symbols, hard
drugs, self-harm). Matching is by whole words and phrases, case and punctuation ignored, plural
forms included: "rape" is caught, "grape" and "grapefruit" are not.

It runs on the brief alone: the orchestrator calls it through `policies.engine.screen_brief`
before queueing generation, and `brandgate check` reports it with the other checks.

Statuses: `pass` nothing found; `fail` the terms found, each named with the field it is in;
`skip` there is no brief.

Options in policy.yaml under `BG501`:
- `severity`: `reject` (default) or `flag`.
- `extra_terms`: more terms to refuse for this kit.
- `allow_terms`: terms of the built-in unsafe list this kit accepts (a lingerie brand, say).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from policies.check import Outcome
from policies.text_match import tokens

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.kit import Kit

ID = "BG501"
NAME = "prompt-screening"
FAMILY = "safety"
DEFAULT_SEVERITY = "reject"

# Whole words or phrases only; kept to terms that have no everyday marketing meaning.
UNSAFE_TERMS: tuple[str, ...] = (
    # sexual content
    "nude",
    "nudes",
    "nudity",
    "naked",
    "topless",
    "bottomless",
    "nsfw",
    "porn",
    "porno",
    "pornographic",
    "pornography",
    "hentai",
    "erotic",
    "erotica",
    "sex act",
    "sexual intercourse",
    "genitals",
    "genitalia",
    "penis",
    "vagina",
    "nipples",
    "orgasm",
    "bdsm",
    # minors in sexual context
    "child porn",
    "loli",
    "lolicon",
    "shota",
    "underage sex",
    "jailbait",
    # sexual violence
    "rape",
    "raped",
    "raping",
    "rapist",
    "sexual assault",
    "molest",
    "molested",
    "molestation",
    # graphic violence
    # ("gore" alone would refuse Gore-Tex; "torture" refuses "torture-tested" gear.)
    "gory",
    "decapitated",
    "decapitation",
    "beheading",
    "beheaded",
    "dismembered",
    "dismemberment",
    "mutilated",
    "mutilation",
    "mass shooting",
    "school shooting",
    "execution video",
    # hate
    "nazi",
    "nazis",
    "swastika",
    "kkk",
    "white power",
    "white supremacy",
    "heil hitler",
    "ethnic cleansing",
    "genocide",
    # self-harm
    "suicide",
    "self harm",
    "self-harm",
    "selfharm",
    "cutting myself",
    # hard drugs
    "cocaine",
    "heroin",
    "methamphetamine",
    "crystal meth",
    "fentanyl",
)
_SCREENED_FIELDS = ("prompt", "headline", "disclaimer")


def _string_list(options: Mapping[str, Any], key: str) -> list[str]:
    value = options.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"option {key} must be a list of strings, got {value!r}")
    return value


def terms_for(kit: Kit, options: Mapping[str, Any]) -> dict[str, str]:
    """Every term screened, each with where it comes from (kit banned word, unsafe, option)."""
    allowed = {" ".join(tokens(t)) for t in _string_list(options, "allow_terms")}
    terms: dict[str, str] = {}
    for source, listed in (
        ("kit banned word", kit.spec.banned_words),
        ("policy extra term", _string_list(options, "extra_terms")),
        ("unsafe term", UNSAFE_TERMS),
    ):
        for term in listed:
            key = " ".join(tokens(term))
            if key and key not in allowed and key not in terms:
                terms[key] = source
    return terms


def _found(term: str, words: list[str]) -> bool:
    wanted = term.split()
    size = len(wanted)
    joined = "".join(wanted)
    for i in range(len(words)):
        window = words[i : i + size]
        if len(window) < size:
            break
        # A plural or third-person "s"/"es" on the last word still matches.
        last, want_last = window[-1], wanted[-1]
        last_ok = last in (want_last, want_last + "s", want_last + "es")
        if window[:-1] == wanted[:-1] and last_ok:
            return True
        if size > 1 and words[i] in (joined, joined + "s"):
            return True
    return False


def screen(brief: Brief, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    terms = terms_for(kit, options)
    hits = []
    for field in _SCREENED_FIELDS:
        text = getattr(brief, field, None)
        if not text:
            continue
        words = tokens(text)
        for term, source in terms.items():
            if _found(term, words):
                hits.append({"term": term, "field": field, "source": source})
    evidence = {"fields": list(_SCREENED_FIELDS), "terms_screened": len(terms), "found": hits}
    if not hits:
        return Outcome("pass", "no banned or unsafe terms in the brief", 0.95, evidence)
    named = "; ".join(f"{h['source']} {h['term']!r} in the {h['field']}" for h in hits)
    return Outcome("fail", f"brief refused: {named}", 0.99, evidence)

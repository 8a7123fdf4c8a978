"""Reading `/brandgate` text: sub-commands, and the quick brief `"prompt" kit=acme n=4 headline="..."`.

The grammar (docs/slack.md, "What the command line means"): the first word, unquoted, is a
sub-command (`help`, `status`, `cancel`, `audit`, `verify`), or the text is a brief. A brief starts
with its prompt in double quotes or with a known option (`kit=acme`); words after either are the
prompt too. Any other first word is an unknown sub-command, refused with the nearest one, so a typo
(`stauts`) never becomes a prompt that spends GPU time.
"""

from __future__ import annotations

import difflib
import html
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from brandgate.clock import moment
from brandgate.db.export import FORMATS
from brandgate.errors import UserError
from policies.characters import quote

# Slack clients (macOS above all) turn typed quotes into typographic ones; people never mean those
# literally in a command line, so they are read as the straight double quote.
_SMART_QUOTES = str.maketrans({"\u201c": '"', "\u201d": '"', "\u201e": '"', "\u00ab": '"', "\u00bb": '"'})
_FILE_ID = re.compile(r"\b(F[A-Z0-9]{6,})\b")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SIZE = re.compile(r"^(\d{2,4})(?:\s*[xX×]\s*(\d{2,4}))?$")
MAX_TEXT_CHARS = 4000
# How much of a value a person typed an error message repeats back to them.
QUOTE_LIMIT = 60

BRIEF_KEYS = ("kit", "n", "headline", "disclaimer", "size", "seed", "logo", "counts", "count", "negative", "layout")
AUDIT_KEYS = ("kit", "since", "until", "request", "format")
class SlashError(UserError):
    """Command text the user must fix; the message says how."""


@dataclass(frozen=True)
class Help:
    pass


@dataclass(frozen=True)
class OpenModal:
    pass


@dataclass(frozen=True)
class Status:
    request_id: str | None


@dataclass(frozen=True)
class Review:
    """`/brandgate review`: what waits for a decision in the channel's kits."""


@dataclass(frozen=True)
class Cancel:
    request_id: str


@dataclass(frozen=True)
class AuditQuery:
    kit: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    request_id: str | None = None
    format: str = "jsonl"

    def describe(self) -> str:
        parts = []
        if self.kit:
            parts.append(f"kit {self.kit}")
        if self.request_id:
            parts.append(f"request {self.request_id}")
        if self.since:
            parts.append(f"from {self.since:%Y-%m-%d}")
        if self.until:
            parts.append(f"until {self.until:%Y-%m-%d}")
        return ", ".join(parts) or "everything"


@dataclass(frozen=True)
class Verify:
    file_id: str | None


@dataclass(frozen=True)
class QuickBrief:
    """Brief fields as typed; the kit and the limits are checked later, against the channel and the queue."""

    fields: dict[str, Any] = field(default_factory=dict)


Command = Help | OpenModal | Status | Review | Cancel | AuditQuery | Verify | QuickBrief


def parse(text: str) -> Command:
    """What `/brandgate <text>` asks for. Raises SlashError with what to fix."""
    text = html.unescape((text or "").translate(_SMART_QUOTES)).strip()
    if not text:
        return OpenModal()
    if len(text) > MAX_TEXT_CHARS:
        raise SlashError(f"that command is {len(text)} characters long; keep it under {MAX_TEXT_CHARS}")
    words = _split(text)
    tokens = [w.text for w in words]
    head = tokens[0].lower()
    rest = tokens[1:]
    if words[0].quoted or _looks_like_pair(tokens[0]):
        return _brief(words)
    subcommand = _BY_WORD.get(head)
    if subcommand is None:
        raise SlashError(unknown_subcommand(tokens[0]))
    return subcommand.parse(tokens[0], rest)


def unknown_subcommand(word: str) -> str:
    """What to say when the first word is neither a sub-command, a quoted prompt nor an option."""
    said = quote(word, QUOTE_LIMIT)
    lowered = word.lower()
    nearest = SUBCOMMAND_SYNONYMS.get(lowered) or next(
        iter(difflib.get_close_matches(lowered, SUBCOMMANDS, n=1, cutoff=0.6)), None
    )
    first = f"unknown subcommand {said} — did you mean {nearest}?" if nearest else f"unknown subcommand {said}."
    return (
        f"{first} Nothing was queued. To ask for images, put the prompt in double quotes:"
        ' `/brandgate "red apples on a table" kit=acme`; `/brandgate help` lists the sub-commands.'
    )


@dataclass(frozen=True)
class Word:
    """One word of the command; `quoted` when it began inside double quotes (then it is never a key=value)."""

    text: str
    quoted: bool


def _split(text: str) -> list[Word]:
    """Words split on whitespace; only double quotes group words, since apostrophes ("Mom's pie") are text."""
    words: list[Word] = []
    current: list[str] = []
    started = in_quotes = quoted_start = False
    for char in text:
        if char == '"':
            if not started:
                started, quoted_start = True, True
            in_quotes = not in_quotes
        elif char.isspace() and not in_quotes:
            if started:
                words.append(Word("".join(current), quoted_start))
            current, started, quoted_start = [], False, False
        else:
            started = True
            current.append(char)
    if in_quotes:
        raise SlashError(
            'a double quote is not closed; put the prompt and any value with spaces between a pair of "quotes",'
            ' like `/brandgate "red apples on a table" kit=acme headline="Fresh Deals"`'
        )
    if started:
        words.append(Word("".join(current), quoted_start))
    return words


_KEY = re.compile(r"[A-Za-z_][\w.-]*")


def _pairs(tokens: list[str], allowed: tuple[str, ...], what: str) -> tuple[dict[str, str], list[str]]:
    pairs: dict[str, str] = {}
    words: list[str] = []
    for token in tokens:
        key, sep, value = token.partition("=")
        if sep and _KEY.fullmatch(key):
            key = key.lower()
            base = key.split(".", 1)[0]
            if base not in allowed:
                close = difflib.get_close_matches(base, allowed, n=1, cutoff=0.6)
                hint = f"did you mean `{close[0]}=`? " if close else ""
                raise SlashError(
                    f"`{key}=` is not something {what} takes; {hint}use {', '.join(k + '=' for k in allowed)}"
                )
            if key in pairs:
                raise SlashError(f"`{key}=` is given twice; give it once")
            pairs[key] = value
        else:
            words.append(token)
    return pairs, words


def _brief(words: list[Word]) -> QuickBrief:
    # A quoted word is prompt text even when it looks like an option ("kit=acme" in quotes).
    pairs, _ = _pairs([w.text for w in words if not w.quoted], BRIEF_KEYS, "a brief")
    prompt_words = [w.text for w in words if w.quoted or not _looks_like_pair(w.text)]
    fields: dict[str, Any] = {}
    prompt = " ".join(prompt_words).strip()
    if not prompt:
        raise SlashError('write what the image should show, like `/brandgate "red apples on a table" kit=acme`')
    fields["prompt"] = prompt
    counts: dict[str, int] | None = None  # None: not given, so they are read from the prompt
    for key, value in pairs.items():
        if key == "kit":
            fields["kit"] = value.strip().lower()
        elif key in ("n", "seed"):
            fields[key] = _integer(key, value)
        elif key == "size":
            fields["size"] = parse_size(value)
        elif key == "negative":
            fields["negative_prompt"] = value
        elif key in ("counts", "count"):
            counts = {**(counts or {}), **parse_counts(value)}
        elif key.startswith("count."):
            counts = {**(counts or {}), key.split(".", 1)[1]: _integer(key, value)}
        else:
            fields[key] = value
    if counts is not None:
        fields["counts"] = counts
    return QuickBrief(fields)


def _looks_like_pair(token: str) -> bool:
    """`token` is written as an option (`kit=acme`, `count.apple=3`), known or not."""
    key, sep, _ = token.partition("=")
    return bool(sep) and _KEY.fullmatch(key) is not None


def parse_size(value: str) -> tuple[int, int]:
    """`1024`, `1024x768` or `768×1024` as (width, height)."""
    match = _SIZE.match(value.strip())
    if not match:
        raise SlashError(f"size={quote(value, QUOTE_LIMIT)} is not a size; write it as WIDTHxHEIGHT like size=1024x768")
    width = int(match.group(1))
    height = int(match.group(2) or width)
    return width, height


NO_COUNTS = ("none", "no", "{}", "-")


def parse_counts(value: str) -> dict[str, int]:
    """`apple:5, pear=2` as {"apple": 5, "pear": 2}; the same text the modal's counts field takes.

    `none` is {}: check no counts (otherwise they are read from the prompt)."""
    counts: dict[str, int] = {}
    if value.strip().lower() in NO_COUNTS:
        return counts
    for part in re.split(r"[,;\n]", value):
        part = part.strip()
        if not part:
            continue
        match = re.fullmatch(r"(.+?)\s*[:=]\s*(\S+)", part)
        if not match:
            raise SlashError(
                f"counts: {quote(part, QUOTE_LIMIT)} should look like apple:5 (object name, colon, number)"
            )
        name, number = match.groups()
        if not name.strip():
            raise SlashError(
                f"counts: {quote(part, QUOTE_LIMIT)} should look like apple:5 (object name, colon, number)"
            )
        counts[name.strip().lower()] = _integer(f"counts.{name.strip()}", number)
    return counts


def _integer(key: str, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise SlashError(f"{key}={quote(value, QUOTE_LIMIT)} is not a whole number") from None


def _request_id(value: str) -> str:
    if not _REQUEST_ID.match(value):
        raise SlashError(
            f"{quote(value, QUOTE_LIMIT)} is not a request ID; copy it from the thread, like `/brandgate status 4f2a…`"
        )
    return value


def _audit(tokens: list[str]) -> AuditQuery:
    pairs, words = _pairs(tokens, AUDIT_KEYS, "audit")
    if words:
        raise SlashError(
            f"audit takes key=value filters, not {quote(words[0], QUOTE_LIMIT)}:"
            " `/brandgate audit kit=acme since=2026-11-01 until=2026-11-30 format=csv`"
        )
    fmt = pairs.get("format", "jsonl").lower()
    if fmt not in FORMATS:
        choices = " or ".join(f"format={name}" for name in FORMATS)
        raise SlashError(f"format={quote(fmt, QUOTE_LIMIT)}: choose {choices}")
    since = _day(pairs["since"], "since") if "since" in pairs else None
    until = _day(pairs["until"], "until", end_of_day=True) if "until" in pairs else None
    if since and until and since >= until:
        raise SlashError("since= is after until=; swap them")
    request_id = _request_id(pairs["request"]) if "request" in pairs else None
    return AuditQuery(kit=pairs.get("kit"), since=since, until=until, request_id=request_id, format=fmt)


def _day(value: str, key: str, *, end_of_day: bool = False) -> datetime:
    try:
        return moment(value, end_of_day=end_of_day)
    except ValueError:
        raise SlashError(f"{key}={quote(value, QUOTE_LIMIT)} is not a date; write it as YYYY-MM-DD") from None


def _verify(tokens: list[str]) -> Verify:
    if not tokens:
        return Verify(None)
    match = _FILE_ID.search(" ".join(tokens))
    if not match:
        raise SlashError(
            "verify takes a Slack file: share the file in this channel and run `/brandgate verify`,"
            " or paste its link after the command"
        )
    return Verify(match.group(1))


def _help(word: str, rest: list[str]) -> Help:
    return Help()


def _status(word: str, rest: list[str]) -> Status:
    return Status(_request_id(rest[0]) if rest else None)


def _review(word: str, rest: list[str]) -> Review:
    if rest:
        raise SlashError(
            "review takes nothing after it: `/brandgate review`. Nothing was queued. To ask for images, put the"
            ' prompt in double quotes: `/brandgate "review the apples" kit=acme`.'
        )
    return Review()


def _cancel(word: str, rest: list[str]) -> Cancel:
    if len(rest) != 1:
        raise SlashError("say which request to cancel: `/brandgate cancel REQUEST_ID`")
    return Cancel(_request_id(rest[0]))


@dataclass(frozen=True)
class Subcommand:
    """One `/brandgate` sub-command, declared once: the word that names it (and its aliases), how the
    words after it are read, its line in the help, and the words people type for it by another name
    (offered as "did you mean"). Its handler is registered for the type `parse` returns, in
    bot/listeners/commands.py; tests/bot/test_slash.py holds every sub-command to having one."""

    name: str
    parse: Callable[[str, list[str]], Command]
    usage: str = ""
    aliases: tuple[str, ...] = ()
    synonyms: tuple[str, ...] = ()


REGISTRY: tuple[Subcommand, ...] = (
    Subcommand("help", _help, aliases=("-h", "--help", "?"), synonyms=("usage", "info")),
    Subcommand(
        "status",
        _status,
        "`/brandgate status [REQUEST]` shows where your requests are; `/brandgate cancel REQUEST` stops one.",
        synonyms=("pending", "queue", "list", "progress", "where"),
    ),
    Subcommand("cancel", _cancel, synonyms=("stop", "abort", "kill", "delete")),
    Subcommand(
        "review",
        _review,
        "`/brandgate review` lists the images waiting for a brand manager in this channel's kits;"
        " managers decide in the app's Home tab.",
    ),
    Subcommand(
        "verify",
        lambda word, rest: _verify(rest),
        "`/brandgate verify` checks the content credentials of the latest file shared here"
        " (or paste a file link after it).",
        synonyms=("check", "credentials", "c2pa"),
    ),
    Subcommand(
        "audit",
        lambda word, rest: _audit(rest),
        "`/brandgate audit kit=acme since=2026-11-01 until=2026-11-30 format=csv` sends the trail"
        " to your DMs (compliance only).",
        synonyms=("trail", "log", "logs", "export"),
    ),
)
SUBCOMMANDS = tuple(s.name for s in REGISTRY)
SUBCOMMAND_SYNONYMS = {synonym: s.name for s in REGISTRY for synonym in s.synonyms}
_BY_WORD = {word: s for s in REGISTRY for word in (s.name, *s.aliases)}

"""Reading `/brandgate` text: the quick brief, sub-commands, and the errors a person can make."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.slash import REGISTRY, AuditQuery, Cancel, Help, OpenModal, QuickBrief, SlashError, Status, Verify, parse


def test_quick_brief_with_quoted_values() -> None:
    parsed = parse('"five red apples on a table" kit=acme n=4 headline="Fresh Deals Friday" size=1024x768 seed=7')
    assert parsed == QuickBrief(
        {
            "prompt": "five red apples on a table",
            "kit": "acme",
            "n": 4,
            "headline": "Fresh Deals Friday",
            "size": (1024, 768),
            "seed": 7,
        }
    )


def test_typographic_quotes_from_slack_clients_are_read_as_quotes() -> None:
    assert parse("\u201cred apples\u201d kit=acme headline=\u201cBig Sale\u201d") == QuickBrief(
        {"prompt": "red apples", "kit": "acme", "headline": "Big Sale"}
    )


def test_apostrophes_are_text_not_quotes() -> None:
    assert parse("kit=acme Mom's apple pie").fields["prompt"] == "Mom's apple pie"  # type: ignore[union-attr]


def test_slack_escaped_characters_are_unescaped() -> None:
    assert parse('"salt &amp; pepper &lt;3" kit=acme').fields["prompt"] == "salt & pepper <3"  # type: ignore[union-attr]


def test_counts_in_both_spellings() -> None:
    parsed = parse('"apples" kit=acme counts="apple:5, pear=2" count.plum=1')
    assert parsed.fields["counts"] == {"apple": 5, "pear": 2, "plum": 1}  # type: ignore[union-attr]


def test_no_counts_given_leaves_them_to_the_prompt_and_none_opts_out() -> None:
    assert "counts" not in parse('"five red apples" kit=acme').fields  # type: ignore[union-attr]
    assert parse('"five red apples" kit=acme counts=none').fields["counts"] == {}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", OpenModal()),
        ("   ", OpenModal()),
        ("help", Help()),
        ("HELP", Help()),
        ("status", Status(None)),
        ("status 4f2a9c", Status("4f2a9c")),
        ("cancel 4f2a9c", Cancel("4f2a9c")),
        ("verify", Verify(None)),
        ("verify <https://x.slack.com/files/U1/F07ABCDEF12/a.png>", Verify("F07ABCDEF12")),
        ("audit kit=acme format=csv", AuditQuery(kit="acme", format="csv")),
        (
            "audit since=2026-11-01 until=2026-11-30 request=abc",
            AuditQuery(
                since=datetime(2026, 11, 1, tzinfo=UTC), until=datetime(2026, 12, 1, tzinfo=UTC), request_id="abc"
            ),
        ),
    ],
)
def test_sub_commands(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('"five red apples kit=acme', "double quote is not closed"),
        ('"apples" headline="Fresh', "double quote is not closed"),
        ('"apples" colour=red', "`colour=` is not something a brief takes"),
        ('"apples" kti=acme', "did you mean `kit=`?"),
        ('"apples" n=four', "n='four' is not a whole number"),
        ('"apples" n=1 n=2', "given twice"),
        ('"apples" size=big', "WIDTHxHEIGHT"),
        ('"apples" counts="lots of apples"', "apple:5"),
        ("kit=acme n=2", "write what the image should show"),
        ("cancel", "say which request"),
        ("cancel ../../etc", "not a request ID"),
        ("audit everything", "key=value filters"),
        ("audit format=xml", "format=jsonl or format=csv"),
        ("audit since=2026-12-01 until=2026-11-01", "swap them"),
        ("audit since=last-week", "YYYY-MM-DD"),
        ("verify some-file.png", "share the file"),
        ("x" * 5000, "keep it under"),
    ],
)
def test_mistakes_say_what_to_fix(text: str, message: str) -> None:
    with pytest.raises(SlashError, match=None) as info:
        parse(text)
    assert message in str(info.value)


@pytest.mark.parametrize(
    "text",
    ["status " + "x" * 3000, "cancel " + "y" * 300, "audit since=" + "s" * 400, "audit " + "w" * 300],
    ids=["status", "cancel", "audit-date", "audit-word"],
)
def test_an_error_repeats_at_most_a_short_quote_of_what_was_typed(text: str) -> None:
    with pytest.raises(SlashError) as refused:
        parse(text)
    assert len(str(refused.value)) < 250 and "characters)" in str(refused.value)


def test_an_error_shows_control_characters_escaped() -> None:
    with pytest.raises(SlashError) as refused:
        parse("status \u202eabc")
    assert "\u202e" not in str(refused.value) and "\\u202eabc" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "prompt"),
    [
        ('"five red apples" kit=acme', "five red apples"),
        ('kit=acme "five red apples"', "five red apples"),
        ("kit=acme five red apples", "five red apples"),  # after a known option, words are the prompt
        ("n=2 kit=acme status report on a desk", "status report on a desk"),
        ('"status" kit=acme', "status"),  # quoted: the user said it is the prompt
        ('"kit=acme" kit=acme', "kit=acme"),
        ('"red apples" on a table kit=acme', "red apples on a table"),
    ],
)
def test_a_prompt_is_what_was_quoted_or_came_after_an_option(text: str, prompt: str) -> None:
    parsed = parse(text)
    assert isinstance(parsed, QuickBrief) and parsed.fields["prompt"] == prompt


@pytest.mark.parametrize(
    ("text", "nearest"),
    [
        ("stauts kit=acme n=1", "status"),
        ("stat", "status"),
        ("pending", "status"),
        ("queue", "status"),
        ("cancle 4f2a9c", "cancel"),
        ("stop 4f2a9c", "cancel"),
        ("hlep", "help"),
        ("adit kit=acme", "audit"),
        ("verfy", "verify"),
        ("Veriffy", "verify"),
    ],
)
def test_an_unknown_subcommand_is_named_with_the_nearest_one(text: str, nearest: str) -> None:
    with pytest.raises(SlashError) as refused:
        parse(text)
    word = text.split()[0]
    assert str(refused.value).startswith(f"unknown subcommand '{word}' — did you mean {nearest}?")
    assert "Nothing was queued" in str(refused.value)


@pytest.mark.parametrize("text", ["five red apples kit=acme", "apples", "Mom's apple pie kit=acme", "\u00e9t\u00e9"])
def test_unquoted_words_first_are_not_a_prompt(text: str) -> None:
    with pytest.raises(SlashError) as refused:
        parse(text)
    message = str(refused.value)
    assert message.startswith("unknown subcommand") and "did you mean" not in message
    assert 'put the prompt in double quotes' in message


# --- one registered handler per sub-command ----------------------------------------------------


def test_every_command_the_parser_can_return_has_one_handler() -> None:
    """A sub-command is declared once in bot/slash.py's REGISTRY and handled by the handler registered
    for its type; the help is answered in the ack. A command type without a handler would parse and
    then fail after the ack."""
    import typing

    from bot import slash
    from bot.listeners.commands import HANDLERS

    kinds = set(typing.get_args(slash.Command))
    assert set(HANDLERS) == kinds - {Help}


@pytest.mark.parametrize("name", [s.name for s in REGISTRY])
def test_every_sub_command_is_read_by_its_registered_parser_and_named_in_the_help(name: str) -> None:
    from bot import messages, slash

    words = {"cancel": "cancel 4f2a9c"}
    parsed = parse(words.get(name, name))
    assert not isinstance(parsed, QuickBrief | OpenModal)  # a sub-command, not a brief or the form
    assert name in messages.help_text().rsplit("must be one of", 1)[1]
    assert slash.SUBCOMMANDS.count(name) == 1


def test_a_misspelt_review_is_named_and_review_with_words_after_it_is_refused() -> None:
    with pytest.raises(SlashError) as refused:
        parse("reveiw")
    assert str(refused.value).startswith("unknown subcommand 'reveiw' — did you mean review?")
    with pytest.raises(SlashError) as refused:
        parse("review the apples")
    assert "review takes nothing after it" in str(refused.value) and "Nothing was queued" in str(refused.value)

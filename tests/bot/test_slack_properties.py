"""Property: whatever a signed request holds (commands, interactive payloads, events), the bot answers 2xx or 4xx.

Generated bodies go through the real app under uvicorn with a valid signature, so they pass the one
check an attacker without the secret cannot, and reach the shape checks and listeners. Never a 500,
never a traceback in the logs (also from the work handed off after the ack), never the token.
"""

from __future__ import annotations

import json
import logging
import time
import urllib.parse
import uuid
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import messages
from tests.bot.conftest import ANNA, MARK, MARKETING, BotUnderTest
from tests.fake_slack import TEAM_ID, fake_token

PROPERTY = settings(
    max_examples=60,
    deadline=None,
    # One served bot for all examples: examples only add requests, and the property holds regardless.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text as people, clients and attackers send it: words, quotes, control and bidi characters, huge values.
hostile_text = st.one_of(
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=300),
    st.sampled_from(["", " ", "\x00", "\u202e", "\u200b" * 5, "%", "payload", "{", "[]", "x" * 5000]),
)
ids = st.one_of(st.sampled_from([MARK, ANNA, MARKETING, TEAM_ID, "", "U" * 300]), st.text(max_size=20))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), hostile_text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.sampled_from(["id", "type", "value", "x"]), inner, max_size=4)
    ),
    max_leaves=12,
)
command_texts = st.one_of(
    hostile_text,
    st.builds(
        lambda verb, rest: f"{verb} {rest}",
        st.sampled_from(["status", "cancel", "verify", "audit", "help", '"apples" kit=acme', '"apples" kit=nope n=']),
        hostile_text,
    ),
)


@st.composite
def command_forms(draw: st.DrawFn) -> dict[str, str]:
    form = {
        "team_id": draw(st.sampled_from([TEAM_ID, TEAM_ID, "TOTHERTEAM"])),
        "channel_id": draw(st.sampled_from([MARKETING, MARKETING, "CRANDOM", ""])),
        "user_id": draw(ids),
        "command": draw(st.sampled_from(["/brandgate", "/brandgate", "/other", ""])),
        "text": draw(command_texts),
        "trigger_id": f"{uuid.uuid4().int % 10**12}.x",
        "response_url": "http://127.0.0.1:9/respond",
    }
    dropped = draw(st.sets(st.sampled_from(sorted(form))))
    return {k: v for k, v in form.items() if k not in dropped}


@st.composite
def interactive_payloads(draw: st.DrawFn) -> dict[str, Any]:
    kind = draw(st.sampled_from(["block_actions", "view_submission", "view_closed", "shortcut", "x"]))
    payload: dict[str, Any] = {
        "type": kind,
        "user": draw(st.one_of(st.fixed_dictionaries({"id": ids, "team_id": ids}), json_values)),
        "team": draw(st.one_of(st.just({"id": TEAM_ID}), json_values)),
        "channel": draw(st.one_of(st.just({"id": MARKETING}), json_values)),
        "trigger_id": "1.2",
    }
    if kind == "block_actions":
        action = {
            "action_id": draw(st.sampled_from([*messages.IMAGE_ACTIONS, "other"])),
            "value": draw(st.one_of(hostile_text, st.just("0123456789abcdef"))),
            "block_id": draw(hostile_text),
        }
        payload["actions"] = draw(st.one_of(st.just([action]), json_values))
        payload["message"] = draw(st.one_of(st.just({"ts": "1.2", "blocks": []}), json_values))
    else:
        view = {
            "id": draw(hostile_text),
            "callback_id": draw(st.sampled_from([messages.BRIEF_MODAL, messages.REJECT_MODAL, "other"])),
            "private_metadata": draw(st.one_of(hostile_text, st.just(json.dumps({"channel": MARKETING})))),
            "state": {"values": draw(st.dictionaries(hostile_text, json_values, max_size=4))},
        }
        payload["view"] = draw(st.one_of(st.just(view), json_values))
    extra = draw(st.dictionaries(st.sampled_from(["container", "response_url", "enterprise"]), json_values))
    return {**payload, **extra}


@st.composite
def events(draw: st.DrawFn) -> dict[str, Any]:
    event = draw(
        st.one_of(
            st.fixed_dictionaries(
                {"type": st.just("app_mention"), "user": ids, "channel": ids, "ts": hostile_text, "text": hostile_text}
            ),
            json_values,
        )
    )
    return {
        "type": draw(st.sampled_from(["event_callback", "url_verification", "app_rate_limited", "x"])),
        "team_id": draw(st.one_of(st.just(TEAM_ID), json_values)),
        "event_id": f"Ev{uuid.uuid4().hex[:10]}",
        "challenge": draw(st.one_of(hostile_text, json_values)),
        "event": event,
    }


def _answered_without_a_500(response: Any) -> None:
    assert 200 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert fake_token() not in response.text


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    time.sleep(0.5)  # work handed off after the ack logs its failures late
    failures = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert failures == [], [r.getMessage() for r in failures]


def test_any_signed_command_form_gets_a_2xx_or_4xx(served: BotUnderTest, caplog: pytest.LogCaptureFixture) -> None:
    @PROPERTY
    @given(form=command_forms())
    def check(form: dict[str, str]) -> None:
        body = urllib.parse.urlencode(form).encode()
        _answered_without_a_500(served.bot.post(body, "application/x-www-form-urlencoded"))

    check()
    _no_traceback(caplog)


def test_any_signed_interactive_payload_gets_a_2xx_or_4xx(
    served: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    @PROPERTY
    @given(payload=st.one_of(interactive_payloads(), json_values))
    def check(payload: Any) -> None:
        _answered_without_a_500(served.bot.interactive(payload))

    check()
    _no_traceback(caplog)


def test_any_signed_event_gets_a_2xx_or_4xx(served: BotUnderTest, caplog: pytest.LogCaptureFixture) -> None:
    @PROPERTY
    @given(event=st.one_of(events(), json_values))
    def check(event: Any) -> None:
        _answered_without_a_500(served.bot.post(json.dumps(event).encode(), "application/json"))

    check()
    _no_traceback(caplog)


def test_any_signed_raw_body_gets_a_2xx_or_4xx(served: BotUnderTest, caplog: pytest.LogCaptureFixture) -> None:
    @PROPERTY
    @given(
        body=st.one_of(st.binary(max_size=300), hostile_text.map(str.encode)),
        content_type=st.sampled_from(["application/json", "application/x-www-form-urlencoded", "text/plain", ""]),
    )
    def check(body: bytes, content_type: str) -> None:
        _answered_without_a_500(served.bot.post(body, content_type))

    check()
    _no_traceback(caplog)

"""Hostile and clumsy requests to the bot: a 4xx or one clear line, nothing queued, nothing leaked."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import pytest

from bot.app import build_app
from brandgate.errors import ConfigError
from brandgate.settings import Settings
from tests.bot.conftest import MARKETING, ROOT, SECRET, BotUnderTest
from tests.fake_slack import FakeSlack, fake_token, sign


def _nothing_happened(served: BotUnderTest) -> None:
    time.sleep(0.3)
    assert served.records.submissions == []
    assert [c.method for c in served.slack.calls if c.method != "auth.test"] == []  # auth.test: at start-up


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR] == []


@pytest.mark.parametrize("timestamp", ["abc", "", "1_700_000_000", "9" * 5000, "17e8", "-1"])
def test_a_timestamp_that_is_not_a_number_is_a_401(
    served: BotUnderTest, caplog: pytest.LogCaptureFixture, timestamp: str
) -> None:
    body = b"command=%2Fbrandgate&text=help"
    signature = sign(SECRET, body)["X-Slack-Signature"]
    response = served.bot.http.post(
        "/slack/events",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": timestamp,
            "X-Slack-Signature": signature,
        },
    )
    assert response.status_code == 401
    _nothing_happened(served)
    _no_traceback(caplog)


def test_a_signature_with_non_ascii_characters_is_a_401(served: BotUnderTest, caplog: pytest.LogCaptureFixture) -> None:
    body = b"command=%2Fbrandgate&text=help"
    headers = sign(SECRET, body)
    headers["X-Slack-Signature"] = "v0=" + "\u00e9" * 64
    response = served.bot.http.post(
        "/slack/events",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            **{k: v.encode("latin-1") for k, v in headers.items()},
        },  # type: ignore[dict-item]
    )
    assert response.status_code == 401
    _no_traceback(caplog)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"{not json", "application/json"),
        (b'{"type": "event_callback", "event": ', "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"a string"', "application/json"),
        (b"[" * 5000 + b"]" * 5000, "application/json"),
        (b"{" + b'"a":{' * 3000 + b"}" * 3001, "application/json"),
        (b"payload=%7Bnot-json", "application/x-www-form-urlencoded"),
        (b"payload=%5B%5D", "application/x-www-form-urlencoded"),
        (b"payload=", "application/x-www-form-urlencoded"),
        # bolt's own middleware reads `event` from any body, and would raise on a null or a string there.
        (b'{"type": "url_verification", "challenge": "x", "event": null}', "application/json"),
        (
            b"command=%2Fbrandgate&team_id=T0TESTTEAM&user_id=UMARKETER&channel_id=CMARKETING&trigger_id=1.2&event=x",
            "application/x-www-form-urlencoded",
        ),
        (
            b'{"type": "event_callback", "team_id": "T0TESTTEAM", "event": {"type": "app_mention", "user": []}}',
            "application/json",
        ),
    ],
    ids=[
        "truncated",
        "cut-off-event",
        "list",
        "string",
        "deep-list",
        "deep-object",
        "payload",
        "payload-list",
        "empty",
        "null-event",
        "command-with-event",
        "mention-by-a-list",
    ],
)
def test_signed_malformed_bodies_are_a_400_and_unsigned_ones_a_401(
    served: BotUnderTest, caplog: pytest.LogCaptureFixture, body: bytes, content_type: str
) -> None:
    assert served.bot.post(body, content_type).status_code == 400
    unsigned = served.bot.http.post("/slack/events", content=body, headers={"Content-Type": content_type})
    assert unsigned.status_code == 401
    _nothing_happened(served)
    _no_traceback(caplog)


@pytest.mark.parametrize(
    "payload",
    [
        {"type": "block_actions", "user": "UMARKETER", "team": "T0TESTTEAM", "actions": "x"},
        {"type": "block_actions", "user": {"id": 5}, "team": {"id": None}, "actions": [None]},
        {"type": "view_submission", "view": "not a view", "user": {"id": "U"}, "team": {"id": "T0TESTTEAM"}},
        {"type": "view_submission", "view": {"callback_id": "brief_modal", "state": 7}, "team": ["T"]},
        {"type": 17},
    ],
    ids=["strings-for-objects", "wrong-types", "view-string", "state-number", "type-number"],
)
def test_signed_payloads_of_the_wrong_shape_are_refused_without_a_500(
    served: BotUnderTest, caplog: pytest.LogCaptureFixture, payload: dict[str, object]
) -> None:
    response = served.bot.interactive(payload)
    assert 200 <= response.status_code < 500, response.text
    _nothing_happened(served)
    _no_traceback(caplog)


def test_an_event_of_the_wrong_shape_is_refused_without_a_500(
    served: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    body = json.dumps({"type": "event_callback", "team_id": 3, "event": {"type": "app_mention", "user": []}}).encode()
    response = served.bot.post(body, "application/json")
    assert 200 <= response.status_code < 500
    _no_traceback(caplog)


def test_a_command_missing_its_fields_is_refused_without_a_500(
    served: BotUnderTest, caplog: pytest.LogCaptureFixture
) -> None:
    body = urllib.parse.urlencode({"command": "/brandgate", "text": '"apples" kit=acme'}).encode()
    response = served.bot.post(body, "application/x-www-form-urlencoded")
    assert 200 <= response.status_code < 500
    time.sleep(0.3)
    assert served.records.submissions == []
    _no_traceback(caplog)


# --- start-up ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["", "   "])
def test_an_empty_signing_secret_refuses_to_build_the_app(bot_settings: Settings, secret: str) -> None:
    with pytest.raises(ConfigError, match="BRANDGATE_SLACK_SIGNING_SECRET, neither empty"):
        build_app(bot_settings.model_copy(update={"slack_signing_secret": _secret(secret)}))


def test_a_token_slack_refuses_is_one_line_naming_the_setting(bot_settings: Settings) -> None:
    with pytest.raises(ConfigError) as refused:
        build_app(bot_settings.model_copy(update={"slack_bot_token": _secret("xoxb-revoked")}))
    assert str(refused.value).startswith("Slack refused BRANDGATE_SLACK_BOT_TOKEN (invalid_auth)")
    assert "xoxb-revoked" not in str(refused.value)


def _secret(value: str) -> object:
    from pydantic import SecretStr

    return SecretStr(value)


def _bot_process(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("BRANDGATE_")}
    base.update({"BRANDGATE_DATABASE_URL": f"sqlite:///{tmp_path / 'brandgate.db'}", **env})
    return subprocess.run(
        [sys.executable, "-m", "brandgate", "bot", "--port", "9"],
        cwd=ROOT,
        env=base,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "the bot needs BRANDGATE_SLACK_BOT_TOKEN (xoxb-…) and BRANDGATE_SLACK_SIGNING_SECRET"),
        ({"BRANDGATE_SLACK_BOT_TOKEN": "xoxb-secret-token-1", "BRANDGATE_SLACK_SIGNING_SECRET": ""}, "neither empty"),
        (
            {
                "BRANDGATE_SLACK_BOT_TOKEN": "xoxb-secret-token-1",
                "BRANDGATE_SLACK_SIGNING_SECRET": SECRET,
                "BRANDGATE_SLACK_API_URL": "http://127.0.0.1:9/api/",
            },
            "cannot reach the Slack Web API at http://127.0.0.1:9/api/",
        ),
    ],
    ids=["no-secrets", "empty-secret", "unreachable-api"],
)
def test_brandgate_bot_refuses_to_start_with_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str], expected: str
) -> None:
    done = _bot_process(tmp_path, **env)
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and expected in done.stderr
    assert "xoxb-secret-token-1" not in done.stderr + done.stdout


def test_brandgate_bot_with_a_refused_token_exits_2(tmp_path: Path, slack: FakeSlack) -> None:
    done = _bot_process(
        tmp_path,
        BRANDGATE_SLACK_BOT_TOKEN="xoxb-secret-token-1",
        BRANDGATE_SLACK_SIGNING_SECRET=SECRET,
        BRANDGATE_SLACK_API_URL=slack.api_url,
    )
    assert done.returncode == 2
    assert done.stderr.startswith("error: Slack refused BRANDGATE_SLACK_BOT_TOKEN (invalid_auth)")
    assert done.stderr.count("\n") == 1 and "xoxb-secret-token-1" not in done.stderr


# --- /brandgate verify downloads -----------------------------------------------------------------------


def _told(served: BotUnderTest) -> str:
    return str(served.slack.wait_calls("chat.postEphemeral")[0].params["text"])


def test_verify_refuses_a_file_url_off_slack_s_file_hosts_and_sends_it_no_token(served: BotUnderTest) -> None:
    with FakeSlack() as elsewhere:
        file_id = served.slack.share_file(MARKETING, "poster.png", b"\x89PNG", url=f"{elsewhere.base}/elsewhere/x.png")
        served.bot.command(f"verify {file_id}")
        told = _told(served)
        assert "not from Slack's file hosts" in told and "BRANDGATE_SLACK_FILE_HOSTS" in told
        assert elsewhere.downloads == []


def test_verify_never_forwards_the_token_on_a_redirect_off_the_file_hosts(served: BotUnderTest) -> None:
    with FakeSlack() as elsewhere:
        file_id = served.slack.share_file(MARKETING, "poster.png", b"\x89PNG")
        served.slack.redirects[f"/files-pri/{file_id}/poster.png"] = f"{elsewhere.base}/elsewhere/{file_id}"
        served.bot.command(f"verify {file_id}")
        assert "not from Slack's file hosts" in _told(served)
        assert elsewhere.downloads == []  # not even asked without the token
    [asked] = served.slack.downloads
    assert asked.authorization == f"Bearer {fake_token()}"  # only the URL Slack gave got the token


def test_verify_follows_a_redirect_within_the_file_hosts_without_the_token(served: BotUnderTest) -> None:
    file_id = served.slack.share_file(
        MARKETING, "poster.png", (ROOT / "brand_kits/acme/logos/acme-primary.png").read_bytes()
    )
    served.slack.redirects[f"/files-pri/{file_id}/poster.png"] = f"/files-pub/{file_id}"
    served.bot.command(f"verify {file_id}")
    answer = served.slack.wait_calls("chat.postEphemeral")[0].params
    assert "*poster.png*: No content credentials" in str(answer["blocks"])  # downloaded and checked
    first, second = served.slack.downloads
    assert first.authorization == f"Bearer {fake_token()}" and second.authorization is None


def test_verify_stops_reading_a_file_larger_than_slack_said(served: BotUnderTest) -> None:
    served.bot.runtime.settings.max_image_bytes = 1000
    file_id = served.slack.share_file(MARKETING, "huge.png", b"\x89PNG" + b"x" * 5000, size=10)
    served.bot.command(f"verify {file_id}")
    assert "larger than 1,000 bytes; not checked" in _told(served)


def test_verify_refuses_a_file_slack_says_is_too_large_without_downloading_it(served: BotUnderTest) -> None:
    served.bot.runtime.settings.max_image_bytes = 1000
    file_id = served.slack.share_file(MARKETING, "huge.png", b"\x89PNG" + b"x" * 5000)
    served.bot.command(f"verify {file_id}")
    assert "huge.png is 5,004 bytes; files over 1,000 are not checked" in _told(served)
    assert served.slack.downloads == []


def test_a_command_whose_text_says_payload_is_read_as_the_command_it_is(served: BotUnderTest) -> None:
    # bolt alone reads any form body containing "payload" as an interactive payload, and drops it.
    response = served.bot.command('"a payload bay with five red apples" kit=acme n=1')
    assert response.status_code == 200
    served.slack.wait_calls("chat.postEphemeral")
    [submission] = served.records.submissions
    assert submission.brief.prompt == "a payload bay with five red apples"

"""Posting a report and an alert to a local fake Slack Web API."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from brandgate.errors import ConfigError
from brandgate.regress.channel_posts import SlackPostFailed, post_alert, post_report, report_blocks
from brandgate.regress.report import RunView
from brandgate.settings import Settings
from tests.fake_slack import FakeSlack, fake_token


def _night(run_id: str, pass_rate: float, suite: str) -> RunView:
    summary = {
        "outputs_expected": 4, "outputs_measured": 4, "pass_rate": pass_rate, "acceptance_rate": pass_rate,
        "pass_rate_by_family": {"typography": pass_rate}, "latency_s": {"p95": 1.25},
        "cost_per_usable_image_usd": 0.0125 if pass_rate else None, "watchdog_clean": True,
    }
    return RunView(run_id, suite, "preview", "complete", 2, 2, None, None, summary, [])


def test_report_is_a_block_kit_summary_with_last_night_beside_tonight(settings: Settings, tmp_path: Path) -> None:
    suite = str(tmp_path / "suites" / "core.yaml")
    report = tmp_path / "report-r2.html"
    report.write_text("<html>every output</html>")
    tonight, last = _night("r2" * 8, 0.0, suite), _night("r1" * 8, 0.75, suite)
    with FakeSlack() as slack:
        configured = settings.model_copy(
            update={
                "slack_api_url": slack.api_url,
                "slack_bot_token": SecretStr(fake_token()),
                "slack_report_channel": "C123",
            }
        )
        post_report(configured, tonight, report, last=last)
    assert [c.method for c in slack.calls] == [
        "chat.postMessage", "files.getUploadURLExternal", "upload", "files.completeUploadExternal"
    ]
    [message] = slack.calls_to("chat.postMessage")
    blocks = message.params["blocks"]
    assert blocks[0]["type"] == "header" and "NOTHING PASSED" in blocks[0]["text"]["text"]
    assert "core.yaml" in blocks[0]["text"]["text"]
    fields = [f["text"] for b in blocks if b["type"] == "section" for f in b.get("fields", [])]
    # two columns: tonight on the left, last night on the right, row by row
    assert fields[:2] == ["*Tonight*", "*Last night*"]
    row = fields.index("*pass rate*: 0.0%")
    assert row % 2 == 0 and fields[row + 1] == "*pass rate*: 75.0%"
    assert "*cost per usable image*: ∞ (nothing usable)" in fields and "*cost per usable image*: $0.01250" in fields
    assert all(len(b.get("fields", [])) <= 10 for b in blocks)
    # no server path anywhere in what Slack received
    assert str(tmp_path) not in json.dumps(message.params) and "/" not in blocks[0]["text"]["text"]
    [uploaded] = slack.uploads.values()
    assert b"every output" in uploaded
    [complete] = slack.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == "C123"
    assert re.fullmatch(r"\d+\.\d{6}", complete.params["thread_ts"])  # in the summary's thread


def test_a_first_night_says_there_is_nothing_to_compare_with(tmp_path: Path) -> None:
    blocks = report_blocks(_night("r1" * 8, 0.5, str(tmp_path / "core.yaml")), None)
    assert "no last night to compare with" in blocks[1]["elements"][0]["text"]
    fields = [f["text"] for b in blocks if b["type"] == "section" for f in b.get("fields", [])]
    assert "*pass rate*: 50.0%" in fields and "*pass rate*: n/a" in fields


def test_alert_goes_to_the_report_channel(settings: Settings) -> None:
    with FakeSlack() as slack:
        configured = settings.model_copy(
            update={
                "slack_api_url": slack.api_url,
                "slack_bot_token": SecretStr(fake_token()),
                "slack_report_channel": "C9",
            }
        )
        post_alert(configured, "rolled back cand → preview")
    [alert] = slack.calls_to("chat.postMessage")
    assert alert.params == {"channel": "C9", "text": "rolled back cand → preview"}


def test_the_api_url_without_its_trailing_slash_and_a_429_are_handled_like_the_bot(settings: Settings) -> None:
    with FakeSlack() as slack:
        slack.rate_limit("chat.postMessage", retry_after=1)
        configured = settings.model_copy(
            update={
                "slack_api_url": slack.api_url.rstrip("/"),
                "slack_bot_token": SecretStr(fake_token()),
                "slack_report_channel": "C9",
            }
        )
        post_alert(configured, "nightly run refused")
    limited, delivered = slack.calls_to("chat.postMessage")
    assert limited.params["_rate_limited"] and delivered.params["text"] == "nightly run refused"


def test_missing_channel_or_token_is_a_config_error(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        post_alert(settings, "x")
    with pytest.raises(ConfigError, match="SLACK_REPORT_CHANNEL"):
        post_alert(settings.model_copy(update={"slack_bot_token": SecretStr("xoxb-test")}), "x")


def test_refused_token_names_the_reason(settings: Settings) -> None:
    with FakeSlack() as slack:
        configured = settings.model_copy(
            update={
                "slack_api_url": slack.api_url,
                "slack_bot_token": SecretStr("xoxb-wrong"),
                "slack_report_channel": "C9",
            }
        )
        with pytest.raises(SlackPostFailed, match="invalid_auth"):
            post_alert(configured, "x")

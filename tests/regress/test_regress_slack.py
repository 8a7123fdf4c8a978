"""Posting a report and an alert to a local fake Slack Web API."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from brandgate.errors import ConfigError
from brandgate.regress.slack import SlackPostFailed, post_alert, post_report
from brandgate.settings import Settings
from tests.fake_slack import FakeSlack, fake_token


def test_report_is_uploaded_with_the_summary(settings: Settings, tmp_path: Path) -> None:
    report = tmp_path / "report-r1.html"
    report.write_text("<html>every output</html>")
    with FakeSlack() as slack:
        configured = settings.model_copy(
            update={
                "slack_api_url": slack.api_url,
                "slack_bot_token": SecretStr(fake_token()),
                "slack_report_channel": "C123",
            }
        )
        post_report(configured, "acceptance 80.0%", report, title="brandgate regression r1")
    assert [c.method for c in slack.calls] == ["files.getUploadURLExternal", "upload", "files.completeUploadExternal"]
    [uploaded] = slack.uploads.values()
    assert b"every output" in uploaded
    [complete] = slack.calls_to("files.completeUploadExternal")
    assert complete.params["channel_id"] == "C123"
    assert complete.params["initial_comment"] == "acceptance 80.0%"


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

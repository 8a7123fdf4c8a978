"""Posting a report and an alert to a local fake Slack Web API."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from brandgate.errors import ConfigError
from brandgate.regress.slack import SlackPostFailed, post_alert, post_report
from brandgate.settings import Settings
from tests.regress.fake_slack import fake_slack


def test_report_is_uploaded_with_the_summary(settings: Settings, tmp_path: Path) -> None:
    report = tmp_path / "report-r1.html"
    report.write_text("<html>every output</html>")
    with fake_slack() as (url, received):
        configured = settings.model_copy(
            update={"slack_api_url": url, "slack_bot_token": SecretStr("xoxb-test"), "slack_report_channel": "C123"}
        )
        post_report(configured, "acceptance 80.0%", report, title="brandgate regression r1")
    assert received.methods() == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    assert received.uploads and b"every output" in received.uploads[0]
    complete = received.call("files.completeUploadExternal")
    assert complete["channel_id"] == "C123"
    assert complete["initial_comment"] == "acceptance 80.0%"


def test_alert_goes_to_the_report_channel(settings: Settings) -> None:
    with fake_slack() as (url, received):
        configured = settings.model_copy(
            update={"slack_api_url": url, "slack_bot_token": SecretStr("xoxb-test"), "slack_report_channel": "C9"}
        )
        post_alert(configured, "rolled back cand → preview")
    assert received.call("chat.postMessage") == {"channel": "C9", "text": "rolled back cand → preview"}


def test_missing_channel_or_token_is_a_config_error(settings: Settings, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        post_alert(settings, "x")
    with pytest.raises(ConfigError, match="SLACK_REPORT_CHANNEL"):
        post_alert(settings.model_copy(update={"slack_bot_token": SecretStr("xoxb-test")}), "x")


def test_refused_token_names_the_reason(settings: Settings) -> None:
    with fake_slack() as (url, _):
        configured = settings.model_copy(
            update={"slack_api_url": url, "slack_bot_token": SecretStr("xoxb-wrong"), "slack_report_channel": "C9"}
        )
        with pytest.raises(SlackPostFailed, match="invalid_auth"):
            post_alert(configured, "x")

"""Posting regression reports and rollback alerts to the configured Slack channel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from brandgate.errors import BrandgateError, ConfigError
from brandgate.settings import Settings


class SlackPostFailed(BrandgateError):
    """Slack refused or could not be reached; the report is still on disk."""


def _client(settings: Settings, channel: str | None = None, setting: str = "REPORT") -> tuple[Any, str]:
    from slack_sdk import WebClient

    if settings.slack_bot_token is None:
        raise ConfigError("posting to Slack needs BRANDGATE_SLACK_BOT_TOKEN")
    target = settings.slack_report_channel if setting == "REPORT" else channel
    if not target:
        raise ConfigError(f"posting to Slack needs BRANDGATE_SLACK_{setting}_CHANNEL (a channel ID)")
    client = WebClient(token=settings.slack_bot_token.get_secret_value(), base_url=settings.slack_api_url, timeout=30)
    return client, target


def post_report(settings: Settings, text: str, report: Path, title: str) -> None:
    """The summary as the message and the HTML report as a file in the report channel."""
    from slack_sdk.errors import SlackApiError

    client, channel = _client(settings)
    try:
        client.files_upload_v2(
            channel=channel, file=str(report), filename=report.name, title=title, initial_comment=text
        )
    except SlackApiError as exc:
        reason = exc.response.get("error", exc)
        raise SlackPostFailed(f"Slack refused the report: {reason}; it is at {report}") from None
    except OSError as exc:
        raise SlackPostFailed(f"could not reach Slack ({exc}); the report is at {report}") from None


def post_alert(settings: Settings, text: str, *, compliance: bool = False) -> None:
    """A plain message in the report channel (rollbacks, refused nightly runs), or in the
    compliance channel (the audit chain's daily head)."""
    from slack_sdk.errors import SlackApiError

    if compliance:
        client, channel = _client(settings, settings.slack_compliance_channel, "COMPLIANCE")
    else:
        client, channel = _client(settings)
    try:
        client.chat_postMessage(channel=channel, text=text)
    except SlackApiError as exc:
        raise SlackPostFailed(f"Slack refused the alert: {exc.response.get('error', exc)}") from None
    except OSError as exc:
        raise SlackPostFailed(f"could not reach Slack: {exc}") from None

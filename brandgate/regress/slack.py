"""Posting regression reports and rollback alerts to the configured Slack channel."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from brandgate.errors import BrandgateError, ConfigError
from brandgate.logs import redact_secrets
from brandgate.settings import Settings
from brandgate.slack_client import web_client

if TYPE_CHECKING:
    from slack_sdk import WebClient


class SlackPostFailed(BrandgateError):
    """Slack refused or could not be reached; the report is still on disk."""

    def __init__(self, message: str) -> None:
        # A proxy's error page may quote the request's headers, bot token included.
        super().__init__(redact_secrets(message))


def _client(settings: Settings, *, compliance: bool = False) -> tuple[WebClient, str]:
    client = web_client(settings, "posting to Slack")
    channel = settings.slack_compliance_channel if compliance else settings.slack_report_channel
    if not channel:
        name = "COMPLIANCE" if compliance else "REPORT"
        raise ConfigError(f"posting to Slack needs BRANDGATE_SLACK_{name}_CHANNEL (a channel ID)")
    return client, channel


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

    client, channel = _client(settings, compliance=compliance)
    try:
        client.chat_postMessage(channel=channel, text=text)
    except SlackApiError as exc:
        raise SlackPostFailed(f"Slack refused the alert: {exc.response.get('error', exc)}") from None
    except OSError as exc:
        raise SlackPostFailed(f"could not reach Slack: {exc}") from None

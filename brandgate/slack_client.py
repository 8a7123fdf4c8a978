"""The one Slack Web API client brandgate builds (bot and regression reports): base URL, timeout, 429s waited out."""

from __future__ import annotations

from typing import TYPE_CHECKING

from brandgate.errors import ConfigError
from brandgate.settings import Settings

if TYPE_CHECKING:
    from slack_sdk import WebClient


def web_client(settings: Settings, what: str = "posting to Slack") -> WebClient:
    """A client with the bot token, talking to `BRANDGATE_SLACK_API_URL`.

    The SDK joins method names onto the base URL as a string, so a base without its trailing slash
    would call `…/apichat.postMessage`; a call answered 429 waits for Retry-After and goes on.
    """
    # Imported here: the CLI loads this module for commands that never talk to Slack.
    from slack_sdk import WebClient
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    token = settings.slack_bot_token.get_secret_value().strip() if settings.slack_bot_token else ""
    if not token:
        raise ConfigError(f"{what} needs BRANDGATE_SLACK_BOT_TOKEN (xoxb-…, the app's Bot User OAuth Token)")
    base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    return WebClient(
        token=token,
        base_url=base_url,
        timeout=30,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=settings.slack_rate_limit_retries)],
    )

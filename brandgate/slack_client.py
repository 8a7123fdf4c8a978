"""The one Slack Web API client brandgate builds (bot and regression reports): base URL, timeout, 429s waited out."""

from __future__ import annotations

import urllib.request
from http.client import HTTPMessage
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import urlsplit

from brandgate.errors import ConfigError
from brandgate.settings import Settings

if TYPE_CHECKING:
    from slack_sdk import WebClient


class SlackRedirectRefused(ConfigError):
    """The Web API answered with a redirect to another origin; the token is never sent there."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or {"http": 80, "https": 443}.get(scheme)
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port


def _shown_origin(url: str) -> str:
    scheme, host, port = _origin(url)
    return f"{scheme}://{host}:{port}" if host else "a URL that is not http(s)"


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    # urllib copies every header onto a redirected request, Authorization included, to any host.
    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: HTTPMessage, newurl: str
    ) -> urllib.request.Request | None:
        if _origin(newurl) != _origin(req.full_url):
            fp.close()
            raise SlackRedirectRefused(
                f"the Slack Web API at {_shown_origin(req.full_url)} redirected to {_shown_origin(newurl)},"
                " another origin; not followed, so the bot token is not sent there"
                " (check BRANDGATE_SLACK_API_URL and any proxy in front of it)"
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def web_client(settings: Settings, what: str = "posting to Slack") -> WebClient:
    """A client with the bot token, talking to `BRANDGATE_SLACK_API_URL`.

    The SDK joins method names onto the base URL as a string, so a base without its trailing slash
    would call `…/apichat.postMessage`; a call answered 429 waits for Retry-After and goes on. A
    redirect is followed only within the API's own origin.
    """
    # Imported here: the CLI loads this module for commands that never talk to Slack.
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackRequestError
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

    class SameOriginWebClient(WebClient):
        """The SDK's client, but its HTTP opener never follows a redirect to another origin."""

        def _perform_urllib_http_request_internal(self, url: str, req: urllib.request.Request) -> dict[str, Any]:
            if not url.lower().startswith(("http://", "https://")):
                raise SlackRequestError(f"Invalid URL detected: {url}")
            handlers: list[urllib.request.BaseHandler] = [
                urllib.request.HTTPSHandler(context=self.ssl),
                _SameOriginRedirects(),
            ]
            if self.proxy:
                handlers.insert(0, urllib.request.ProxyHandler({"http": self.proxy, "https": self.proxy}))
            resp = urllib.request.build_opener(*handlers).open(req, timeout=self.timeout)
            if resp.headers.get_content_type() == "application/gzip":
                return {"status": resp.code, "headers": resp.headers, "body": resp.read()}
            charset = resp.headers.get_content_charset() or "utf-8"
            return {"status": resp.code, "headers": resp.headers, "body": resp.read().decode(charset)}

    token = settings.slack_bot_token.get_secret_value().strip() if settings.slack_bot_token else ""
    if not token:
        raise ConfigError(f"{what} needs BRANDGATE_SLACK_BOT_TOKEN (xoxb-…, the app's Bot User OAuth Token)")
    base_url = settings.slack_api_url if settings.slack_api_url.endswith("/") else settings.slack_api_url + "/"
    return SameOriginWebClient(
        token=token,
        base_url=base_url,
        timeout=30,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=settings.slack_rate_limit_retries)],
    )

"""Fetching a file shared in Slack for `/brandgate verify`: only from Slack's file hosts, the token never forwarded."""

from __future__ import annotations

import http.client
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import Message
from typing import IO
from urllib.parse import quote, urljoin, urlsplit

from brandgate.errors import UserError

MAX_REDIRECTS = 3
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Everything a URL may hold unencoded, and `%` so that what is encoded already stays as it is.
_URL_SAFE = ":/?#[]@!$&'()*+,;=%~"


class DownloadRefused(UserError):
    """The file was not fetched: a host we do not send the token to, too large, or Slack said no."""


@dataclass(frozen=True)
class Origin:
    """Scheme, host and port: what decides whether a URL may receive the bot token."""

    scheme: str
    host: str
    port: int

    @classmethod
    def of(cls, url: str) -> Origin | None:
        """The origin of an absolute http(s) URL; None for anything else."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return None
        if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
            return None
        return cls(parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORTS[parts.scheme])

    @classmethod
    def allowed(cls, entry: str) -> Origin | None:
        """A setting entry: `files.slack.com` (https implied) or a full origin such as `http://127.0.0.1:8080`."""
        return cls.of(entry if "://" in entry else f"https://{entry}")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # urllib copies every header, Authorization included, onto the redirected request, to any host;
    # redirects are followed by hand below instead, each hop checked and without the token.
    def redirect_request(
        self, req: urllib.request.Request, fp: IO[bytes], code: int, msg: str, headers: Message, newurl: str
    ) -> urllib.request.Request | None:
        return None


def download_shared_file(url: str, token: str, allowed_hosts: Sequence[str], limit: int, timeout: float = 30) -> bytes:
    """The bytes of a Slack file URL (`url_private_download`), at most `limit` of them.

    The token is sent to the first URL only, and only when it is on one of `allowed_hosts`; a
    redirect is followed (up to MAX_REDIRECTS, without the token) only to another allowed host.
    """
    allowed = {origin for origin in (Origin.allowed(h) for h in allowed_hosts) if origin is not None}
    opener = urllib.request.build_opener(_NoRedirects)
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(MAX_REDIRECTS + 1):
        origin = Origin.of(url)
        if origin is None or origin not in allowed:
            where = origin.host if origin is not None else "a URL that is not http(s)"
            raise DownloadRefused(
                f"the file is served from {where}, not from Slack's file hosts; not downloaded"
                " (BRANDGATE_SLACK_FILE_HOSTS lists the hosts the bot fetches from)"
            )
        # Slack percent-encodes file names in its URLs; an unencoded one would not even reach the wire.
        request = urllib.request.Request(quote(url, safe=_URL_SAFE), headers=headers)
        try:
            with opener.open(request, timeout=timeout) as response:
                if response.headers.get_content_type() == "text/html":
                    # Slack answers a token without files:read with its sign-in page, not an error.
                    raise DownloadRefused("Slack sent a web page instead of the file; does the app have files:read?")
                return _read_at_most(response, limit)
        except urllib.error.HTTPError as exc:
            location = exc.headers.get("Location") if exc.code in (301, 302, 303, 307, 308) else None
            exc.close()
            if location is None:
                raise DownloadRefused(f"Slack answered HTTP {exc.code} for the file; not checked") from None
            url = urljoin(url, location)
            headers = {}  # the token goes to the URL Slack gave us, never to where that one sends us
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", None) or exc.__class__.__name__
            raise DownloadRefused(f"could not download the file from Slack ({reason})") from None
        except DownloadRefused:
            raise  # our own refusal (too large, a web page) is a ValueError too: keep its words
        except (http.client.InvalidURL, ValueError):  # control characters in what Slack gave
            raise DownloadRefused("Slack gave the file a URL that cannot be requested; not downloaded") from None
    raise DownloadRefused(f"the file's URL redirected more than {MAX_REDIRECTS} times; not downloaded")


def _read_at_most(response: IO[bytes], limit: int) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while chunk := response.read(64 * 1024):
        total += len(chunk)
        if total > limit:
            raise DownloadRefused(f"the file is larger than {limit:,} bytes; not checked")
        chunks.append(chunk)
    return b"".join(chunks)

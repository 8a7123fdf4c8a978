"""The bot token stays with the Slack Web API: no redirect carries it elsewhere, no error prints it."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.hostile.cli import assert_refused, environment, run

TOKEN = "xoxb-1234567890-0987654321-hostileSecretToken"


class Recorder:
    """A local HTTP server that answers each request with `answer(path)` and records its headers."""

    def __init__(self, answer: object) -> None:
        self.seen: list[dict[str, str]] = []
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _reply(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                recorder.seen.append({k.lower(): v for k, v in self.headers.items()})
                status, headers, body = answer(self.path)  # type: ignore[operator]
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _reply

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def servers() -> Iterator[tuple[Recorder, Recorder]]:
    ok = json.dumps({"ok": True, "user_id": "U1", "team_id": "T1", "bot_id": "B1", "url": "x"}).encode()
    elsewhere = Recorder(lambda path: (200, {"Content-Type": "application/json"}, ok))
    api = Recorder(lambda path: (302, {"Location": f"http://127.0.0.1:{elsewhere.port}{path}"}, b""))
    yield api, elsewhere
    api.close()
    elsewhere.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _bot_env(tmp_path: Path, api_url: str) -> dict[str, str]:
    return environment(
        tmp_path,
        BRANDGATE_SLACK_BOT_TOKEN=TOKEN,
        BRANDGATE_SLACK_SIGNING_SECRET="hostile-signing-secret",
        BRANDGATE_SLACK_API_URL=api_url,
    )


def test_a_redirect_to_another_origin_never_carries_the_token(
    tmp_path: Path, servers: tuple[Recorder, Recorder]
) -> None:
    api, elsewhere = servers
    env = _bot_env(tmp_path, f"http://127.0.0.1:{api.port}/api/")
    # Before the fix the bot followed the redirect, passed auth.test there and kept serving: the
    # runner's kill then fails this test, and the recorded headers say why.
    ran = run("bot", "--port", str(_free_port()), env=env)
    assert not any("authorization" in seen for seen in elsewhere.seen), elsewhere.seen
    assert api.seen and api.seen[0]["authorization"] == f"Bearer {TOKEN}"
    line = assert_refused(ran, "redirected to", "another origin", "BRANDGATE_SLACK_API_URL")
    assert TOKEN not in ran.stderr + ran.stdout, line


@pytest.mark.parametrize(
    ("status", "kind"),
    [(502, "text/plain"), (407, "text/plain"), (200, "text/plain"), (200, "application/json")],
    ids=["bad-gateway", "proxy-auth", "non-json", "json-error"],
)
def test_an_error_that_quotes_the_request_headers_never_prints_the_token(
    tmp_path: Path, status: int, kind: str
) -> None:
    quoted = f"request headers {{'Authorization': 'Bearer {TOKEN}', 'X-Token': '{TOKEN}'}}"
    page = (json.dumps({"ok": False, "error": f"invalid_auth; {quoted}"}) if kind == "application/json"
            else f"upstream said no; {quoted}").encode()
    proxy = Recorder(lambda path: (status, {"Content-Type": kind}, page))
    try:
        for verbose in ((), ("-v",)):
            ran = run(*verbose, "bot", "--port", str(_free_port()),
                      env=_bot_env(tmp_path, f"http://127.0.0.1:{proxy.port}/api/"))
            assert ran.code in (1, 2), ran.stderr[-2000:]
            assert "Traceback" not in ran.stderr, ran.stderr[-2000:]
            assert "hostileSecretToken" not in ran.stderr + ran.stdout, ran.stderr[-2000:]
    finally:
        proxy.close()


def test_a_report_post_refused_with_the_headers_quoted_never_shows_the_token(tmp_path: Path) -> None:
    from brandgate.regress.channel_posts import SlackPostFailed, post_alert
    from brandgate.settings import Settings

    proxy = Recorder(lambda path: (502, {"Content-Type": "text/plain"}, f"Authorization: Bearer {TOKEN}".encode()))
    try:
        settings = Settings(slack_bot_token=TOKEN, slack_api_url=f"http://127.0.0.1:{proxy.port}/api/",
                            slack_report_channel="C1")
        with pytest.raises(SlackPostFailed) as refused:
            post_alert(settings, "nightly run refused")
    finally:
        proxy.close()
    assert "hostileSecretToken" not in str(refused.value), str(refused.value)
    assert "[redacted]" in str(refused.value)

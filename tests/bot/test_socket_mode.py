"""Socket Mode: the same app over a WebSocket opened with apps.connections.open, against a local server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.app import build_app
from bot.brandgate_services import BrandgateServices
from bot.server import socket_mode_handler
from brandgate.errors import ConfigError
from brandgate.jobs.request_side import QueueFront
from brandgate.settings import Settings
from tests.bot.conftest import MARK, MARKETING, Records
from tests.fake_slack import FakeSlack, FakeSocketMode


@pytest.fixture
def socket_server(slack: FakeSlack) -> Iterator[FakeSocketMode]:
    with FakeSocketMode() as server:
        slack.socket_url = server.url
        yield server


def _command(text: str) -> dict[str, str]:
    return {
        "token": "x",
        "team_id": "T0TESTTEAM",
        "channel_id": MARKETING,
        "user_id": MARK,
        "command": "/brandgate",
        "text": text,
        "response_url": "http://127.0.0.1:9/r",
        "trigger_id": f"999.{uuid.uuid4().hex}",
    }


def test_commands_arrive_and_are_acked_over_the_websocket(
    real_settings: Settings,
    services: BrandgateServices,
    front: QueueFront,
    slack: FakeSlack,
    socket_server: FakeSocketMode,
) -> None:
    settings = real_settings.model_copy(update={"slack_app_token": SecretStr("xapp-1-test")})
    app = build_app(settings, services)
    handler = socket_mode_handler(app, settings)
    handler.connect()
    try:
        opened = slack.wait_calls("apps.connections.open")[0]
        assert opened.token == "xapp-1-test"  # the app-level token, not the bot token
        helped = socket_server.ack_for(socket_server.send("slash_commands", _command("help")))
        assert "/brandgate" in helped["payload"]["text"]
        bad = socket_server.ack_for(socket_server.send("slash_commands", _command('"unclosed kit=acme')))
        assert "double quote is not closed" in bad["payload"]["text"]
        socket_server.ack_for(socket_server.send("slash_commands", _command('"apples" kit=acme n=2')))
        slack.wait_calls("chat.postEphemeral")
        assert [s.brief.n for s in Records(front.sessions).submissions] == [2]
    finally:
        handler.close()


def test_socket_mode_without_an_app_token_is_a_clear_error(
    real_settings: Settings, services: BrandgateServices
) -> None:
    app = build_app(real_settings, services)
    with pytest.raises(ConfigError, match="BRANDGATE_SLACK_APP_TOKEN"):
        socket_mode_handler(app, real_settings)

"""`brandgate bot`: the Slack app, over HTTP (uvicorn) or Socket Mode."""

from __future__ import annotations

import click

from bot.app import build_app
from bot.server import serve_http, serve_socket_mode
from brandgate.errors import ConfigError
from brandgate.settings import get_settings


@click.command("bot")
@click.option("--socket-mode", is_flag=True, help="Connect out over Socket Mode (needs BRANDGATE_SLACK_APP_TOKEN).")
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP mode: address to listen on.")
@click.option("--port", default=3000, show_default=True, type=click.IntRange(1, 65535), help="HTTP mode: port.")
def bot_command(socket_mode: bool, host: str, port: int) -> None:
    """Run the Slack bot. HTTP mode serves /slack/events, /healthz and /metrics."""
    settings = get_settings()
    if socket_mode and settings.slack_app_token is None:
        raise ConfigError("--socket-mode needs BRANDGATE_SLACK_APP_TOKEN (xapp-…, with connections:write)")
    app = build_app(settings)
    if socket_mode:
        serve_socket_mode(app, settings)
    else:
        serve_http(app, settings, host, port)


def register(cli: click.Group) -> None:
    cli.add_command(bot_command)

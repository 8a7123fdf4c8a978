"""Events API: a mention of the bot gets the help in a thread; opening the app's Home shows the review desk."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import messages
from bot.listener_parts import Runtime


def register(app: App, runtime: Runtime) -> None:
    def acknowledge(ack: Ack) -> None:
        runtime.metrics.requests.labels(kind="event").inc()
        ack()

    def mentioned(event: dict[str, Any], client: WebClient) -> None:
        client.chat_postMessage(
            channel=str(event["channel"]),
            thread_ts=str(event.get("thread_ts") or event["ts"]),
            text=messages.help_text(),
        )

    def home_opened(event: dict[str, Any], body: dict[str, Any]) -> None:
        if event.get("tab") not in (None, "home"):
            return  # the Messages tab
        runtime.desk.publish(str(event["user"]), str(body.get("team_id") or "") or None)

    app.event("app_mention")(ack=acknowledge, lazy=[mentioned])
    app.event("app_home_opened")(ack=acknowledge, lazy=[home_opened])

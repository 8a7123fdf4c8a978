"""`/brandgate`: acked at once from the parsed text; the work (kits, queue, uploads) runs lazily after."""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import home, messages, slash
from bot.briefs import brief_for_channel, queue_brief
from bot.files import download_shared_file
from bot.listener_parts import Runtime
from brandgate.clock import now
from brandgate.errors import UserError
from brandgate.jobs.contract import UnknownRequest
from brandgate.requests.actors import slack_actor

log = logging.getLogger(__name__)
COMMAND = "/brandgate"


def register(app: App, runtime: Runtime) -> None:
    def acknowledge(ack: Ack, command: dict[str, Any]) -> None:
        # Only pure parsing happens before the ack: anything touching disk, queue or Slack is handed off.
        runtime.metrics.requests.labels(kind="command").inc()
        try:
            parsed = slash.parse(str(command.get("text", "")))
        except slash.SlashError as exc:
            ack(text=messages.error_text(str(exc)), response_type="ephemeral")
            return
        if isinstance(parsed, slash.Help):
            ack(text=messages.help_text(), response_type="ephemeral")
            return
        ack()
        # A hand-off rather than a bolt lazy listener: bolt deep-copies the whole request for each
        # lazy function, which was half the CPU of an ack; the command is the bot's busiest request.
        runtime.hand_off(work, parsed, dict(command))

    def work(parsed: slash.Command, command: dict[str, Any]) -> None:
        user, channel = str(command["user_id"]), str(command["channel_id"])
        response_url = command.get("response_url")
        try:
            _run(runtime, parsed, command, runtime.client)
        except UserError as exc:
            runtime.tell(channel, user, messages.error_text(str(exc)), response_url)
        except Exception:
            log.exception("/brandgate %r failed", command.get("text"))
            runtime.tell(
                channel,
                user,
                messages.error_text("something went wrong on our side; nothing was changed"),
                response_url,
            )

    app.command(COMMAND)(acknowledge)


@dataclass(frozen=True)
class Invocation:
    """Who typed the command, where, and how to answer them."""

    runtime: Runtime
    client: WebClient
    command: dict[str, Any]

    @property
    def user(self) -> str:
        return str(self.command["user_id"])

    @property
    def channel(self) -> str:
        return str(self.command["channel_id"])

    @property
    def team(self) -> str:
        return str(self.command["team_id"])

    @property
    def response_url(self) -> str | None:
        return self.command.get("response_url")


Handler = Callable[[Invocation, Any], None]
# What each parsed command does, by its type (bot/slash.py declares how it is parsed and its help).
HANDLERS: dict[type, Handler] = {}


def handles(kind: type) -> Callable[[Handler], Handler]:
    def register_handler(handler: Handler) -> Handler:
        HANDLERS[kind] = handler
        return handler

    return register_handler


def _run(runtime: Runtime, parsed: slash.Command, command: dict[str, Any], client: WebClient) -> None:
    HANDLERS[type(parsed)](Invocation(runtime, client, command), parsed)


@handles(slash.OpenModal)
def _open_modal(asked: Invocation, parsed: slash.OpenModal) -> None:
    kits = asked.runtime.access.kits_for_channel(asked.channel)
    if not kits:
        raise UserError(
            "no brand kit may be used in this channel; ask a brand manager to add it to a kit's slack.channels"
        )
    asked.client.views_open(
        trigger_id=asked.command["trigger_id"],
        view=messages.brief_modal([(k.name, k.spec.display_name or k.name) for k in kits], asked.channel),
    )


@handles(slash.QuickBrief)
def _quick_brief(asked: Invocation, parsed: slash.QuickBrief) -> None:
    brief = brief_for_channel(asked.runtime, dict(parsed.fields), asked.channel)
    queue_brief(
        asked.runtime,
        brief,
        team_id=asked.team,
        user_id=asked.user,
        channel=asked.channel,
        idempotency_key=f"slack:{asked.team}:command:{asked.command['trigger_id']}",
        kind="command",
        response_url=asked.response_url,
    )


@handles(slash.Status)
def _status(asked: Invocation, parsed: slash.Status) -> None:
    asked.runtime.tell(
        asked.channel, asked.user, _status_text(asked.runtime, asked.user, parsed.request_id), asked.response_url
    )


@handles(slash.Review)
def _review(asked: Invocation, parsed: slash.Review) -> None:
    runtime = asked.runtime
    names = [k.name for k in runtime.access.kits_for_channel(asked.channel)]
    items = runtime.services.waiting(names, limit=15) if names else []
    total = runtime.services.count_waiting(names) if names else 0
    runtime.tell(asked.channel, asked.user, home.review_list_text(items, total, names, now()), asked.response_url)


@handles(slash.Cancel)
def _cancel_command(asked: Invocation, parsed: slash.Cancel) -> None:
    _cancel(asked.runtime, asked.team, asked.user, asked.channel, parsed.request_id, asked.response_url)


@handles(slash.AuditQuery)
def _audit_command(asked: Invocation, parsed: slash.AuditQuery) -> None:
    _audit(asked.runtime, asked.client, asked.team, asked.user, asked.channel, parsed, asked.response_url)


@handles(slash.Verify)
def _verify_command(asked: Invocation, parsed: slash.Verify) -> None:
    _verify(asked.runtime, asked.client, asked.user, asked.channel, parsed.file_id, asked.response_url)


def _status_text(runtime: Runtime, user: str, request_id: str | None) -> str:
    if request_id is not None:
        try:
            status = runtime.services.queue.status(request_id)
        except UnknownRequest:
            raise UserError(f"there is no request `{request_id}`") from None
        return f"`{request_id}`: {status.describe()}"
    followed = runtime.tracker.followed_by(user)
    if not followed:
        return "You have nothing in progress. Start with `/brandgate`."
    lines = []
    for item in followed:
        try:
            lines.append(f"• `{item.request_id}`: {runtime.services.queue.status(item.request_id).describe()}")
        except UnknownRequest:
            continue
    return "\n".join(lines) or "You have nothing in progress."


def _cancel(runtime: Runtime, team: str, user: str, channel: str, request_id: str, response_url: str | None) -> None:
    try:
        owner = runtime.services.requester(request_id)
    except UnknownRequest:
        raise UserError(f"there is no request `{request_id}`") from None
    actor = slack_actor(team, user)
    if owner != actor and user not in runtime.settings.slack_managers:
        raise UserError("only the person who asked for a request can cancel it")
    status = runtime.services.queue.cancel(request_id, by=actor)
    runtime.tell(channel, user, f"`{request_id}`: {status.describe()}", response_url)


def _audit(
    runtime: Runtime,
    client: WebClient,
    team: str,
    user: str,
    channel: str,
    query: slash.AuditQuery,
    response_url: str | None,
) -> None:
    actor = slack_actor(team, user)
    if not runtime.access.is_compliance(user):
        runtime.services.record(actor, "slack.audit_refused", None, {"query": query.describe(), "channel": channel})
        raise UserError("only the compliance group can pull the audit trail")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    file_name = f"brandgate-audit-{stamp}.{query.format}"
    with tempfile.TemporaryDirectory(prefix="brandgate-audit-") as folder:
        path = Path(folder) / file_name
        with path.open("wb") as out:
            rows = runtime.services.export_trail(query, out)
        dm = client.conversations_open(users=user)
        dm_channel = str(dm["channel"]["id"])
        text = messages.audit_sent_text(rows, query.describe(), file_name)
        client.files_upload_v2(
            channel=dm_channel, file=str(path), filename=file_name, title=file_name, initial_comment=text
        )
    runtime.services.record(actor, "slack.audit_pulled", None, {"query": query.describe(), "rows": rows})
    runtime.tell(channel, user, f"{text} Check your DMs with brandgate.", response_url)


def _verify(
    runtime: Runtime, client: WebClient, user: str, channel: str, file_id: str | None, response_url: str | None
) -> None:
    if file_id is None:
        try:
            listed = client.files_list(channel=channel, count=1)
        except SlackApiError as exc:
            raise UserError(f"could not look for files in this channel ({exc.response.get('error')})") from None
        files = listed.get("files") or []
        if not files:
            raise UserError("no file has been shared in this channel; share one, then run `/brandgate verify`")
        file_id = str(files[0]["id"])
    try:
        info = client.files_info(file=file_id)["file"]
    except SlackApiError as exc:
        raise UserError(f"cannot open file {file_id} ({exc.response.get('error')})") from None
    name = messages.file_label(str(info.get("name") or file_id))
    limit = runtime.settings.max_image_bytes
    size = info.get("size")
    if isinstance(size, int) and size > limit:
        raise UserError(f"{name} is {size:,} bytes; files over {limit:,} are not checked")
    url = info.get("url_private_download") or info.get("url_private")
    if not isinstance(url, str) or not url:
        raise UserError(f"{name} cannot be downloaded by the bot")
    # Verified in memory: no temporary file, so no server path can reach a reply.
    data = download_shared_file(url, client.token or "", runtime.settings.slack_file_hosts, limit)
    summary = runtime.services.verify(data, name)
    client.chat_postEphemeral(
        channel=channel,
        user=user,
        text=f"Content credentials of {name}",
        blocks=messages.verify_blocks(name, summary),
    )

"""Image buttons in threads and the Home tab: Approve, Reject (asks why), Export HQ, Regenerate. Authorised first."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App, BoltContext
from slack_sdk import WebClient

from bot import home, messages
from bot.briefs import queue_brief
from bot.listener_parts import Runtime
from bot.middleware.authorisation import ImageClickAuthorisation, clicked
from bot.progress import Followed
from bot.services import DecisionTaken
from brandgate.errors import UserError
from brandgate.requests.actors import parse_actor, slack_actor
from brandgate.requests.images import ImageView
from policies.brief import brief_from_mapping
from policies.errors import InvalidInput

log = logging.getLogger(__name__)


def _thread_of(body: dict[str, Any]) -> str | None:
    message = body.get("message") or {}
    container = body.get("container") or {}
    thread = message.get("thread_ts") or container.get("thread_ts") or message.get("ts") or container.get("message_ts")
    return str(thread) if thread else None


def register(app: App, runtime: Runtime) -> None:
    authorise = [ImageClickAuthorisation(runtime)]

    def acknowledge(ack: Ack) -> None:
        runtime.metrics.requests.labels(kind="action").inc()
        ack()

    def approve(body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        image: ImageView = context["image"]
        _, _, user, team = clicked(body)
        channel = str(body["channel"]["id"])
        try:
            runtime.services.decide(
                image.image_id, "approved", slack_actor(team, user), None, decided_by_name=runtime.people.name(user)
            )
        except DecisionTaken as exc:
            runtime.tell(
                channel,
                user,
                messages.error_text(
                    f"Not done: that image was already {exc.decision} by {messages.mention(exc.decided_by)}."
                ),
            )
            return
        mark_decided(client, body, image.image_id, "approved", user, None)
        runtime.desk.edited_here(image.image_id)
        runtime.tracker.recount(image.request_id)

    def home_approve(body: dict[str, Any], context: BoltContext) -> None:
        image: ImageView = context["image"]
        _, _, user, team = clicked(body)
        notice = None
        try:
            runtime.services.decide(image.image_id, "approved", slack_actor(team, user), None)
        except DecisionTaken as exc:
            notice = messages.error_text(
                f"Not done: image `{image.image_id}` was already {exc.decision} by {messages.mention(exc.decided_by)}."
            )
        runtime.desk.publish(user, team, notice=notice)

    def home_reject(body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        image: ImageView = context["image"]
        client.views_open(trigger_id=body["trigger_id"], view=messages.reject_modal(image.image_id, "", ""))

    def home_page(body: dict[str, Any]) -> None:
        _, value, user, team = clicked(body)
        runtime.desk.publish(user, team, offset=int(value) if value.isdigit() else 0)

    def reject(body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
        image: ImageView = context["image"]
        message = body.get("message") or {}
        client.views_open(
            trigger_id=body["trigger_id"],
            view=messages.reject_modal(
                image.image_id, str(body["channel"]["id"]), str(message.get("ts", "")),
                messages.shown_file(message.get("blocks") or []),
            ),
        )

    def export(body: dict[str, Any], context: BoltContext) -> None:
        image: ImageView = context["image"]
        _, _, user, team = clicked(body)
        channel = str(body["channel"]["id"])
        try:
            accepted = runtime.services.queue.export(
                image.image_id,
                requested_by=slack_actor(team, user),
                idempotency_key=f"slack:{team}:export:{image.image_id}",
            )
        except UserError as exc:
            runtime.tell(channel, user, messages.error_text(str(exc)))
            return
        runtime.metrics.submitted.labels(kind="export").inc()
        if not accepted.duplicate:
            runtime.tracker.follow(
                Followed(
                    request_id=accepted.request_id,
                    team_id=team,
                    user_id=user,
                    channel=channel,
                    heading=f"<@{user}> asked for the HQ export of image `{image.image_id}`",
                    thread_ts=_thread_of(body),
                    kind="export",
                    naming=_naming(image.kit, image.brief),
                    approval=_approval_note(runtime, image),
                )
            )
        runtime.tell(channel, user, messages.queued_text(accepted))

    def regenerate(body: dict[str, Any], context: BoltContext) -> None:
        image: ImageView = context["image"]
        _, _, user, team = clicked(body)
        channel = str(body["channel"]["id"])
        fields = {k: v for k, v in image.brief.items() if k != "seed"}
        fields["n"] = 1
        try:
            brief = brief_from_mapping(fields, "brief")
        except InvalidInput as exc:
            runtime.tell(channel, user, messages.error_text(f"that image's brief cannot be re-run: {exc}"))
            return
        # One regeneration per image and person: a double click, or a second click later, finds the first.
        queue_brief(
            runtime,
            brief,
            team_id=team,
            user_id=user,
            channel=channel,
            idempotency_key=f"slack:{team}:regenerate:{image.image_id}:{user}",
            kind="regenerate",
            thread_ts=_thread_of(body),
        )

    app.action(messages.APPROVE, middleware=authorise)(ack=acknowledge, lazy=[approve])
    app.action(messages.REJECT, middleware=authorise)(ack=acknowledge, lazy=[reject])
    app.action(messages.EXPORT, middleware=authorise)(ack=acknowledge, lazy=[export])
    app.action(messages.REGENERATE, middleware=authorise)(ack=acknowledge, lazy=[regenerate])
    app.action(home.HOME_APPROVE, middleware=authorise)(ack=acknowledge, lazy=[home_approve])
    app.action(home.HOME_REJECT, middleware=authorise)(ack=acknowledge, lazy=[home_reject])
    app.action(home.HOME_PAGE)(ack=acknowledge, lazy=[home_page])


def _naming(kit: str, brief: Any) -> tuple[str, str | None, str]:
    headline = brief.get("headline") if isinstance(brief, dict) else None
    prompt = brief.get("prompt") if isinstance(brief, dict) else None
    return kit, headline if isinstance(headline, str) else None, prompt if isinstance(prompt, str) else "image"


def _approval_note(runtime: Runtime, image: ImageView) -> str | None:
    """"approved by Anna Lind (U0789ANNA)" for an export of an approved preview; None when it passed."""
    if image.verdict != "approved" or not image.decided_by:
        return None
    actor = parse_actor(image.decided_by)
    return f"approved by {runtime.people.label(actor[1]) if actor else image.decided_by}"


def mark_decided(
    client: WebClient, body: dict[str, Any], image_id: str, decision: str, user: str, reason: str | None
) -> None:
    """Edit the image's message in place: its Approve/Reject buttons go, the decision shows."""
    message = body.get("message") or {}
    channel = str((body.get("channel") or {}).get("id", ""))
    if not message.get("ts") or not channel:
        return
    blocks = messages.decided_blocks(message.get("blocks") or [], image_id, decision, user, reason)
    client.chat_update(channel=channel, ts=str(message["ts"]), text=f"Image {decision}", blocks=blocks)

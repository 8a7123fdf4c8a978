"""Modal submissions: the brief form and the reject reason. Field problems go back into the modal."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from bot import messages, slash
from bot.briefs import allowed_kit_names, queue_brief
from bot.listener_parts import Runtime
from bot.services import DecisionTaken
from brandgate.errors import UserError
from brandgate.jobs.contract import UnknownRequest
from brandgate.requests.actors import slack_actor
from policies.brief import Brief
from policies.errors import InvalidInput

log = logging.getLogger(__name__)
BRIEF_FIELDS = ("kit", "prompt", "headline", "disclaimer", "counts", "n", "size")


def _value(state: dict[str, Any], block_id: str) -> str | None:
    """The submitted value of an input block, whatever element it is; None when empty or absent."""
    block = state.get(block_id)
    element = block.get("value") if isinstance(block, dict) else None
    if not isinstance(element, dict):
        return None
    selected = element.get("selected_option")
    value = selected.get("value") if isinstance(selected, dict) else element.get("value")
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _metadata(view: dict[str, Any]) -> dict[str, Any]:
    try:
        data = json.loads(view.get("private_metadata") or "{}")
    except (ValueError, RecursionError):  # we wrote it, but it comes back in a request
        return {}
    return data if isinstance(data, dict) else {}


def read_brief_form(view: dict[str, Any], allowed_kits: list[str]) -> tuple[Brief | None, dict[str, str]]:
    """The brief from the form, or the errors by block ID as Slack shows them under each field."""
    state = (view.get("state") or {}).get("values") or {}
    errors: dict[str, str] = {}
    fields: dict[str, Any] = {}
    kit = _value(state, "kit")
    if not kit:
        errors["kit"] = "Choose a brand kit."
    elif kit not in allowed_kits:
        errors["kit"] = f"This kit can't be used here. Choose one of: {', '.join(allowed_kits) or 'none'}."
    else:
        fields["kit"] = kit
    prompt = _value(state, "prompt")
    if not prompt:
        errors["prompt"] = "Describe what the image should show."
    else:
        fields["prompt"] = prompt
    for name in ("headline", "disclaimer"):
        value = _value(state, name)
        if value:
            fields[name] = value
    counts = _value(state, "counts")
    if counts:
        try:
            fields["counts"] = slash.parse_counts(counts)
        except slash.SlashError as exc:
            errors["counts"] = str(exc).removeprefix("counts: ")
    n = _value(state, "n")
    if n is None:
        errors["n"] = "Say how many images (1 or more)."
    elif not re.fullmatch(r"\d{1,3}", n):
        errors["n"] = f"{n!r} is not a whole number."
    else:
        fields["n"] = int(n)
    size = _value(state, "size")
    if size:
        try:
            fields["size"] = slash.parse_size(size)
        except slash.SlashError as exc:
            errors["size"] = str(exc)
    if errors:
        return None, errors
    try:
        return Brief.model_validate(fields), {}
    except Exception as exc:  # pydantic's ValidationError: one message per field, shown under that field
        for err in getattr(exc, "errors", lambda: [])():
            block = str(err["loc"][0]) if err.get("loc") else "prompt"
            errors[block if block in BRIEF_FIELDS else "prompt"] = str(err["msg"]).removeprefix("Value error, ")
        return None, errors or {"prompt": str(exc)}


def register(app: App, runtime: Runtime) -> None:
    def acknowledge_brief(ack: Ack, view: dict[str, Any]) -> None:
        runtime.metrics.requests.labels(kind="view").inc()
        channel = str(_metadata(view).get("channel", ""))
        _, errors = read_brief_form(view, allowed_kit_names(runtime, channel) if channel else [])
        if errors:
            ack(response_action="errors", errors=errors)
            return
        ack()

    def submit_brief(body: dict[str, Any], view: dict[str, Any]) -> None:
        channel = str(_metadata(view).get("channel", ""))
        brief, _ = read_brief_form(view, allowed_kit_names(runtime, channel))
        if brief is None:
            return  # lazy listeners run even when the ack sent the form back with errors
        user = str(body["user"]["id"])
        team = str((body.get("team") or {}).get("id") or body["user"].get("team_id"))
        queue_brief(
            runtime,
            brief,
            team_id=team,
            user_id=user,
            channel=channel,
            # The view's ID is the same on every retry of this submission and unique to this form.
            idempotency_key=f"slack:{team}:modal:{view['id']}",
            kind="modal",
        )

    def acknowledge_reject(ack: Ack, view: dict[str, Any]) -> None:
        runtime.metrics.requests.labels(kind="view").inc()
        reason = _value((view.get("state") or {}).get("values") or {}, "reason")
        if not reason or len(reason) < 3:
            ack(response_action="errors", errors={"reason": "Say why, in a few words: the requester will read it."})
            return
        ack()

    def submit_reject(body: dict[str, Any], view: dict[str, Any], client: WebClient) -> None:
        meta = _metadata(view)
        reason = _value((view.get("state") or {}).get("values") or {}, "reason") or ""
        if len(reason) < 3:
            return  # lazy listeners run even when the ack sent the form back with errors
        user = str(body["user"]["id"])
        team = str((body.get("team") or {}).get("id") or body["user"].get("team_id"))
        image_id, channel, ts = str(meta.get("image", "")), str(meta.get("channel", "")), str(meta.get("ts", ""))
        # Decided later than the click: check again, since roles or the image may have changed meanwhile.
        try:
            image = runtime.services.image(image_id)
            if image.workspace is not None and image.workspace != team:
                raise UserError("that image belongs to another workspace")
            refusal = runtime.access.may_decide(user, runtime.access.kit(image.kit), image.requester)
            if refusal:
                raise UserError(refusal)
            runtime.services.decide(
                image_id, "rejected", slack_actor(team, user), reason, decided_by_name=runtime.people.name(user)
            )
        except (UserError, UnknownRequest, InvalidInput) as exc:
            if isinstance(exc, DecisionTaken):
                text = f"that image was already {exc.decision} by {messages.mention(exc.decided_by)}"
            else:
                text = str(exc)
            if channel:
                runtime.tell(channel, user, messages.error_text(f"Not done: {text}."))
            else:  # asked from the Home tab: told there
                runtime.desk.publish(user, team, notice=messages.error_text(f"Not done: {text}."))
            return
        if not channel:
            runtime.desk.publish(user, team)
        if channel and ts:
            # The message is rebuilt from the request's state, so no history scope is needed to edit it.
            status = runtime.services.queue.status(image.request_id)
            shown = [v for v in status.images if v.image_id == image_id]
            if shown:
                post = runtime.services.slack_posts([image_id]).get(image_id)
                blocks = messages.image_message_blocks(
                    shown[0], image.request_id, status.n_images, post.file_id if post is not None else None
                )
                client.chat_update(
                    channel=channel,
                    ts=ts,
                    text="Image rejected",
                    blocks=messages.decided_blocks(blocks, image_id, "rejected", user, reason),
                )
                runtime.desk.edited_here(image_id)
        runtime.tracker.recount(image.request_id)

    app.view(messages.BRIEF_MODAL)(ack=acknowledge_brief, lazy=[submit_brief])
    app.view(messages.REJECT_MODAL)(ack=acknowledge_reject, lazy=[submit_reject])

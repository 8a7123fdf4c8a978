"""Who may click: the request's workspace must be the bot's, and only a kit's brand managers decide."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt.middleware import Middleware
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

from bot import home, messages
from bot.listener_parts import Runtime
from brandgate.errors import UserError
from brandgate.jobs.contract import UnknownRequest
from brandgate.requests.actors import slack_actor
from brandgate.requests.decisions import needs_a_person

log = logging.getLogger(__name__)
_IMAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
DECISIONS = (messages.APPROVE, messages.REJECT, home.HOME_APPROVE, home.HOME_REJECT)


def clicked(body: dict[str, Any]) -> tuple[str, str, str, str]:
    """(action_id, value, user_id, team_id) of a block_actions payload."""
    action = (body.get("actions") or [{}])[0]
    user = body.get("user") or {}
    team = (body.get("team") or {}).get("id") or user.get("team_id") or ""
    return str(action.get("action_id", "")), str(action.get("value", "")), str(user.get("id", "")), str(team)


class WorkspaceOnly(Middleware):
    """Refuses payloads from a workspace other than the one the bot token belongs to."""

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        result = req.context.authorize_result
        payload_team = req.context.team_id
        # Org-wide installs (an enterprise ID) legitimately span workspaces.
        foreign = bool(result and result.team_id and payload_team and payload_team != result.team_id)
        if foreign and not req.context.enterprise_id:
            log.warning("payload from workspace %s refused: bot is in %s", payload_team, result and result.team_id)
            return BoltResponse(status=200, body="This brandgate app belongs to another workspace.")
        return next()


class ImageClickAuthorisation(Middleware):
    """Before any image button runs: the image exists, is this workspace's, and the clicker may decide.

    A refused click is acked (Slack wants an answer), told why in an ephemeral message, and
    recorded as an audit event; the listener never runs.
    """

    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        action_id, image_id, user_id, team_id = clicked(req.body)
        channel = str((req.body.get("channel") or {}).get("id", ""))
        runtime = self._runtime
        if not _IMAGE_ID.match(image_id):
            return self._refuse(
                action_id, image_id[:64], user_id, team_id, channel, "that button does not name an image"
            )
        try:
            image = runtime.services.image(image_id)
        except UnknownRequest:
            return self._refuse(action_id, image_id, user_id, team_id, channel, f"there is no image `{image_id}`")
        # An image asked for outside Slack (the CLI, a script) belongs to no workspace; any may decide on it.
        if image.workspace is not None and image.workspace != team_id:
            return self._refuse(
                action_id, image_id, user_id, team_id, channel, "that image belongs to another workspace"
            )
        if action_id in DECISIONS:
            try:
                kit = runtime.access.kit(image.kit)
            except UserError as exc:
                return self._refuse(action_id, image_id, user_id, team_id, channel, str(exc))
            reason = runtime.access.may_decide(user_id, kit, image.requester)
            if reason is None and not needs_a_person(image.verdict):
                by = f" by {messages.mention(image.decided_by)}" if image.decided_by else ""
                reason = f"that image is not waiting for a decision: it is {image.verdict}{by}"
            if reason is not None:
                return self._refuse(action_id, image_id, user_id, team_id, channel, reason)
        req.context["image"] = image
        return next()

    def _refuse(
        self, action_id: str, image_id: str, user_id: str, team_id: str, channel: str, reason: str
    ) -> BoltResponse:
        runtime = self._runtime
        runtime.metrics.refused_clicks.labels(action=action_id or "unknown").inc()
        log.info("click %s on image %s by %s refused: %s", action_id, image_id, user_id, reason)
        runtime.hand_off(self._tell_and_record, action_id, image_id, user_id, team_id, channel, reason)
        return BoltResponse(status=200, body="")

    def _tell_and_record(
        self, action_id: str, image_id: str, user_id: str, team_id: str, channel: str, reason: str
    ) -> None:
        runtime = self._runtime
        try:
            runtime.services.record(
                slack_actor(team_id, user_id),
                "slack.click_refused",
                image_id,
                {"action": action_id, "reason": reason, "channel": channel, "team": team_id},
            )
        except Exception:  # the answer to the user must not wait on, or die with, the audit write
            log.exception("recording the refused click on %s failed", image_id)
        if channel and user_id:
            try:
                runtime.tell(channel, user_id, messages.error_text(f"Not done: {reason}."))
            except Exception:
                log.exception("telling %s about the refused click failed", user_id)
        elif user_id:  # a click in the Home tab: the answer is the Home tab, republished with it on top
            try:
                notice = messages.error_text(f"Not done (image `{image_id}`): {reason}.")  # the tab lists many
                runtime.desk.publish(user_id, team_id or None, notice=notice)
            except Exception:
                log.exception("telling %s about the refused click failed", user_id)

"""From what was typed or clicked in Slack to a validated brief, queued once and followed in a thread."""

from __future__ import annotations

import difflib
import logging
from typing import Any

from bot import messages
from bot.listener_parts import Runtime
from bot.progress import Followed
from brandgate.errors import UserError
from brandgate.jobs.contract import Accepted, BriefRefused, Submission
from brandgate.kits import list_kits
from brandgate.requests.actors import slack_actor
from policies.brief import Brief, brief_from_mapping
from policies.characters import quote

log = logging.getLogger(__name__)


def allowed_kit_names(runtime: Runtime, channel: str) -> list[str]:
    return [kit.name for kit in runtime.access.kits_for_channel(channel)]


def brief_for_channel(runtime: Runtime, fields: dict[str, Any], channel: str) -> Brief:
    """The brief, with the kit checked against the channel's allowed kits. UserError says what to fix."""
    allowed = allowed_kit_names(runtime, channel)
    if not allowed:
        raise UserError(
            "no brand kit may be used in this channel; ask a brand manager to add it to a kit's slack.channels"
        )
    kit = fields.get("kit")
    if not kit:
        if len(allowed) != 1:
            raise UserError(f"say which brand kit: add kit=NAME (kits for this channel: {', '.join(allowed)})")
        fields = {**fields, "kit": allowed[0]}
    elif kit not in allowed:
        if str(kit) not in list_kits(runtime.settings):
            # Named from the channel's kits only: the reply never shows a server path or other teams' kits.
            close = difflib.get_close_matches(str(kit), allowed, n=1, cutoff=0.6)
            hint = f"did you mean kit={close[0]}? " if close else ""
            raise UserError(f"no kit named {quote(str(kit), 64)}; {hint}kits for this channel: {', '.join(allowed)}")
        raise UserError(f"kit {kit!r} is not allowed in this channel (kits here: {', '.join(allowed)})")
    return brief_from_mapping(fields, "brief")


def queue_brief(
    runtime: Runtime,
    brief: Brief,
    *,
    team_id: str,
    user_id: str,
    channel: str,
    idempotency_key: str,
    kind: str,
    thread_ts: str | None = None,
    response_url: str | None = None,
) -> Accepted | None:
    """Submit once per key, say where it is in the queue, and follow it; None when refused (user told why)."""
    submission = Submission(
        brief=brief,
        requested_by=slack_actor(team_id, user_id),
        source="slack",
        channel=channel,
        idempotency_key=idempotency_key,
    )
    try:
        accepted = runtime.services.queue.submit(submission)
    except BriefRefused as exc:  # the policy refuses the wording: an answer, not a failure
        runtime.tell(channel, user_id, messages.refused_text(exc.reason), response_url)
        return None
    except UserError as exc:  # LimitExceeded and other things the user can change
        runtime.tell(channel, user_id, messages.error_text(str(exc)), response_url)
        return None
    except Exception as exc:  # QueueUnavailable or worse: nothing was queued, and the user must know
        log.exception("queueing a brief from %s failed", user_id)
        runtime.tell(channel, user_id, messages.error_text(f"nothing was queued: {exc}"), response_url)
        return None
    runtime.metrics.submitted.labels(kind=kind).inc()
    if not accepted.duplicate:
        runtime.tracker.follow(
            Followed(
                request_id=accepted.request_id,
                team_id=team_id,
                user_id=user_id,
                channel=channel,
                heading=messages.request_summary(brief, user_id),
                thread_ts=thread_ts,
                naming=(brief.kit, brief.headline, brief.prompt),
            )
        )
    runtime.tell(channel, user_id, messages.queued_text(accepted), response_url)
    return accepted

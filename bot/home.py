"""The Home tab's review desk as Block Kit: pure functions of what waits, so tests can compare them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from bot.messages import CHECK_TITLES, CHECK_TOPICS, VERDICT_WORDS, mention
from brandgate.review import DecisionMade, WaitingImage

Block = dict[str, Any]

HOME_APPROVE = "home_approve"
HOME_REJECT = "home_reject"
HOME_PAGE = "home_page"
# Slack allows 100 blocks in a Home view; an image takes four (section, context, buttons, divider),
# so a page of 20 leaves room for the heading, a notice and the page buttons.
PAGE_SIZE = 20
MAX_BLOCKS = 100


def _text(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def _button(label: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {"type": "button", "text": {"type": "plain_text", "text": label}, "action_id": action_id}
    button["value"] = value
    if style:
        button["style"] = style
    return button


def waited(seconds: float) -> str:
    """How long, as people say it: 40 min, 5 h, 3 days."""
    if seconds < 3600:
        return f"{max(1, round(seconds / 60))} min"
    if seconds < 48 * 3600:
        return f"{seconds / 3600:.0f} h"
    return f"{seconds / 86400:.0f} days"


def check_line(check_id: str, status: str, message: str) -> str:
    """One failed or undecided check in plain words, then the check's own message."""
    if status == "unverified":
        title = f"{CHECK_TOPICS.get(check_id[:3], 'A check')}: could not be checked"
    elif status == "error":
        title = f"{CHECK_TOPICS.get(check_id[:3], 'A check')}: the check could not run, so a person must look"
    else:
        title = CHECK_TITLES.get(check_id) or CHECK_TOPICS.get(check_id[:3], "A check")
    shown = message if len(message) <= 200 else message[:199] + "…"
    return f"• *{title}* ({check_id}): {shown}"


def image_section(item: WaitingImage, now: datetime, thumbnail: str | None) -> Block:
    icon, words = VERDICT_WORDS.get(item.verdict, (":grey_question:", item.verdict))
    lines = [
        f"{icon} *{item.kit}* · {words}",
        f"asked by {mention(item.requested_by)} · waited {waited(item.waiting_s(now))}",
        *(check_line(c.id, c.status, c.message) for c in item.checks[:8]),
    ]
    if len(item.checks) > 8:
        lines.append(f"…and {len(item.checks) - 8} more checks")
    section = _text("\n".join(lines))
    if thumbnail:
        section["accessory"] = {"type": "image", "slack_file": {"id": thumbnail}, "alt_text": "the image"}
    return section


def manager_view(
    items: Sequence[WaitingImage],
    total: int,
    offset: int,
    kits: Sequence[str],
    now: datetime,
    thumbnails: Mapping[str, str],
    may_decide: Mapping[str, bool],
    notice: str | None = None,
) -> Block:
    """A brand manager's Home: what waits in their kits, oldest first, each with Approve and Reject."""
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": "Review desk"}}]
    if notice:
        blocks.append(_text(notice))
    if total == 0:
        blocks.append(_text(f":white_check_mark: Nothing waits for a decision in {', '.join(kits)}."))
    else:
        shown = f"{offset + 1}–{offset + len(items)} of {total}"
        blocks.append(_context(f"{total} image{'s' if total != 1 else ''} wait in {', '.join(kits)}, oldest first"
                               f" · showing {shown}"))  # fmt: skip
    for item in items:
        blocks.append(image_section(item, now, thumbnails.get(item.image_id)))
        where = f"image `{item.image_id}` · {item.index + 1} of {item.n_images} · request `{item.request_id}`"
        if not item.channel:
            where += " · made outside Slack"
        blocks.append(_context(where))
        if may_decide.get(item.image_id, False):
            blocks.append(
                {
                    "type": "actions",
                    "block_id": f"home:{item.image_id}",
                    "elements": [
                        _button("Approve", HOME_APPROVE, item.image_id, "primary"),
                        _button("Reject", HOME_REJECT, item.image_id, "danger"),
                    ],
                }
            )
        else:
            blocks.append(_context("_You asked for this image, so another brand manager decides on it._"))
        blocks.append({"type": "divider"})
    pages: list[Block] = []
    if offset > 0:
        pages.append(_button("Newer", HOME_PAGE, str(max(0, offset - PAGE_SIZE))))
    if offset + len(items) < total:
        pages.append(_button(f"Show more ({total - offset - len(items)} older)", HOME_PAGE, str(offset + PAGE_SIZE)))
    if pages:
        blocks.append({"type": "actions", "block_id": "home:pages", "elements": pages})
    return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}


def requester_view(
    waiting_items: Sequence[WaitingImage],
    total: int,
    decided: Sequence[DecisionMade],
    now: datetime,
    notice: str | None = None,
) -> Block:
    """Someone who manages no kit: the state of their own requests, and no decision buttons."""
    blocks: list[Block] = [{"type": "header", "text": {"type": "plain_text", "text": "Your requests"}}]
    if notice:
        blocks.append(_text(notice))
    if total:
        blocks.append(_text(f"*Waiting for a brand manager ({total})*"))
        for item in waiting_items:
            blocks.append(image_section(item, now, None))
            blocks.append(_context(f"image `{item.image_id}` · request `{item.request_id}`"))
    else:
        blocks.append(_text("Nothing of yours waits for a brand manager."))
    if decided:
        lines = []
        for d in decided:
            icon, words = VERDICT_WORDS[d.decision]
            why = f": {d.reason[:200]}" if d.reason else ""
            lines.append(f"{icon} image `{d.image_id}` ({d.kit}) {words.lower()} by {mention(d.decided_by)}{why}")
        blocks.append(_text("*Decided lately*\n" + "\n".join(lines)))
    blocks.append(_context("Start a brief with `/brandgate` in a channel."))
    return {"type": "home", "blocks": blocks[:MAX_BLOCKS]}


def review_list_text(items: Sequence[WaitingImage], total: int, kits: Sequence[str], now: datetime) -> str:
    """`/brandgate review`: the channel's kits' queue as one ephemeral message."""
    if not total:
        return f":white_check_mark: Nothing waits for a decision in {', '.join(kits) or 'this channel’s kits'}."
    lines = [f"*{total} image{'s' if total != 1 else ''} wait for a decision* in {', '.join(kits)}, oldest first:"]
    for item in items:
        checks = ", ".join(c.id for c in item.checks) or "no check named"
        lines.append(
            f"• `{item.image_id}` *{item.kit}* {item.verdict}, asked by {mention(item.requested_by)},"
            f" waited {waited(item.waiting_s(now))} ({checks})"
        )
    if total > len(items):
        lines.append(f"…and {total - len(items)} more.")
    lines.append("Decide in the app's *Home* tab, or in each image's thread.")
    return "\n".join(lines)

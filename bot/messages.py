"""Block Kit payloads as small pure functions of what they show, so tests can compare them."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping, Sequence
from typing import Any

from bot import slash
from brandgate.jobs.contract import Accepted, RequestStatus
from brandgate.requests.decisions import exportable, needs_a_person
from brandgate.requests.images import ImageView
from policies.brief import MAX_DISCLAIMER_CHARS, MAX_HEADLINE_CHARS, MAX_IMAGES_PER_BRIEF, MAX_PROMPT_CHARS, Brief
from policies.characters import printable

Block = dict[str, Any]

BRIEF_MODAL = "brief_modal"
REJECT_MODAL = "reject_reason"
APPROVE = "image_approve"
REJECT = "image_reject"
EXPORT = "image_export"
REGENERATE = "image_regenerate"
IMAGE_ACTIONS = (APPROVE, REJECT, EXPORT, REGENERATE)
SIZES = ("512x512", "768x768", "1024x1024", "1024x768", "768x1024", "1216x832", "832x1216")

VERDICT_WORDS = {
    "pass": (":white_check_mark:", "Passed every check"),
    "unverified": (":mag:", "Not fully checked: a brand manager needs to look at it"),
    "flag": (":warning:", "Flagged: a brand manager needs to look at it"),
    "reject": (":no_entry:", "Rejected by policy: not for use"),
    "approved": (":white_check_mark:", "Approved"),
    "rejected": (":no_entry_sign:", "Rejected"),
}

# What each check family means to someone who writes briefs, not checks.
CHECK_TOPICS = {
    "BG1": "Text in the image",
    "BG2": "Logo",
    "BG3": "Colours and legibility",
    "BG4": "Objects and people",
    "BG5": "Safety",
    "BG6": "Image quality",
}
CHECK_TITLES = {
    "BG101": "The headline isn't in the image exactly as written",
    "BG102": "The disclaimer isn't in the image exactly as written",
    "BG103": "A word the brand doesn't allow appears",
    "BG104": "There is text in the image nobody asked for",
    "BG201": "The logo is missing or doesn't match the brand's logo",
    "BG202": "The logo is too small or crowded",
    "BG301": "The colours are off the brand palette",
    "BG302": "The headline is hard to read against the background",
    "BG401": "The number of objects isn't what the brief asked for",
    "BG402": "Hands, faces or bodies look wrong",
    "BG501": "The prompt asks for something the policy doesn't allow",
    "BG502": "The image may show nudity",
    "BG601": "The image is blank or almost blank",
    "BG602": "The image has the wrong size or format",
}


def _text(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text}]}


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def file_label(name: str) -> str:
    """A shared file's name as replies show it: the last path part, control and bidi characters escaped.

    The name is whatever the uploader typed; in the bot's own reply it must not reorder text, fake a
    link or mention (`<…>`), or run on for lines.
    """
    base = name.replace("\\", "/").rsplit("/", 1)[-1].strip()
    shown = printable(base, 120).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return shown or "the file"


def help_text() -> str:
    """The help: the form, the quick brief, then each sub-command's line from bot/slash.py's registry."""
    first_words = ", ".join(slash.SUBCOMMANDS)
    return "\n".join(
        [
            "*brandgate* makes on-brand images, checks them against the brand's rules and signs them.",
            "• `/brandgate` opens a form for a brief.",
            '• `/brandgate "five red apples on a table" kit=acme n=4 headline="Fresh Deals Friday"`'
            ' asks straight away. Also: `disclaimer="..."`, `size=1024x768`, `counts="apple:5"`, `seed=42`.',
            *(f"• {s.usage}" for s in slash.REGISTRY if s.usage),
            'Put the prompt and any value with spaces in double quotes ("like this"); an unquoted first word'
            f" must be one of {first_words} or an option such as kit=acme.",
        ]
    )


def error_text(message: str) -> str:
    return f":warning: {message}"


def refused_text(reason: str) -> str:
    """A brief the kit's policy refuses (BG501), found before queueing: nothing was spent or recorded."""
    return f":no_entry: Refused by the brand policy, nothing was queued: {reason}"


def queued_text(accepted: Accepted) -> str:
    ref = f"`{accepted.request_id}`"
    if accepted.duplicate:
        return f"Already on it: request {ref} was queued for this before."
    ahead = "you're next" if accepted.position == 0 else f"{accepted.position} ahead of you"
    return f":hourglass_flowing_sand: Queued {ref}, {ahead}. Progress and images will appear in a thread."


def request_summary(brief: Brief, requester: str) -> str:
    parts = [f"<@{requester}> asked for {brief.n} image{'s' if brief.n != 1 else ''} from kit *{brief.kit}*:"]
    parts.append(f">{_clip(brief.prompt, 300)}")
    extras = []
    if brief.headline:
        extras.append(f"headline “{brief.headline}”")
    if brief.disclaimer:
        extras.append(f"disclaimer “{_clip(brief.disclaimer, 80)}”")
    if brief.counts:
        counted = ", ".join(f"{k}: {v}" for k, v in brief.counts.items())
        extras.append(f"counts read from the prompt: {counted}" if brief.counts_inferred else f"counts {counted}")
    extras.append(f"{brief.size[0]}×{brief.size[1]}")
    parts.append(" · ".join(extras))
    if brief.counts_inferred:
        parts.append("_Counts were read from the prompt; give `counts=` to change them, `counts=none` to check none._")
    return "\n".join(parts)


def progress_blocks(heading: str, status: RequestStatus) -> list[Block]:
    """The thread's parent message: what was asked, and one line of progress that is edited in place."""
    icon = {
        "queued": ":hourglass_flowing_sand:",
        "running": ":gear:",
        "done": ":white_check_mark:",
        "failed": ":x:",
        "cancelled": ":octagonal_sign:",
    }[status.state]
    line = f"{icon} {status.describe()}"
    if status.state == "done":
        icon, counted = verdict_summary(status.images)
        line = f"{icon} {counted}"
        if status.cost_usd:
            line += f" · cost ${status.cost_usd:.4f}"
    return [
        _text(heading),
        _context(f"{line} · request `{status.request_id}`"),
    ]


# What the checks said of an image, as a clause ("flagged by the checks, approved by @anna").
CHECKS_SAID = {
    "pass": "passed every check",
    "unverified": "not fully checked",
    "flag": "flagged by the checks",
    "reject": "rejected by policy",
}


# How a finished request's images are counted on its parent post, in this order.
VERDICT_COUNTS = (
    ("pass", "passed"),
    ("approved", "approved"),
    ("undecided", "waiting for a brand manager"),
    ("reject", "rejected by policy"),
    ("rejected", "rejected by a brand manager"),
)


def verdict_summary(images: Sequence[ImageView]) -> tuple[str, str]:
    """The icon and words of a finished request's last line: "2 images: 1 passed, 1 waiting for a brand manager".

    The tick is earned only by an image someone may use; nothing usable is never shown as done.
    """
    counts: dict[str, int] = {}
    for image in images:
        key = "undecided" if needs_a_person(image.verdict) else image.verdict
        counts[key] = counts.get(key, 0) + 1
    parts = [f"{counts[key]} {words}" for key, words in VERDICT_COUNTS if counts.get(key)]
    parts += [f"{n} {key}" for key, n in counts.items() if key not in dict(VERDICT_COUNTS)]
    total = len(images)
    if total == 0:
        return ":x:", "finished without an image"
    head = f"{total} image{'s' if total != 1 else ''}: " + ", ".join(parts)
    if counts.get("pass") or counts.get("approved"):
        icon = ":white_check_mark:"
    elif counts.get("undecided"):
        icon = ":warning:"
    else:
        icon = ":no_entry:"
    return icon, head


def _unverified_check_lines(checks: Sequence[Mapping[str, Any]]) -> list[str]:
    """What could not be checked, in the check's own words ("not checked: object counts, ...")."""
    lines = []
    for check in checks:
        message = _clip(str(check.get("message", "")), 300)
        lines.append(f"• {message} ({check.get('id', '?')})")
    return lines


def _failed_check_lines(checks: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = []
    for check in checks:
        check_id = str(check.get("id", "?"))
        title = CHECK_TITLES.get(check_id) or CHECK_TOPICS.get(check_id[:3], "A check")
        if check.get("status") == "error":
            title = f"{CHECK_TOPICS.get(check_id[:3], 'A check')}: the check could not run, so a person must look"
        message = _clip(str(check.get("message", "")), 300)
        lines.append(f"• *{title}* ({check_id})" + (f": {message}" if message else ""))
    return lines


def image_blocks(image: ImageView, request_id: str, n_images: int) -> list[Block]:
    """One produced image's verdict, what failed in plain words, and the buttons it may have."""
    icon, words = VERDICT_WORDS.get(image.verdict, (":grey_question:", image.verdict))
    header = f"{icon} *Image {image.index + 1} of {n_images}* · {words}"
    if image.decided_by and image.verdict in ("approved", "rejected"):
        header += f" by {mention(image.decided_by)}"
    blocks: list[Block] = [{**_text(header), "block_id": f"verdict:{image.image_id}"}]
    lines = _failed_check_lines(image.failed_checks) + _unverified_check_lines(image.unverified_checks)
    if lines:
        blocks.append(_text(_clip("\n".join(lines), 2900)))
    blocks.append(_context(f"image `{image.image_id}` · seed {image.seed} · request `{request_id}`"))
    buttons = image_buttons(image)
    if buttons:
        blocks.append({"type": "actions", "block_id": f"image:{image.image_id}", "elements": buttons})
    return blocks


def image_buttons(image: ImageView) -> list[Block]:
    buttons: list[Block] = []
    if needs_a_person(image.verdict):
        buttons.append(_button("Approve", APPROVE, image.image_id, style="primary"))
        buttons.append(_button("Reject", REJECT, image.image_id, style="danger"))
    if exportable(image.verdict):
        buttons.append(_button("Export HQ", EXPORT, image.image_id))
    buttons.append(_button("Regenerate", REGENERATE, image.image_id))
    return buttons


def _button(label: str, action_id: str, value: str, style: str | None = None) -> Block:
    button: Block = {"type": "button", "text": _plain(label), "action_id": action_id, "value": value}
    if style:
        button["style"] = style
    return button


def mention(actor: str) -> str:
    # Actors are "slack:TEAM:USER"; anyone else (a CLI user) is shown by name.
    parts = actor.split(":")
    return f"<@{parts[2]}>" if len(parts) == 3 and parts[0] == "slack" else actor


def decided_blocks(
    blocks: Sequence[Block], image_id: str, decision: str, user_id: str, reason: str | None
) -> list[Block]:
    """The image message after a decision: the buttons to approve or reject are gone, the decision shown;
    an approved image gains its Export HQ button."""
    out: list[Block] = []
    icon, words = VERDICT_WORDS[decision]
    for block in blocks:
        if block.get("type") == "section" and block.get("block_id") == f"verdict:{image_id}":
            # The verdict line now says the decision: an approved image no longer reads "Flagged".
            said = str((block.get("text") or {}).get("text", ""))
            which = re.search(r"\*Image \d+ of \d+\*", said)
            header = f"{icon} {which.group(0) + ' · ' if which else ''}{words} by <@{user_id}>"
            out.append({**block, "text": {"type": "mrkdwn", "text": header}})
        elif block.get("type") == "image":
            # The picture's title said the checks' verdict; it now says the decision.
            named = str((block.get("title") or {}).get("text", "")).split(": ", 1)[0]
            title = f"{named}: {words}" if named.startswith("Image ") else words
            out.append({**block, "title": _plain(title), "alt_text": title})
        elif block.get("type") == "actions" and block.get("block_id") == f"image:{image_id}":
            kept = [e for e in block.get("elements", []) if e.get("action_id") not in (APPROVE, REJECT, EXPORT)]
            if decision == "approved":
                kept.insert(0, _button("Export HQ", EXPORT, image_id))
            by = mention(user_id) if ":" in user_id else f"<@{user_id}>"  # an actor, or a Slack user ID
            line = f"{icon} *{words}* by {by}" + (f": {_clip(reason, 500)}" if reason else "")
            out.append(_context(line))
            if kept:
                out.append({**block, "elements": kept})
        else:
            out.append(dict(block))
    return out


def image_message_blocks(image: ImageView, request_id: str, n_images: int, file_id: str | None) -> list[Block]:
    """The image's own message: the picture (where its file is known), its verdict and its buttons.
    Every edit of that message rebuilds it from here, so a decision never drops the picture."""
    blocks = image_blocks(image, request_id, n_images)
    return [image_block(file_id, upload_title(image, n_images)), *blocks] if file_id else blocks


def upload_title(image: ImageView, n_images: int) -> str:
    _, words = VERDICT_WORDS.get(image.verdict, ("", image.verdict))
    return f"Image {image.index + 1} of {n_images}: {words}"


def export_title(image: ImageView, approval: str | None) -> str:
    """An HQ export's title: its own checks' verdict, then the decision that let it be exported."""
    own = CHECKS_SAID.get(image.verdict, VERDICT_WORDS.get(image.verdict, ("", image.verdict))[1])
    own = own[0].upper() + own[1:]
    if image.verdict == "reject":
        own += ": not for use"
    if approval and image.verdict != "reject":
        return f"HQ export: {own}, {approval}"
    return f"HQ export: {own}"


def _slug(text: str, limit: int) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:limit].rstrip("-")


def upload_name(kit: str, headline: str | None, prompt: str, seed: int, index: int, suffix: str, hq: bool) -> str:
    """A file name a person can keep: `acme-fresh-deals-friday-1234-1.png`, safe characters only."""
    words = _slug(headline or prompt, 40) or "image"
    name = "-".join(p for p in (_slug(kit, 24), words, str(seed), str(index + 1), "hq" if hq else "") if p)
    return name + (suffix if re.fullmatch(r"\.[a-z0-9]{1,5}", suffix) else ".png")


def image_block(file_id: str, title: str) -> Block:
    """The uploaded image inside the message that carries its verdict and buttons (Block Kit's slack_file)."""
    return {
        "type": "image",
        "slack_file": {"id": file_id},
        "alt_text": _clip(title, 1900),
        "title": _plain(_clip(title, 1900)),
    }


def _input(block_id: str, label: str, element: Block, optional: bool = False, hint: str | None = None) -> Block:
    block: Block = {"type": "input", "block_id": block_id, "label": _plain(label), "element": element}
    if optional:
        block["optional"] = True
    if hint:
        block["hint"] = _plain(hint)
    return block


def _option(value: str, label: str | None = None) -> Block:
    return {"text": _plain(label or value), "value": value}


def brief_modal(kits: Sequence[tuple[str, str]], channel_id: str) -> Block:
    """The brief form. `kits` are (name, display name) of the kits allowed in the channel."""
    kit_select: Block = {
        "type": "static_select",
        "action_id": "value",
        "placeholder": _plain("Choose a brand kit"),
        "options": [
            _option(name, _clip(f"{display} ({name})" if display != name else name, 75)) for name, display in kits
        ],
    }
    if len(kits) == 1:
        kit_select["initial_option"] = kit_select["options"][0]
    return {
        "type": "modal",
        "callback_id": BRIEF_MODAL,
        "private_metadata": json.dumps({"channel": channel_id}),
        "title": _plain("New brief"),
        "submit": _plain("Make images"),
        "close": _plain("Cancel"),
        "blocks": [
            _input("kit", "Brand kit", kit_select),
            _input(
                "prompt",
                "What should the image show?",
                {"type": "plain_text_input", "action_id": "value", "multiline": True, "max_length": MAX_PROMPT_CHARS},
            ),
            _input(
                "headline",
                "Headline",
                {"type": "plain_text_input", "action_id": "value", "max_length": MAX_HEADLINE_CHARS},
                optional=True,
                hint="Text that must appear in the image exactly as written.",
            ),
            _input(
                "disclaimer",
                "Disclaimer",
                {"type": "plain_text_input", "action_id": "value", "max_length": MAX_DISCLAIMER_CHARS},
                optional=True,
            ),
            _input(
                "counts",
                "Counts",
                {"type": "plain_text_input", "action_id": "value", "placeholder": _plain("apple: 5, pear: 2")},
                optional=True,
                hint="Objects that must appear this many times. Left empty, they are read from the prompt "
                "(“five red apples” → apple: 5); write none to check no counts.",
            ),
            _input(
                "n",
                "Number of images",
                {
                    "type": "number_input",
                    "action_id": "value",
                    "is_decimal_allowed": False,
                    "min_value": "1",
                    "max_value": str(MAX_IMAGES_PER_BRIEF),
                    "initial_value": "4",
                },
            ),
            _input(
                "size",
                "Size",
                {
                    "type": "static_select",
                    "action_id": "value",
                    "options": [_option(s, s.replace("x", " × ")) for s in SIZES],
                    "initial_option": _option("512x512", "512 × 512"),
                },
            ),
        ],
    }


def shown_file(blocks: Sequence[Block]) -> str | None:
    """The Slack file an image message shows (its image block's slack_file), if it shows one."""
    for block in blocks:
        shown = block.get("slack_file") if isinstance(block, dict) and block.get("type") == "image" else None
        file_id = shown.get("id") if isinstance(shown, dict) else None
        if isinstance(file_id, str) and re.fullmatch(r"F[A-Z0-9]{6,20}", file_id):
            return file_id
    return None


def reject_modal(image_id: str, channel_id: str, message_ts: str, file_id: str | None = None) -> Block:
    return {
        "type": "modal",
        "callback_id": REJECT_MODAL,
        "private_metadata": json.dumps({"image": image_id, "channel": channel_id, "ts": message_ts, "file": file_id}),
        "title": _plain("Reject image"),
        "submit": _plain("Reject"),
        "close": _plain("Cancel"),
        "blocks": [
            _input(
                "reason",
                "Why is it rejected?",
                {
                    "type": "plain_text_input",
                    "action_id": "value",
                    "multiline": True,
                    "min_length": 3,
                    "max_length": 1000,
                },
                hint="The requester sees this, and it goes into the audit trail.",
            )
        ],
    }


def verify_blocks(file_name: str, summary: Mapping[str, Any]) -> list[Block]:
    """The credentials summary of a shared file, from `brandgate verify --json`'s document."""
    state = str(summary.get("state") or "unknown")
    icon = {"trusted": ":white_check_mark:", "valid": ":large_yellow_circle:", "invalid": ":x:"}.get(
        state, ":grey_question:"
    )
    words = {
        "trusted": "Valid content credentials from a trusted signer",
        "valid": "Valid content credentials, but the signer is not one we trust",
        "invalid": "Content credentials are invalid: the file was changed after signing",
        "no_credentials": "No content credentials",
    }.get(state, state)
    if state == "no_credentials" and summary.get("removed_manifest"):
        words = "Content credentials were removed from this file (its metadata still points at them)"
    elif state == "no_credentials" and summary.get("remote_manifest"):
        words = "Content credentials are kept elsewhere (a remote manifest), and verification does not fetch them"
    lines = [f"{icon} *{file_name}*: {words}"]
    if summary.get("summary"):
        lines.append(f"_{_clip(str(summary['summary']), 400)}_")
    signer = summary.get("signer")
    if isinstance(signer, Mapping) and signer.get("subject"):
        lines.append(f"Signed by: {signer['subject']}")
    if summary.get("signing_time"):
        lines.append(f"Signed at: {summary['signing_time']}")
    governance = summary.get("governance")
    if isinstance(governance, Mapping):
        for key, value in governance.items():
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                lines.append(f"{key.replace('_', ' ').capitalize()}: `{_clip(str(value), 120)}`")
            if len(lines) > 14:
                break
    lookup = summary.get("lookup")
    match = lookup.get("match") if isinstance(lookup, Mapping) and lookup.get("status") == "match" else None
    if isinstance(match, Mapping):
        # A stripped copy of one of ours: say which, and what was decided about it, in Slack's words.
        decided = ""
        if match.get("decision"):
            decided = f", {match['decision']} by {mention(str(match.get('decided_by') or 'someone'))}"
        elif needs_a_person(str(match.get("verdict"))):
            decided = ", not decided by a brand manager"
        words = CHECKS_SAID.get(str(match.get("verdict")), f"verdict {match.get('verdict')}")
        lines.append(
            f":link: Looks like image `{match.get('image_id')}` of request `{match.get('request_id')}`"
            f" (distance {match.get('distance')}): {words}{decided}"
        )
    elif isinstance(lookup, Mapping) and lookup.get("detail"):
        lines.append(str(lookup["detail"]))
    codes = summary.get("validation_codes")
    if isinstance(codes, Mapping) and codes.get("failure"):
        lines.append("Failed: " + ", ".join(f"`{c.get('code')}`" for c in list(codes["failure"])[:10]))
    return [_text(_clip("\n".join(lines), 2900))]


def audit_sent_text(rows: int, query_text: str, file_name: str) -> str:
    return f":ledger: The trail for {query_text}: {rows} row{'s' if rows != 1 else ''}, sent as `{file_name}`."

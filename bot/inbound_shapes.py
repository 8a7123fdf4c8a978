"""The shapes of what Slack sends over HTTP, checked before bolt or a listener reads a field.

bolt and the listeners index into request bodies (`body["user"]["id"]`, `body["actions"][0]`); a
signed body of another shape would make them raise, and the answer would be a 500. Each kind the
bot handles is described here by the fields it reads; anything else is answered 400 (malformed) or
404 (a kind the bot does not handle), before any listener runs.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from policies.documents import parse_json
from policies.errors import InvalidInput

# A shape: a type, a compiled pattern (a string matching it whole), a tuple of allowed shapes, a dict
# of field -> shape (a key ending in "?" may be missing or null; in "~" missing, never null), or a
# one-element list: a non-empty list whose items all have that shape.
Shape = Any
_OPTIONAL, _NOT_NULL = "?", "~"

# Workspace, user and channel IDs: T…, U…/W…, C…/D…/G…; the bot answers and records under them.
SLACK_ID = re.compile(r"[A-Z0-9]{1,40}")
_ID = {"id": SLACK_ID}
COMMAND: Shape = {
    "command": str,
    "team_id": SLACK_ID,
    "user_id": SLACK_ID,
    "channel_id": SLACK_ID,
    "trigger_id": str,
    "text?": str,
    "response_url?": str,
}
_INTERACTIVE_BASE: dict[str, Shape] = {"type": str, "user": {"id": SLACK_ID, "team_id?": SLACK_ID}, "team?": _ID}
BLOCK_ACTIONS: Shape = {
    **_INTERACTIVE_BASE,
    "actions": [{"action_id": str, "block_id?": str, "value?": str}],
    "channel?": _ID,
    "container?": {"message_ts?": str, "thread_ts?": str, "channel_id?": str},
    "message?": {"ts?": str, "thread_ts?": str, "blocks?": list, "text?": str},
    "trigger_id?": str,
    "response_url?": str,
}
VIEW: Shape = {
    **_INTERACTIVE_BASE,
    "view": {"id": str, "callback_id": str, "private_metadata?": str, "state?": {"values?": dict}},
}
INTERACTIVE: dict[str, Shape] = {"block_actions": BLOCK_ACTIONS, "view_submission": VIEW}
# Fields bolt's own middleware reads from any body before a listener is chosen (self-event
# filtering, authorisation context, enterprise installs): present, they must have these shapes.
_EVENT_FIELDS: dict[str, Shape] = {
    f"{name}?": str for name in ("type", "subtype", "user", "bot_id", "channel_type", "ts", "thread_ts")
}
BOLT_READS: Shape = {
    "event~": {**_EVENT_FIELDS, "channel?": (str, dict), "message?": dict, "previous_message?": dict, "item?": dict},
    "authorizations~": list,
    "team?": (str, {"id?": str, "enterprise_id?": str}),
    "user?": (str, {"id?": str, "team_id?": str}),
    "enterprise?": (str, {"id?": str}),
    "channel?": (str, {"id?": str}),
    **{f"{name}?": str for name in ("team_id", "enterprise_id", "user_id", "channel_id", "context_team_id")},
    **{f"{name}~": dict for name in ("view", "message", "previous_message", "assistant_thread", "function_data")},
    **{f"{name}~": dict for name in ("workflow_step", "item", "container")},
    "is_enterprise_install?": (bool, str),
    "actions~": list,
}
EVENTS: dict[str, Shape] = {
    "url_verification": {"type": str, "challenge": str},
    "event_callback": {
        "type": str,
        "team_id": SLACK_ID,
        "event_id?": str,
        "event": {
            "type": str,
            "user?": SLACK_ID,
            "channel?": SLACK_ID,
            "ts?": str,
            "thread_ts?": str,
            "event_ts?": str,
            "text?": str,
        },
    },
}


@dataclass(frozen=True)
class Refusal:
    status: int
    reason: str


def check_body(text: str, content_type: str | None) -> Refusal | None:
    """Why a signed body cannot go to the app (with the HTTP status to answer), or None when it can.

    Reads the body the way bolt will: JSON when declared or when it starts with `{`, else a form
    whose `payload` field, when there is one, holds the JSON of an interactive request.
    """
    media_type = (content_type or "").split(";")[0].strip().lower()
    if media_type == "application/json" or text.startswith("{"):
        event = _json_object(text)
        if event is None:
            return Refusal(400, "the body is not a JSON object")
        return _check_kind(event, EVENTS, "event")
    form = dict(urllib.parse.parse_qsl(text, keep_blank_values=True))
    if "payload" in text and "payload" in form:
        payload = _json_object(form["payload"])
        if payload is None:
            return Refusal(400, "the form's payload is not a JSON object")
        return _check_kind(payload, INTERACTIVE, "interactive payload")
    if "ssl_check" in form:
        return None  # Slack's certificate probe; bolt answers it
    if "command" not in form:
        return Refusal(400, "neither a slash command, an interactive payload nor an event")
    problem = shape_problem(form, COMMAND) or shape_problem(form, BOLT_READS)
    return None if problem is None else Refusal(400, f"slash command: {problem}")


def _check_kind(body: Mapping[str, Any], kinds: Mapping[str, Shape], what: str) -> Refusal | None:
    kind = body.get("type")
    if not isinstance(kind, str):
        return Refusal(400, f"{what} without a type")
    if kind not in kinds:
        return Refusal(404, f"{what} of type {kind[:40]!r} is not one brandgate handles")
    problem = shape_problem(body, kinds[kind]) or shape_problem(body, BOLT_READS)
    if problem is None:
        problem = _authorizations_problem(body.get("authorizations"))
    return None if problem is None else Refusal(400, f"{kind}: {problem}")


def _authorizations_problem(authorizations: Any) -> str | None:
    # bolt reads the first entry only, and only when there is one.
    if not authorizations:
        return None
    return shape_problem(
        authorizations[0],
        {"enterprise_id?": str, "team_id?": str, "user_id?": str, "is_enterprise_install?": (bool, str)},
        "authorizations[0]",
    )


def shape_problem(value: Any, shape: Shape, where: str = "") -> str | None:
    """The first place where `value` does not have `shape`, in words; None when it has it."""
    if isinstance(shape, tuple):
        problems = [shape_problem(value, option, where) for option in shape]
        return None if any(p is None for p in problems) else problems[0]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return f"{where or 'the body'} is not an object"
        for key, field_shape in shape.items():
            name = key.rstrip(_OPTIONAL + _NOT_NULL)
            path = f"{where}.{name}" if where else name
            if key.endswith(_NOT_NULL) and name in value and value[name] is None:
                return f"{path} is null"
            if value.get(name) is None:
                if key.endswith((_OPTIONAL, _NOT_NULL)):
                    continue
                return f"{path} is missing"
            problem = shape_problem(value[name], field_shape, path)
            if problem is not None:
                return problem
        return None
    if isinstance(shape, re.Pattern):
        if not isinstance(value, str) or shape.fullmatch(value) is None:
            return f"{where} is not a Slack ID"
        return None
    if isinstance(shape, list):
        if not isinstance(value, list) or not value:
            return f"{where} is not a non-empty list"
        for index, item in enumerate(value):
            problem = shape_problem(item, shape[0], f"{where}[{index}]")
            if problem is not None:
                return problem
        return None
    if not isinstance(value, shape) or (isinstance(value, bool) and shape is not bool):
        return f"{where} is not a {shape.__name__}"
    return None


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = parse_json(text)  # depth and size bounded, duplicate keys refused
    except InvalidInput:
        return None
    return value if isinstance(value, dict) else None

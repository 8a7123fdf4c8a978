"""The app manifest declares everything the code calls: scopes, the command, and request URLs."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = yaml.safe_load((ROOT / "bot" / "manifest.yaml").read_text())

# Web API methods the bot calls, and the bot scope each needs (Slack's method reference).
SCOPE_OF = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_postEphemeral": "chat:write",
    "files_upload_v2": "files:write",
    "files_completeUploadExternal": "files:write",
    "users_info": "users:read",
    "files_list": "files:read",
    "files_info": "files:read",
    "usergroups_users_list": "usergroups:read",
    "conversations_open": "im:write",
}


def test_every_web_api_method_the_bot_calls_has_its_scope() -> None:
    source = "\n".join(p.read_text() for p in (ROOT / "bot").rglob("*.py"))
    called = set(re.findall(r"\.(chat_\w+|files_\w+|usergroups_\w+|users_\w+|conversations_\w+|views_\w+)\(", source))
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    unknown = called - set(SCOPE_OF) - {"views_open", "views_publish"}  # views.* need no scope
    assert not unknown, f"add these methods' scopes to SCOPE_OF and the manifest: {unknown}"
    assert {SCOPE_OF[m] for m in called if m in SCOPE_OF} <= scopes
    assert "commands" in scopes and "app_mentions:read" in scopes


def test_the_command_and_all_request_urls_point_at_slack_events() -> None:
    [command] = MANIFEST["features"]["slash_commands"]
    assert command["command"] == "/brandgate" and command["should_escape"] is False
    settings = MANIFEST["settings"]
    urls = {command["url"], settings["event_subscriptions"]["request_url"], settings["interactivity"]["request_url"]}
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")
    assert settings["interactivity"]["is_enabled"] is True
    assert settings["event_subscriptions"]["bot_events"] == ["app_mention", "app_home_opened"]


def test_the_home_tab_is_enabled_for_the_review_desk() -> None:
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True


def test_the_events_the_app_listens_to_are_subscribed() -> None:
    source = (ROOT / "bot" / "listeners" / "events.py").read_text()
    listened = set(re.findall(r'app\.event\("(\w+)"\)', source))
    assert listened == set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])

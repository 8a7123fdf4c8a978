"""How people are named in requests, approvals and audit events: a Slack user as `slack:TEAM:USER`."""

from __future__ import annotations


def slack_actor(team_id: str, user_id: str) -> str:
    """How a Slack user is named in requests, approvals and audit events: workspace and user."""
    return f"slack:{team_id}:{user_id}"


def parse_actor(actor: str) -> tuple[str, str] | None:
    """(team_id, user_id) for a Slack actor; None for anyone else (CLI users, the regression suite)."""
    kind, _, rest = actor.partition(":")
    team, _, user = rest.partition(":")
    if kind != "slack" or not team or not user:
        return None
    return team, user

"""`brandgate review list|approve|reject`: the review desk for scripts and operators."""

from __future__ import annotations

import re

import click
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from brandgate import clock, review
from brandgate.cli.output import emit_json, say
from brandgate.db.approvals import AlreadyDecided
from brandgate.db.engine import make_sessionmaker, process_engine
from brandgate.db.export import check_kit_known
from brandgate.db.schema import ensure_current
from brandgate.errors import UserError
from brandgate.kits import list_kits
from brandgate.settings import Settings, get_settings
from policies.characters import quote

# A CLI decider is recorded as `cli:NAME`; the name goes into audit events and Slack messages.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,95}$")


@click.group("review")
def review_group() -> None:
    """Images waiting for a brand manager: list them, approve or reject one."""


def _sessions() -> tuple[Settings, Engine, sessionmaker[Session]]:
    settings = get_settings()
    engine = process_engine(settings)
    ensure_current(engine)
    return settings, engine, make_sessionmaker(engine)


@review_group.command("list")
@click.option("--kit", help="Only this kit's images.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def list_command(kit: str | None, as_json: bool) -> None:
    """Every flagged or unverified image no one has decided on, oldest first."""
    settings, engine, sessions = _sessions()
    if kit is not None:
        check_kit_known(engine, kit, list_kits(settings))
    items = review.waiting_images(sessions, [kit] if kit is not None else None)
    now = clock.now()
    if as_json:
        emit_json({"items": [item.to_json(now) for item in items]})
        return
    if not items:
        say("nothing waits for a decision" + (f" in kit {kit}" if kit else ""))
        return
    for item in items:
        hours = item.waiting_s(now) / 3600
        say(f"{item.image_id}  {item.kit}  {item.verdict}  waited {hours:.1f} h  asked by {item.requested_by}")
        for check in item.checks:
            say(f"    {check.id} {check.status}: {check.message}")
    say(f"{len(items)} image{'s' if len(items) != 1 else ''} waiting")


def _decider(name: str) -> str:
    if not _NAME.match(name):
        raise UserError(f"--by {quote(name)}: give a name of letters, digits and . _ @ + - (at most 96)")
    return f"cli:{name}"


def _decide(image_id: str, decision: str, by: str, reason: str | None) -> None:
    decided_by = _decider(by)
    _, _, sessions = _sessions()
    try:
        approval = review.decide(sessions, image_id, decision, decided_by, reason)
    except AlreadyDecided as exc:
        raise UserError(f"image {image_id} was already {exc.decision} by {exc.decided_by}; nothing changed") from None
    say(f"image {image_id} {approval.decision} by {approval.decided_by}")


@review_group.command("approve")
@click.argument("image_id")
@click.option("--by", "by", required=True, help="Who decides; recorded as cli:NAME.")
@click.option("--reason", help="Why (optional for an approval).")
def approve_command(image_id: str, by: str, reason: str | None) -> None:
    """Approve a flagged or unverified image, as the Slack Approve button does."""
    _decide(image_id, "approved", by, reason)


@review_group.command("reject")
@click.argument("image_id")
@click.option("--by", "by", required=True, help="Who decides; recorded as cli:NAME.")
@click.option("--reason", help="Why; required for a rejection (the requester reads it).")
def reject_command(image_id: str, by: str, reason: str | None) -> None:
    """Reject a flagged or unverified image with a reason, as the Slack Reject button does."""
    _decide(image_id, "rejected", by, reason)


def register(cli: click.Group) -> None:
    cli.add_command(review_group)

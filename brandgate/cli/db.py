"""`brandgate db upgrade|current`."""

from __future__ import annotations

import click

from brandgate.cli.output import emit_json, say
from brandgate.db.engine import database_url, describe_url, process_engine
from brandgate.db.schema import current_revision, head_revision, upgrade
from brandgate.settings import get_settings


@click.group("db")
def db_group() -> None:
    """The database: bring the schema up to date, show where it is."""


@db_group.command("upgrade")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def upgrade_command(as_json: bool) -> None:
    """Apply every migration up to head (creates the SQLite file and its folder if missing)."""
    settings = get_settings()
    revision = upgrade(settings)
    where = describe_url(database_url(settings))
    if as_json:
        emit_json({"database": where, "revision": revision, "head": head_revision()})
    else:
        say(f"{where} is at revision {revision} (head)")


@db_group.command("current")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def current_command(as_json: bool) -> None:
    """Show the database's revision and the newest one this brandgate knows."""
    engine = process_engine(get_settings())
    current = current_revision(engine)
    head = head_revision()
    if as_json:
        emit_json({"database": describe_url(engine.url), "revision": current, "head": head, "current": current == head})
    else:
        state = "up to date" if current == head else "behind: run `brandgate db upgrade`"
        say(f"{describe_url(engine.url)} is at revision {current or 'none'}, head is {head} ({state})")


def register(cli: click.Group) -> None:
    cli.add_command(db_group)

"""`brandgate audit verify|export`: the trail, for compliance."""

from __future__ import annotations

import click

from brandgate.cli.output import emit_json, say, warn
from brandgate.db.audit import verify_chain
from brandgate.db.engine import make_engine
from brandgate.db.schema import ensure_current
from brandgate.errors import EXIT_REJECT
from brandgate.settings import get_settings


@click.group("audit")
def audit_group() -> None:
    """The audit trail: verify its hash chain, export it."""


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def verify_command(as_json: bool) -> None:
    """Recompute the event hash chain; exit 0 when intact, 4 naming the first edited, deleted or reordered event."""
    engine = make_engine(get_settings())
    try:
        ensure_current(engine)
        report = verify_chain(engine)
    finally:
        engine.dispose()
    fault = report.first_break
    if as_json:
        emit_json(
            {
                "intact": report.intact,
                "events_verified": report.events,
                "head": {"seq": report.head_seq, "hash": report.head_hash},
                "first_bad_event": None
                if fault is None
                else {"kind": fault.kind, "seq": fault.seq, "id": fault.event_id, "message": fault.message},
            }
        )
    elif fault is None:
        say(f"audit chain intact: {report.events} events, head seq {report.head_seq} hash {report.head_hash}")
    else:
        say(f"audit chain BROKEN at seq {fault.seq} ({fault.kind}): {fault.message}")
        warn(f"{report.events} events before it verified; last good seq {report.head_seq}")
    if fault is not None:
        raise click.exceptions.Exit(EXIT_REJECT)


def register(cli: click.Group) -> None:
    cli.add_command(audit_group)

"""`brandgate audit verify|export`: the trail, for compliance."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from brandgate.artifacts import HEX_DIGEST, atomic_file
from brandgate.cli.output import emit_json, say, warn
from brandgate.cli.progress import ProgressDisplay, mode_for
from brandgate.db.audit import verify_chain
from brandgate.db.engine import make_engine
from brandgate.db.export import FORMATS, ExportFilter, check_kit_known, count_records, export_records
from brandgate.db.schema import ensure_current
from brandgate.errors import EXIT_REJECT, UserError
from brandgate.kits import list_kits
from brandgate.settings import get_settings


@click.group("audit")
def audit_group() -> None:
    """The audit trail: verify its hash chain, export it."""


def _anchor(text: str | None) -> tuple[int, str] | None:
    if text is None:
        return None
    seq, _, digest = text.partition(":")
    if not seq.isdigit() or int(seq) < 1 or not HEX_DIGEST.match(digest):
        raise UserError(f"--anchor {text!r}: write SEQ:HASH as printed by `audit verify` (e.g. 1200:6f1c…64 hex)")
    return int(seq), digest


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--anchor", help="SEQ:HASH recorded from an earlier verify; also catches deleted newest events.")
def verify_command(as_json: bool, anchor: str | None) -> None:
    """Recompute the event hash chain; exit 0 when intact, 4 naming the first edited, deleted or reordered event."""
    anchored = _anchor(anchor)
    engine = make_engine(get_settings())
    try:
        ensure_current(engine)
        report = verify_chain(engine, anchor=anchored)
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
        say(f"anchor for a later check: --anchor {report.head_seq}:{report.head_hash}")
    else:
        say(f"audit chain BROKEN at seq {fault.seq} ({fault.kind}): {fault.message}")
        warn(f"{report.events} events before it verified; last good seq {report.head_seq}")
    if fault is not None:
        raise click.exceptions.Exit(EXIT_REJECT)


def _moment(flag: str, text: str | None, *, end_of_day: bool) -> datetime | None:
    """ISO date or date-time; no offset means UTC. A bare --until date includes that whole day."""
    if text is None:
        return None
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            start = datetime(day.year, day.month, day.day, tzinfo=UTC)
            return start + timedelta(days=1) if end_of_day else start
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UserError(f"{flag} {text!r} is not a date; write 2026-11-23 or 2026-11-23T14:30:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# Exports of fewer images finish in about a second: no progress display for them.
EXPORT_PROGRESS_FROM = 1000


@audit_group.command("export")
@click.option("--since", help="Images created at or after this UTC date or date-time (ISO 8601).")
@click.option("--until", help="Images created before this date-time; a bare date includes that whole day.")
@click.option("--kit", help="Only images made with this kit.")
@click.option("--request", "request_id", help="Only the images of this request.")
@click.option("--format", "fmt", type=click.Choice(sorted(FORMATS)), default="jsonl", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Write here (atomically) instead of stdout.")
@click.option("--evidence", is_flag=True, help="Include each check's evidence document (JSONL only; slower).")
def export_command(
    since: str | None,
    until: str | None,
    kit: str | None,
    request_id: str | None,
    fmt: str,
    out: Path | None,
    evidence: bool,
) -> None:
    """Stream the trail: one row per image with its checks, approval and cost."""
    filters = ExportFilter(
        since=_moment("--since", since, end_of_day=False),
        until=_moment("--until", until, end_of_day=True),
        kit=kit,
        request_id=request_id,
    )
    if filters.since and filters.until and filters.since >= filters.until:
        raise UserError(f"--since {since} is not before --until {until}; nothing could match")
    target = None if out is None or str(out) == "-" else out
    if target is not None and not target.parent.is_dir():
        raise UserError(f"--out {target}: folder {target.parent} does not exist")
    if target is not None and target.is_dir():
        raise UserError(f"--out {target} is a folder; give a file name")
    engine = make_engine(get_settings())
    try:
        ensure_current(engine)
        if kit is not None:
            check_kit_known(engine, kit, list_kits(get_settings()))
        # The trail on a terminal's stdout leaves no room for a bar; a small trail needs no progress.
        mode = mode_for(False)
        total = count_records(engine, filters) if mode != "bar" or target is not None else 0
        if total < EXPORT_PROGRESS_FROM:
            mode = "off"
        display = ProgressDisplay("audit export", "images", total, mode=mode)
        records = display.counting(export_records(engine, filters, evidence=evidence and fmt == "jsonl"))
        with display:
            if target is None:
                count = FORMATS[fmt](records, sys.stdout)
                sys.stdout.flush()
            else:
                try:
                    with atomic_file(target, "w") as handle:
                        count = FORMATS[fmt](records, handle)
                except OSError as exc:
                    raise UserError(f"--out {target}: cannot write: {exc.strerror or exc}") from None
    finally:
        engine.dispose()
    warn(f"exported {count} image{'s' if count != 1 else ''}" + (f" to {target}" if target else ""))


def register(cli: click.Group) -> None:
    cli.add_command(audit_group)

"""`brandgate audit verify|export`: the trail, for compliance."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine

from brandgate.artifacts import HEX_DIGEST, atomic_file
from brandgate.cli.output import emit_json, say, warn
from brandgate.cli.progress import ProgressDisplay, mode_for
from brandgate.db.audit import ChainReport, verify_chain
from brandgate.db.engine import process_engine
from brandgate.db.export import (
    FORMATS,
    EvidenceReport,
    ExportFilter,
    check_kit_known,
    count_records,
    export_records,
    verify_evidence,
)
from brandgate.db.schema import ensure_current
from brandgate.errors import EXIT_REJECT, UserError
from brandgate.kits import list_kits
from brandgate.settings import get_settings
from policies.characters import quote


@click.group("audit")
def audit_group() -> None:
    """The audit trail: verify its hash chain, export it."""


_POSTED_ANCHOR = re.compile(r"(?:seq\s+)?(\d+)\s*(?::|\s+hash\s+)\s*([0-9a-fA-F]{64})\b")


def _anchor(text: str) -> tuple[int, str]:
    """SEQ:HASH as `audit verify` prints it, or a whole line as the scheduler posts it."""
    seq, _, digest = text.strip().removeprefix("--anchor").strip().partition(":")
    if seq.isdigit() and int(seq) >= 1 and HEX_DIGEST.match(digest):
        return int(seq), digest
    found = _POSTED_ANCHOR.search(text)
    if found is not None and int(found.group(1)) >= 1:
        return int(found.group(1)), found.group(2).lower()
    raise UserError(f"--anchor {text!r}: write SEQ:HASH as printed by `audit verify` (e.g. 1200:6f1c…64 hex)")


@audit_group.command("verify")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option(
    "--anchor", "anchor_texts", multiple=True,
    help="SEQ:HASH kept outside the database (printed by verify, posted daily by the scheduler); repeatable.",
)  # fmt: skip
@click.option(
    "--anchors", "anchors_dir", type=click.Path(path_type=Path),
    help="A folder of published images: the chain head each credential carries is an anchor.",
)  # fmt: skip
def verify_command(as_json: bool, anchor_texts: tuple[str, ...], anchors_dir: Path | None) -> None:
    """Recompute the event hash chain and every row's binding to it.

    Exit 0 when intact; 4 naming the first edited, deleted, reordered or rewritten event, or the
    first row that disagrees with the event that recorded it.
    """
    settings = get_settings()
    anchors = [_anchor(text) for text in anchor_texts]
    folder = None
    if anchors_dir is not None:
        # Lazy: only --anchors reads credentials, and with them the C2PA SDK.
        from brandgate.verification import anchors_under

        folder = anchors_under(anchors_dir, settings)
        anchors += list(folder.anchors)
        for problem in folder.unreadable or []:
            warn(f"not an anchor: {problem}")
    engine = process_engine(settings)
    ensure_current(engine)
    report = verify_chain(engine, anchors=anchors)
    evidence = verify_evidence(engine)
    fault = report.first_break
    if folder is not None:
        warn(f"{folder.images} image{'s' if folder.images != 1 else ''} under {anchors_dir}: "
             f"{sum(len(p) for p in folder.anchors.values())} carry a trail anchor ({len(folder.anchors)} distinct), "
             f"{folder.without_anchor} carry none, {len(folder.unreadable or [])} not validly signed")  # fmt: skip
        if fault is not None and fault.anchored:
            seq = fault.seq if fault.kind == "rewritten" else min(s for s, _ in anchors if s > report.head_seq)
            for path in folder.files_of(seq):
                warn(f"anchored by: {path}")
    if as_json:
        emit_json(
            {
                "intact": report.intact and evidence.intact,
                "events_verified": report.events,
                "head": {"seq": report.head_seq, "hash": report.head_hash},
                "first_bad_event": None
                if fault is None
                else {"kind": fault.kind, "seq": fault.seq, "id": fault.event_id, "message": fault.message},
                "anchors_checked": len(set(anchors)),
                "rows_verified": evidence.rows,
                "rows_legacy": evidence.legacy,
                "first_bad_row": evidence.first_problem,
            }
        )
    else:
        _describe_chain(report, len(set(anchors)))
        _describe_rows(evidence)
        if fault is None and report.events == 0:
            say("the trail is empty: no anchor to keep yet")
        elif fault is None:
            say(f"anchor for a later check: --anchor {report.head_seq}:{report.head_hash}")
    if fault is not None or not evidence.intact:
        raise click.exceptions.Exit(EXIT_REJECT)


def _describe_chain(report: ChainReport, anchors: int) -> None:
    fault = report.first_break
    if fault is None:
        against = f", {anchors} anchor{'s' if anchors != 1 else ''} held" if anchors else ""
        say(f"audit chain intact: {report.events} events, head seq {report.head_seq} hash {report.head_hash}{against}")
    elif fault.anchored and fault.kind == "rewritten":
        say(f"audit chain REWRITTEN at or before seq {fault.seq}: {fault.message}")
        warn(f"the {report.events} events link up among themselves, but they are not the events the anchor "
             f"recorded: none at or before seq {fault.seq} can be trusted")  # fmt: skip
    else:
        say(f"audit chain BROKEN at seq {fault.seq} ({fault.kind}): {fault.message}")
        last_good = fault.seq - 1
        warn(f"{report.events} events before it verified; last good seq {last_good}")


def _describe_rows(evidence: EvidenceReport) -> None:
    if evidence.first_problem is not None:
        say(f"audit rows DISAGREE with the trail: {evidence.first_problem}")
        return
    legacy = (f" ({evidence.legacy} recorded before rows were bound by digest: checked on what their events carry)"
              if evidence.legacy else "")  # fmt: skip
    say(f"audit rows bound: {evidence.rows} image{'s' if evidence.rows != 1 else ''} with their checks, "
        f"requests and approvals match the events that recorded them{legacy}")  # fmt: skip


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
        raise UserError(f"{flag} {quote(text, 64)} is not a date; write 2026-11-23 or 2026-11-23T14:30:00Z") from None
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
@click.option(
    "--anchor", "anchor_texts", multiple=True,
    help="SEQ:HASH kept outside the database: refuse to export a chain rewritten under it; repeatable.",
)  # fmt: skip
def export_command(
    since: str | None,
    until: str | None,
    kit: str | None,
    request_id: str | None,
    fmt: str,
    out: Path | None,
    evidence: bool,
    anchor_texts: tuple[str, ...],
) -> None:
    """Stream the trail: one row per image with its checks, approval and cost.

    Every row says whether it is what the audit chain recorded (`integrity`); the command exits
    4 after writing when any row disagrees, and refuses to start on a chain an anchor contradicts.
    """
    anchors = [_anchor(text) for text in anchor_texts]
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
    engine = process_engine(get_settings())
    tally = _Tally()
    ensure_current(engine)
    if kit is not None:
        check_kit_known(engine, kit, list_kits(get_settings()))
    if anchors:
        _refuse_unless_anchored(engine, anchors)
    # The trail on a terminal's stdout leaves no room for a bar; a small trail needs no progress.
    mode = mode_for(False)
    total = count_records(engine, filters) if mode != "bar" or target is not None else 0
    if total < EXPORT_PROGRESS_FROM:
        mode = "off"
    display = ProgressDisplay("audit export", "images", total, mode=mode)
    records = tally.count(display.counting(export_records(engine, filters, evidence=evidence and fmt == "jsonl")))
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
    warn(f"exported {count} image{'s' if count != 1 else ''}" + (f" to {target}" if target else ""))
    if tally.tampered:
        warn(f"{tally.tampered} exported row{'s' if tally.tampered != 1 else ''} DISAGREE with the audit trail "
             f"and are marked integrity=tampered; first: {tally.first}")  # fmt: skip
        raise click.exceptions.Exit(EXIT_REJECT)


def _refuse_unless_anchored(engine: Engine, anchors: list[tuple[int, str]]) -> None:
    fault = verify_chain(engine, anchors=anchors).first_break
    if fault is not None:
        what = f"REWRITTEN at or before seq {fault.seq}" if fault.kind == "rewritten" else f"BROKEN at seq {fault.seq}"
        warn(f"error: not exporting: the audit chain is {what}: {fault.message}")
        raise click.exceptions.Exit(EXIT_REJECT)


class _Tally:
    """Counts rows the export marked tampered as they stream past, so the command can exit 4 at the end."""

    def __init__(self) -> None:
        self.tampered = 0
        self.first: str | None = None

    def count(self, records: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        for record in records:
            if record["integrity"] == "tampered":
                self.tampered += 1
                self.first = self.first or record["integrity_problems"][0]
            yield record


def register(cli: click.Group) -> None:
    cli.add_command(audit_group)

"""`brandgate audit verify|export`: the trail, for compliance."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine

from brandgate.artifacts import HEX_DIGEST, atomic_file
from brandgate.cli.output import emit_json, say, warn
from brandgate.cli.progress import ProgressDisplay, mode_for
from brandgate.clock import moment
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
from brandgate.errors import EXIT_FLAG, EXIT_REJECT, UserError
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
@click.option(
    "--since-head", "since_head",
    help="SIZE:ROOT of a published tree head: prove the latest head extends it (O(log n), no full recomputation).",
)  # fmt: skip
def verify_command(
    as_json: bool, anchor_texts: tuple[str, ...], anchors_dir: Path | None, since_head: str | None
) -> None:
    """Recompute the event hash chain and every row's binding to it.

    Exit 0 when intact; 4 naming the first edited, deleted, reordered or rewritten event, or the
    first row that disagrees with the event that recorded it. With --since-head, check only that
    the latest signed tree head extends the published one (exit 4 when it does not).
    """
    settings = get_settings()
    if since_head is not None:
        if anchor_texts or anchors_dir is not None:
            raise UserError("--since-head checks a consistency proof only; run --anchor/--anchors without it")
        _verify_since_head(since_head, as_json)
        return
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
    heads = _verify_heads(engine, settings)
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
                "heads_verified": heads.heads,
                "heads_signatures_checked": heads.signatures_checked,
                "first_bad_head": heads.first_problem,
            }
        )
    else:
        _describe_chain(report, len(set(anchors)))
        _describe_rows(evidence)
        _describe_heads(heads)
        if fault is None and report.events == 0:
            say("the trail is empty: no anchor to keep yet")
        elif fault is None:
            say(f"anchor for a later check: --anchor {report.head_seq}:{report.head_hash}")
    if fault is not None or not evidence.intact or not heads.intact:
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


def _verify_heads(engine: Engine, settings: Any) -> Any:
    # Lazy: the tree and the trail key load only for the audit commands that use them.
    from brandgate.db.tree import verify_heads
    from brandgate.trail_key import checking_trail_key

    return verify_heads(engine, checking_trail_key(settings))


def _describe_heads(heads: Any) -> None:
    if heads.first_problem is not None:
        say(f"audit tree heads DISAGREE with the trail: {heads.first_problem}")
    elif heads.heads:
        signed = "signatures checked" if heads.signatures_checked else "signatures NOT checked (no trail key)"
        say(f"audit tree heads hold: {heads.heads} signed head{'s' if heads.heads != 1 else ''}, each root "
            f"recomputed from the events ({signed})")  # fmt: skip


def _moment(flag: str, text: str | None, *, end_of_day: bool) -> datetime | None:
    """ISO date or date-time; no offset means UTC. A bare --until date includes that whole day."""
    if text is None:
        return None
    try:
        return moment(text, end_of_day=end_of_day)
    except ValueError:
        raise UserError(f"{flag} {quote(text, 64)} is not a date; write 2026-11-23 or 2026-11-23T14:30:00Z") from None


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


def _head_text(text: str) -> tuple[int, bytes]:
    """SIZE:ROOT as `audit heads` prints it."""
    size, _, root = text.strip().partition(":")
    if size.isdigit() and int(size) >= 1 and HEX_DIGEST.match(root.strip().lower()):
        return int(size), bytes.fromhex(root.strip().lower())
    raise UserError(f"--since-head {quote(text, 100)}: write SIZE:ROOT as printed by `brandgate audit heads` "
                    "(e.g. 1200:6f1c…, 64 hex digits)")  # fmt: skip


def _verify_since_head(text: str, as_json: bool) -> None:
    # Lazy: as above.
    from brandgate.db.tree import check_consistency, latest_head, read_only
    from brandgate.trail_key import checking_trail_key

    old_size, old_root = _head_text(text)
    settings = get_settings()
    key = checking_trail_key(settings)
    engine = process_engine(settings)
    ensure_current(engine)
    with read_only(engine) as connection, connection.begin():
        head = latest_head(connection)
        if head is None:
            raise UserError("the trail has no signed tree head yet: make one with `brandgate audit heads --make`")
        check = check_consistency(connection, old_size, old_root, head)
    signed = None if key is None else head.signed_by(key)
    consistent = check.consistent and signed is not False
    detail = check.detail
    if signed is False:
        detail = (
            f"the latest tree head (size {head.size}) is not signed by the trail key: it was forged or the key changed"
        )
    elif signed is None:
        detail += "; the latest head's signature was not checked (no trail key: set BRANDGATE_TRAIL_PUBLIC_KEY)"
    if as_json:
        emit_json({**check.to_json(), "consistent": consistent, "head_signed": signed, "detail": detail,
                   "latest_head": head.to_json(key)})  # fmt: skip
    else:
        say(f"audit tree {'CONSISTENT' if consistent else 'NOT CONSISTENT'}: {detail}")
        if consistent:
            say(f"head for a later check: --since-head {head.text}")
    if not consistent:
        raise click.exceptions.Exit(EXIT_REJECT)


@audit_group.command("heads")
@click.option("--make", is_flag=True, help="Sign a new head over the trail as it is now (needs the trail key).")
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="Newest heads to list.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def heads_command(make: bool, limit: int, as_json: bool) -> None:
    """The signed tree heads of the audit trail, newest first; --make signs one now.

    Exit 0; 4 when a listed head's signature does not verify against the trail key.
    """
    # Lazy: as above.
    from brandgate.db.tree import list_heads, make_head, read_only
    from brandgate.trail_key import checking_trail_key, signing_trail_key

    settings = get_settings()
    engine = process_engine(settings)
    ensure_current(engine)
    made = None
    if make:
        head, made = make_head(engine, signing_trail_key(settings))
        if not as_json:
            say(f"{'signed a new' if made else 'no new events; latest'} head: size {head.size} root {head.root.hex()}")
    key = checking_trail_key(settings)
    with read_only(engine) as connection, connection.begin():
        heads = list_heads(connection, limit)
    forged = [h for h in heads if key is not None and not h.signed_by(key)]
    if as_json:
        emit_json({"heads": [h.to_json(key) for h in heads], "made": made,
                   "key_id": None if key is None else key.key_id})  # fmt: skip
    else:
        if not heads:
            say("no signed tree heads yet: make one with `brandgate audit heads --make`")
        for h in heads:
            mark = "signature not checked (no trail key)" if key is None else (
                "signed" if h.signed_by(key) else "SIGNATURE INVALID")  # fmt: skip
            say(f"{h.text} at {h.to_json()['time']} ({mark})")
    if forged and key is not None:
        warn(f"{len(forged)} head{'s' if len(forged) != 1 else ''} not signed by trail key {key.key_id[:16]}…")
        raise click.exceptions.Exit(EXIT_REJECT)


@audit_group.command("prove")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def prove_command(target: str, as_json: bool) -> None:
    """The inclusion proof of one image's record against the latest signed tree head.

    TARGET is an image ID or a signed image file (its credential names the image). Exit 0 when
    the record proves into a head signed by the trail key; 4 when it is missing or changed;
    3 when it could not be decided (no head over it yet, or no trail key to check the head with).
    """
    # Lazy: as above.
    from brandgate.db.tree import latest_head, make_head, prove_image, read_only, recording_event
    from brandgate.trail_key import checking_trail_key, signing_trail_key, trail_key_path

    settings = get_settings()
    image_id = _image_id_of(target, settings)
    engine = process_engine(settings)
    ensure_current(engine)
    key = checking_trail_key(settings)
    with read_only(engine) as connection, connection.begin():
        head, event = latest_head(connection), recording_event(connection, image_id)
    # On demand: a record newer than the latest head gets a head over it, where this process may sign.
    if event is not None and (head is None or event.seq > head.size) and trail_key_path(settings).exists():
        head, _ = make_head(engine, signing_trail_key(settings))
    with read_only(engine) as connection, connection.begin():
        proof = prove_image(connection, image_id, head, key)
    if as_json:
        emit_json(proof.to_json(key))
    else:
        say(f"image {image_id}: {proof.status.upper().replace('_', ' ')}: {proof.detail}")
        if proof.proof is not None:
            say(f"  leaf {proof.proof.leaf_index} of head {proof.proof.head.text}")
            for step in proof.proof.path:
                say(f"  path {step.hex()}")
    raise click.exceptions.Exit({"held": 0, "not_checked": EXIT_FLAG}.get(proof.status, EXIT_REJECT))


def _image_id_of(target: str, settings: Any) -> str:
    """TARGET as an image ID, or the image ID a signed file's credential carries."""
    path = Path(target)
    if not path.is_file():
        if re.fullmatch(r"[A-Za-z0-9_-]{1,64}", target) is None:
            raise UserError(f"{quote(target, 80)} is neither a file nor an image ID")
        return target
    # Lazy: the C2PA library loads only when a file, not an image ID, is given.
    from brandgate.verification import verify_file

    report = verify_file(path, settings)
    governance = report.credentials.governance
    if report.credentials.state == "invalid":
        raise UserError(f"{path}: its credentials are invalid or tampered; it cannot name its record")
    if governance is None or governance.image_id is None:
        raise UserError(f"{path}: its credentials carry no brandgate image ID; give the image ID instead")
    return governance.image_id


def register(cli: click.Group) -> None:
    cli.add_command(audit_group)

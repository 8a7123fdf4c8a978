"""`brandgate verify FILE|DIR... [--manifest FILE.c2pa] [--json] [--jobs N]`: content credentials, checked."""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

import click

from brandgate.cli.output import emit_json, say, shown_name
from brandgate.errors import UserError

if TYPE_CHECKING:
    from brandgate.verification import VerifyReport


@click.command("verify")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--manifest",
    type=click.Path(path_type=Path),
    default=None,
    help="Verify against this sidecar manifest store (FILE.c2pa) instead of the embedded one (one FILE only).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document; for several files, one a line.")
@click.option(
    "--jobs",
    type=click.IntRange(1, 256),
    default=None,
    help="Files verified at once, for several files (default: the number of cores).",
)
@click.pass_context
def verify(ctx: click.Context, files: tuple[Path, ...], manifest: Path | None, as_json: bool, jobs: int | None) -> None:
    """Read and validate the C2PA credentials of each FILE, or of every file in a folder.

    Exit 0 trusted, 3 valid but the signer is not trusted, 4 invalid or tampered (or the audit
    trail was rewritten under the chain head the credential carries, or the image's record is
    missing from the trail or changed), 5 no credentials and no visual match in the audit
    database, 6 no credentials but a visual match (its verdict and decision shown), 2 bad input.

    Several files, or a folder: one line (or JSON line) per file, in order, and a count on
    stderr; the exit code is the worst file's, worst first: 4, 3, 5, 6, 2 (a file that could not
    be verified), 0 (docs/cli.md).
    """
    # Imported here so that other commands (and `verify --help`) load neither pydantic nor C2PA.
    from brandgate.settings import get_settings
    from brandgate.verification import verify_file

    if len(files) > 1 or files[0].is_dir():
        ctx.exit(verify_several(files, manifest, as_json, jobs))

    report = verify_file(files[0], get_settings(), manifest)
    if as_json:
        emit_json(report.to_json())
    else:
        for line in describe(report):
            say(line)
    ctx.exit(report.exit_code)


def verify_several(files: tuple[Path, ...], manifest: Path | None, as_json: bool, jobs: int | None) -> int:
    """Verify many files and folders; every name is checked before any file is."""
    # Imported here, like verify_file above: the C2PA library only for the command that uses it.
    from brandgate.settings import get_settings
    from brandgate.verify_many import default_jobs, files_to_verify, tally, verify_many, worst_exit_code

    if manifest is not None:
        raise UserError("--manifest goes with one FILE; give that file alone")
    settings = get_settings()
    states: Counter[str] = Counter()
    codes = set()
    for outcome in verify_many(files_to_verify(list(files)), settings, jobs or default_jobs()):
        states[outcome.state] += 1
        codes.add(outcome.exit_code)
        if as_json:
            sys.stdout.write(json.dumps(outcome.to_json(), default=str) + "\n")
        else:
            click.echo(outcome.line())
    sys.stdout.flush()
    click.echo(tally(states), err=True)
    return worst_exit_code(codes)


def describe(report: VerifyReport) -> list[str]:
    """The human report: the verdict line first, then what the credentials say."""
    c = report.credentials
    lines = [f"{report.file}: {report.summary}"]
    if c.manifest_source == "sidecar":
        lines.append(f"  manifest: sidecar {report.manifest}")
    if c.signer is not None:
        lines.append(f"  signer: {c.signer.subject} (issued by {c.signer.issuer})")
    if c.signing_time:
        lines.append(f"  signed at: {c.signing_time} ({c.signing_time_source})")
    if c.claim_generator:
        lines.append(f"  made with: {c.claim_generator}")
    g = c.governance
    if g is not None:
        lines.append(
            f"  verdict: {g.verdict}; request {g.request_id}"
            + (f", image {g.image_id}" if g.image_id else "")
            + f"; kit {g.kit_name}; seed {g.seed}; model {g.model.name}@{g.model.revision}"
        )
        for check in g.checks:
            reason = f": {check.reason}" if check.reason else ""
            lines.append(f"    {check.id}: {check.status} (confidence {check.confidence:.2f}){reason}")
        if g.approval is not None:
            a = g.approval
            lines.append(f"  approval: {a.decision} by {a.decided_by} at {a.decided_at.isoformat()}")
    elif c.governance_error:
        lines.append(f"  governance assertion unreadable: {c.governance_error}")
    for action in c.actions:
        agent = action.get("softwareAgent")
        agent_text = f" by {agent.get('name')} {agent.get('version', '')}".rstrip() if isinstance(agent, dict) else ""
        description = f" ({action['description']})" if action.get("description") else ""
        lines.append(f"  action: {action.get('action')}{agent_text}{description}")
    for ingredient in c.ingredients:
        lines.append(f"  ingredient: {ingredient['title']} ({ingredient['relationship']})")
    if c.unknown_assertions:
        lines.append(f"  unknown assertions (not checked by brandgate): {', '.join(c.unknown_assertions)}")
    for failure in c.failure:
        lines.append(f"  failure: {failure.code}: {failure.explanation}")
    if report.anchor is not None and report.anchor.detail not in lines[0]:
        lines.append(f"  audit trail: {report.anchor.detail}")
    if report.record is not None and report.record.detail not in lines[0]:
        lines.append(f"  audit record: {report.record.detail}")
    if report.lookup is not None and report.lookup.detail not in lines[0]:
        lines.append(f"  {report.lookup.detail}")
    # The file's name and whatever the credentials say are someone else's text: one line each.
    return [shown_name(line) for line in lines]


def register(cli: click.Group) -> None:
    cli.add_command(verify)

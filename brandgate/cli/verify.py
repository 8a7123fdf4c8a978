"""`brandgate verify FILE [--manifest FILE.c2pa] [--json]`: content credentials, checked."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from brandgate.cli.output import emit_json, say, shown_name
from brandgate.settings import get_settings

if TYPE_CHECKING:
    from brandgate.verification import VerifyReport


@click.command("verify")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--manifest",
    type=click.Path(path_type=Path),
    default=None,
    help="Verify against this sidecar manifest store (FILE.c2pa) instead of the embedded one.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.pass_context
def verify(ctx: click.Context, file: Path, manifest: Path | None, as_json: bool) -> None:
    """Read and validate the C2PA credentials of FILE.

    Exit 0 trusted, 3 valid but the signer is not trusted, 4 invalid or tampered (or the audit
    trail was rewritten under the chain head the credential carries, or the image's record is
    missing from the trail or changed), 5 no credentials and no visual match in the audit
    database, 6 no credentials but a visual match (its verdict and decision shown), 2 bad input.
    """
    # Imported here so that other commands do not load the C2PA library.
    from brandgate.verification import verify_file

    report = verify_file(file, get_settings(), manifest)
    if as_json:
        emit_json(report.to_json())
    else:
        for line in describe(report):
            say(line)
    ctx.exit(report.exit_code)


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

"""`brandgate brief validate`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from brandgate.cli.output import emit_json, say, warn
from brandgate.errors import EXIT_BAD_INPUT
from brandgate.jobs.contract import BriefRefused
from brandgate.jobs.intake import check_brief_at_intake
from brandgate.kits import resolve_kit
from brandgate.settings import get_settings
from policies.brief import load_brief


@click.group("brief")
def brief_group() -> None:
    """Briefs: validate before spending GPU time."""


@brief_group.command("validate")
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def validate(file: Path, as_json: bool) -> None:
    """Validate a brief FILE (.yaml, .yml or .json) and the kit it names, as `generate` would at intake."""
    brief = load_brief(file)
    kit = resolve_kit(brief.kit, get_settings())
    try:
        check_brief_at_intake(brief, kit)
    except BriefRefused as exc:
        if as_json:
            emit_json({"brief": brief.model_dump(mode="json"), "brief_hash": brief.content_hash(),
                       "kit_hash": kit.content_hash, "valid": False, "state": "refused",
                       "refused_by": list(exc.check_ids), "reason": exc.reason})
        else:
            warn(f"refused: brief {file}: {exc.reason}")
        sys.exit(EXIT_BAD_INPUT)
    if as_json:
        emit_json(
            {
                "brief": brief.model_dump(mode="json"),
                "brief_hash": brief.content_hash(),
                "kit_hash": kit.content_hash,
                "valid": True,
            }
        )
    else:
        say(f"brief {file} is valid (kit {kit.name}, {brief.n} image(s) of {brief.size[0]}x{brief.size[1]})")
        if brief.counts:
            told = "read from the prompt" if brief.counts_inferred else "given"
            say(f"counts ({told}): " + ", ".join(f"{name}: {n}" for name, n in brief.counts.items()))
            if brief.counts_inferred:
                say("  to check other counts give `counts:`; `counts: {}` checks none")


def register(cli: click.Group) -> None:
    cli.add_command(brief_group)

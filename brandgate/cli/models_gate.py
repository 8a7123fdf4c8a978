"""`brandgate models list|promote|rollback`: the model registry and the A/B gate, on the `models` group."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from brandgate import model_registry
from brandgate.cli.output import emit_json, say
from brandgate.cli.progress import ProgressDisplay, mode_for
from brandgate.errors import EXIT_REJECT
from brandgate.regress import actions
from brandgate.regress.gate import format_table
from brandgate.regress.suite import load_suite
from brandgate.settings import get_settings


@click.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def list_command(as_json: bool) -> None:
    """Profiles with their registry status (active, candidate, retired) and golden outputs."""
    settings = get_settings()
    with actions.database(settings) as sessions, sessions.begin() as session:
        model_registry.ensure_active(session, settings, "cli")
        listed = model_registry.entries(session, settings)
    if as_json:
        emit_json({"profiles": [e.to_json() for e in listed]})
        return
    for e in listed:
        changed = "  CHANGED since registered: run the gate" if e.changed else ""
        digest = (e.profile_hash or "?")[:12]
        say(f"{e.name:<20} {e.status:<12} {digest}  model {e.model or '?'}  goldens {e.golden_outputs}{changed}")
        if e.problem:
            say(f"    {e.problem}")


@click.command("promote")
@click.argument("candidate")
@click.option("--suite", "suite_path", type=click.Path(path_type=Path), help="Suite file (default: settings).")
@click.option("--seeds", type=int, help="Seeds per brief, the same for both profiles.")
@click.option("--concurrency", type=int)
@click.option("--family", "families", multiple=True, help="Only briefs of this family (repeatable).")
@click.option("--limit", type=int, help="Only the first N briefs.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Folder for the A/B report.")
@click.option("--json", "as_json", is_flag=True)
def promote_command(
    candidate: str,
    suite_path: Path | None,
    seeds: int | None,
    concurrency: int | None,
    families: tuple[str, ...],
    limit: int | None,
    out_dir: Path | None,
    as_json: bool,
) -> None:
    """Run the suite on CANDIDATE and the active profile; promote only if every criterion holds.

    Exit 0 promoted, 4 refused (the failed criteria are named), 2 bad input.
    """
    settings = get_settings()
    suite = load_suite(suite_path or settings.regress_suite, settings).select(families, limit)
    options = actions.options_from(settings, seeds, concurrency, triggered_by="promote")
    display = ProgressDisplay("models promote", "renders", mode=mode_for(as_json))
    baseline_todo = 0

    def progress(which: str, done: int, todo: int) -> None:
        # both runs render the same plan: the whole promotion is twice the baseline's renders
        nonlocal baseline_todo
        if which == "baseline":
            baseline_todo = todo
        if display.total != baseline_todo * 2:
            display.set_total(baseline_todo * 2)
        display.update(done + (baseline_todo if which == "candidate" else 0), note=which)

    with actions.database(settings) as sessions, display:
        result = actions.promote(
            settings, sessions, candidate, suite, options, actor="cli", out_dir=out_dir, on_progress=progress
        )
    if as_json:
        emit_json(result.to_json())
    else:
        table = result.comparison.to_json()["table"]
        say(format_table([["metric", f"{candidate} (candidate)", f"{result.active} (active)"], *table]))
        for criterion in result.comparison.criteria:
            say(f"{'ok  ' if criterion.ok else 'FAIL'} {criterion.name}: {criterion.detail}")
        if result.promoted:
            say(f"promoted {candidate}; {result.active} retired (roll back with `brandgate models rollback`)")
        else:
            say(f"refused: {candidate} stays a candidate; failed: {', '.join(result.comparison.failed)}")
        say(f"report: {result.reports[0]}")
    if not result.promoted:
        sys.exit(EXIT_REJECT)


@click.command("rollback")
@click.option("--reason", default="manual rollback", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def rollback_command(reason: str, as_json: bool) -> None:
    """Restore the previously active profile at once."""
    settings = get_settings()
    with actions.database(settings) as sessions:
        retired, restored = actions.rollback(settings, sessions, "cli", reason)
    if as_json:
        emit_json({"rolled_back": retired, "active": restored})
    else:
        say(f"rolled back {retired}; {restored} is active again")


def register(cli: click.Group) -> None:
    """Adds to the `models` group the generation commands own (created here if it is not registered yet)."""
    group = cli.commands.get("models")
    if not isinstance(group, click.Group):
        group = click.Group("models", help="Model folders and the model registry.")
        cli.add_command(group)
    for command in (list_command, promote_command, rollback_command):
        group.add_command(command)

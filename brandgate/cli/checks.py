"""`brandgate check IMAGE... --kit KIT [--brief FILE] [--json]` and `brandgate checks list`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from brandgate.cli.output import emit_json, say, shown_name
from brandgate.errors import EXIT_FLAG, EXIT_OK, EXIT_REJECT

if TYPE_CHECKING:
    from policies.engine import ImageReport

# An unverified image needs a person exactly as a flagged one does: both exit 3.
EXIT_FOR_VERDICT = {"pass": EXIT_OK, "unverified": EXIT_FLAG, "flag": EXIT_FLAG, "reject": EXIT_REJECT}


@click.command("check")
@click.argument("images", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--kit", "kit_name", required=True, help="Kit name under the kits folder, or a path to a kit folder.")
@click.option("--brief", "brief_file", type=click.Path(path_type=Path), help="The brief the images were made for.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def check(images: tuple[Path, ...], kit_name: str, brief_file: Path | None, as_json: bool) -> None:
    """Run the kit's policy checks on existing IMAGES.

    Exit 0 when every image passes, 3 when any is unverified (a check that applies could not
    decide) or flagged, 4 when any is rejected, 2 for bad input (an unreadable image, kit or
    brief), before any check runs.
    """
    # Imported here, not at the top: the checks load OpenCV and the OCR engines, which
    # `brandgate check --help` and the other commands have no use for (start-up time).
    from brandgate.kits import resolve_kit
    from brandgate.settings import get_settings
    from pipeline.compose import check_brief_fits
    from policies.brief import load_brief
    from policies.creative import load_creative
    from policies.engine import run_checks, worst_verdict

    settings = get_settings()
    kit = resolve_kit(kit_name, settings)
    brief = load_brief(brief_file) if brief_file is not None else None
    if brief is not None:
        check_brief_fits(brief, kit)
    # Every image is read first, so a bad one stops the run before any check is paid for; each is
    # decoded again when its turn comes and let go after, so one image's pixels are held at a time
    # (thirty 40-Mpx images, each within the limit, would not fit in memory together).
    for path in images:
        load_creative(path, max_pixels=settings.max_image_pixels, max_bytes=settings.max_image_bytes)
    reports = []
    for path in images:
        creative = load_creative(path, max_pixels=settings.max_image_pixels, max_bytes=settings.max_image_bytes)
        creative.name = str(path)
        reports.append(run_checks(creative, brief, kit))
        del creative
    if as_json:
        emit_json({"results": [r.to_json() for r in reports]})
    else:
        for report in reports:
            _print_report(report)
    raise click.exceptions.Exit(EXIT_FOR_VERDICT[worst_verdict(r.verdict for r in reports)])


def _print_report(report: ImageReport) -> None:
    # Each line stays one line: a file named "a.png: pass\n  note" must not print a verdict of its own.
    say(f"{shown_name(report.image)}: {report.verdict}")
    for note in report.notes:
        say(f"  note: {shown_name(note)}")
    for result in report.checks:
        say(
            f"  {result.id} {result.name:<22} {result.status:<10} {result.severity:<6}"
            f" {result.duration_ms:7.1f} ms  {shown_name(result.message)}"
        )


@click.group("checks")
def checks_group() -> None:
    """The built-in policy checks."""


@checks_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def list_checks(as_json: bool) -> None:
    """List every built-in check: ID, name, family, default severity and its documentation."""
    from policies.checks import builtin_specs  # loads every check module: only this command needs them

    specs = builtin_specs()
    if as_json:
        emit_json(
            {
                "checks": [
                    {
                        "id": s.id,
                        "name": s.name,
                        "family": s.family,
                        "default_severity": s.default_severity,
                        "screens_brief": s.screens_brief,
                        "doc": s.doc,
                    }
                    for s in specs
                ]
            }
        )
        return
    for spec in specs:
        summary = spec.doc.splitlines()[0] if spec.doc else ""
        say(f"{spec.id}  {spec.name:<24} {spec.family:<10} {spec.default_severity:<6}  {summary}")


def register(cli: click.Group) -> None:
    cli.add_command(check)
    cli.add_command(checks_group)

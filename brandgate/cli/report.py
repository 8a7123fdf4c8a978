"""`brandgate report`: the governance figures a business judges the image pipeline by."""

from __future__ import annotations

from pathlib import Path

import click

from brandgate import clock
from brandgate.artifacts import atomic_file
from brandgate.cli.audit import _moment
from brandgate.cli.output import emit_json, say
from brandgate.db.engine import make_sessionmaker, process_engine
from brandgate.db.export import check_kit_known
from brandgate.db.schema import ensure_current
from brandgate.errors import UserError
from brandgate.kits import list_kits
from brandgate.report import governance_figures, image_facts, summary_lines, weekly
from brandgate.settings import get_settings
from policies.characters import quote


def scope_words(since: str | None, until: str | None, kit: str | None) -> str:
    where = f"kit {kit}" if kit else "every kit"
    return f"{where}, images made {'from ' + since if since else 'since the start'}{' until ' + until if until else ''}"


@click.command("report")
@click.option("--since", help="Images made at or after this UTC date or date-time (ISO 8601).")
@click.option("--until", help="Images made before this date-time; a bare date includes that whole day.")
@click.option("--kit", help="Only this kit's images.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
@click.option("--html", "html_file", type=click.Path(path_type=Path), help="Also write the report with weekly charts.")
def report_command(
    since: str | None, until: str | None, kit: str | None, as_json: bool, html_file: Path | None
) -> None:
    """Auto-pass rate, decisions and overrides per check, time to decision, cost per usable image."""
    settings = get_settings()
    start, end = _moment("--since", since, end_of_day=False), _moment("--until", until, end_of_day=True)
    if start and end and start >= end:
        raise UserError(f"--since {since} is not before --until {until}; nothing could match")
    if html_file is not None and (html_file.is_dir() or not html_file.parent.is_dir()):
        raise UserError(f"--html {quote(str(html_file))}: give a file name in a folder that exists")
    engine = process_engine(settings)
    ensure_current(engine)
    if kit is not None:
        check_kit_known(engine, kit, list_kits(settings))
    facts = image_facts(make_sessionmaker(engine), start, end, kit)
    figures = governance_figures(facts, settings.review_cost_usd)
    if html_file is not None:
        # Lazy: matplotlib loads only when --html asks for charts.
        from brandgate.report_page import report_html

        now = clock.now()
        page = report_html(figures, weekly(facts, settings.review_cost_usd, now), scope_words(since, until, kit), now)
        try:
            with atomic_file(html_file, "w") as handle:
                handle.write(page)
        except OSError as exc:
            raise UserError(f"--html {quote(str(html_file))}: cannot write there: {exc.strerror or exc}") from None
    if as_json:
        emit_json(figures)
        return
    for line in summary_lines(figures):
        say(line)
    if html_file is not None:
        say(f"report with charts: {html_file}")


def register(cli: click.Group) -> None:
    cli.add_command(report_command)

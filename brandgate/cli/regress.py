"""`brandgate regress run|compare|list`: the prompt suite through the job queue, its report and comparisons."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy import select

from brandgate import model_registry
from brandgate.cli.output import check_out_folder, emit_json, say, warn
from brandgate.cli.progress import ProgressDisplay, mode_for
from brandgate.db.models import RegressionRun
from brandgate.errors import EXIT_FAILURE, BrandgateError, UserError
from brandgate.regress import actions
from brandgate.regress.gate import evaluate, format_table
from brandgate.regress.report import summary_json, summary_lines, write_comparison
from brandgate.regress.runner import RunInterrupted, find_run, load_view
from brandgate.regress.suite import load_suite
from brandgate.settings import get_settings
from policies.brief import brief_from_mapping


class RunIncomplete(BrandgateError):
    """The run stopped part-way: recorded as incomplete, never as a pass."""

    exit_code = EXIT_FAILURE


@click.group("regress")
def regress_group() -> None:
    """The regression suite: run it, compare runs, list runs."""


@regress_group.command("run")
@click.option("--suite", "suite_path", type=click.Path(path_type=Path), help="Suite file (default: settings).")
@click.option("--profile", help="Model profile to run (default: the active one).")
@click.option("--seeds", type=int, help="Seeds per brief (default 2, BRANDGATE_REGRESS_SEEDS).")
@click.option("--concurrency", type=int, help="Requests in flight at once (default 2).")
@click.option("--family", "families", multiple=True, help="Only briefs of this family (repeatable).")
@click.option("--limit", type=int, help="Only the first N briefs (after --family).")
@click.option("--no-watchdog", is_flag=True, help="Skip the second render of each brief's first seed.")
@click.option("--size", "size_text", help="Render briefs without their own size at WIDTHxHEIGHT (default: the "
              "profile's resolution); a smaller size is a quicker, less telling run.")
@click.option("--resume", "resume_id", help="Finish an interrupted run instead of starting one.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Folder for report.html and summary.json.")
@click.option("--post", is_flag=True, help="Send the summary and report to BRANDGATE_SLACK_REPORT_CHANNEL.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def run_command(
    suite_path: Path | None,
    profile: str | None,
    seeds: int | None,
    concurrency: int | None,
    families: tuple[str, ...],
    limit: int | None,
    no_watchdog: bool,
    size_text: str | None,
    resume_id: str | None,
    out_dir: Path | None,
    post: bool,
    as_json: bool,
) -> None:
    """Run the suite on a profile like real traffic.

    Exit 0 complete with something passed, 3 watchdog flagged, 4 nothing passed (pass rate 0 %),
    1 incomplete or no image made at all.
    """
    settings = get_settings()
    # The suite is read before the database is opened: a bad file costs nothing.
    suite = None if resume_id else load_suite(suite_path or settings.regress_suite, settings).select(families, limit)
    if out_dir is not None:
        check_out_folder(out_dir)
    display = ProgressDisplay("regress run", "renders", mode=mode_for(as_json))

    def progress(done: int, todo: int) -> None:
        if display.total != todo:
            display.set_total(todo)
        display.update(done)

    with actions.database(settings) as sessions, display:
        try:
            if suite is None:
                view = actions.resume_run(settings, sessions, resume_id or "", suite_path, on_progress=progress)
            else:
                for problem in suite.problems:
                    warn(f"skipped: {problem.describe(suite.path)}")
                if profile is None:
                    with sessions.begin() as session:
                        profile = model_registry.ensure_active(session, settings, "cli").name
                size = _size_option(size_text) if size_text else None
                options = actions.options_from(settings, seeds, concurrency, watchdog=not no_watchdog, size=size)
                view = actions.run_suite(settings, sessions, suite, profile, options, on_progress=progress)
        except RunInterrupted as exc:
            view = load_view(sessions, exc.run_id)
            actions.report(settings, view, out_dir)
            raise RunIncomplete(str(exc)) from None
        html_path, json_path = actions.report(settings, view, out_dir, post=post, sessions=sessions)
    if as_json:
        emit_json({**summary_json(view), "report": str(html_path), "summary_file": str(json_path)})
    else:
        for line in summary_lines(view):
            say(line)
        say(f"report: {html_path}")
    if view.status == "incomplete":
        raise RunIncomplete(f"run {view.run_id} is incomplete: some renders never finished; resume it with --resume")
    # The exit code follows the badge: 1 no image at all, 4 nothing passed, 3 the watchdog flagged it.
    code = view.outcome().exit_code
    if code == EXIT_FAILURE:
        raise RunIncomplete(f"regression run {view.run_id} made no image at all; the report lists why each failed")
    if code:
        sys.exit(code)


def _size_option(text: str) -> tuple[int, int]:
    parts = text.lower().replace("×", "x").split("x")
    if len(parts) != 2 or not all(p.strip().isdigit() for p in parts):
        raise UserError(f"--size {text!r}: write it as WIDTHxHEIGHT, like --size 256x256")
    size = (int(parts[0]), int(parts[1]))
    # the brief's own rules: sides 64..2048, multiples of 8
    brief_from_mapping({"kit": "x", "prompt": "x", "size": size, "counts": {}}, "--size")
    return size


@regress_group.command("compare")
@click.argument("run_a")
@click.argument("run_b")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), help="Folder for the A/B report.")
@click.option("--json", "as_json", is_flag=True)
def compare_command(run_a: str, run_b: str, out_dir: Path | None, as_json: bool) -> None:
    """Compare RUN_A (candidate) with RUN_B (baseline) on the gate's criteria; writes an A/B report."""
    settings = get_settings()
    if out_dir is not None:
        check_out_folder(out_dir)
    with actions.database(settings) as sessions:
        a = load_view(sessions, find_run(sessions, run_a))
        b = load_view(sessions, find_run(sessions, run_b))
        comparison = evaluate(a, b, settings)
        # its own files (compare-A-vs-B.*): run A's own report and summary stay as they were
        html_path, json_path = write_comparison(comparison, out_dir or settings.regress_reports_dir)
    if as_json:
        emit_json({**comparison.to_json(), "report": str(html_path), "summary_file": str(json_path)})
        return
    say(format_table([["metric", "A (candidate)", "B (baseline)"], *comparison.to_json()["table"]]))
    for criterion in comparison.criteria:
        say(f"{'ok  ' if criterion.ok else 'FAIL'} {criterion.name}: {criterion.detail}")
    say(f"gate: {'passed' if comparison.passed else 'refused: ' + ', '.join(comparison.failed)}")
    say(f"report: {html_path}")


@regress_group.command("list")
@click.option("--limit", type=int, default=20, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def list_command(limit: int, as_json: bool) -> None:
    """The latest regression runs, newest first."""
    settings = get_settings()
    with actions.database(settings) as sessions, sessions() as session:
        rows = list(session.scalars(select(RegressionRun).order_by(RegressionRun.started_at.desc()).limit(limit)))
        runs = [
            {
                "run_id": r.id,
                "profile": r.profile_name,
                "status": r.status,
                "suite": r.suite,
                "started_at": r.started_at.isoformat() if r.started_at else None,
                "acceptance_rate": (r.summary or {}).get("acceptance_rate"),
                "triggered_by": r.triggered_by,
            }
            for r in rows
        ]
    if as_json:
        emit_json({"runs": runs})
        return
    for r in runs:
        say(f"{r['run_id']}  {r['status']:<10}  {r['profile']:<16}  {r['started_at']}  {r['suite']}")


def register(cli: click.Group) -> None:
    cli.add_command(regress_group)

"""Entry point: the command group and the one place user errors become exit codes."""

from __future__ import annotations

import logging
import os
import sys
from importlib import import_module
from pathlib import Path

import click

from brandgate import __version__
from brandgate.errors import EXIT_BAD_INPUT, BrandgateError
from brandgate.logs import configure_command_logging, redact_secrets
from policies.characters import printable

# Our messages are a sentence or two; anything longer is quoting too much of someone's input.
MAX_ERROR_CHARS = 2000

# Command name -> the brandgate.cli modules whose register(cli) provides it, in order
# (models_gate adds its commands to the `models` group that models creates). Modules are
# imported only when their command runs, so `brandgate verify` doesn't pay for torch.
COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "kit": ("kits",),
    "brief": ("briefs",),
    "db": ("db",),
    "audit": ("audit",),
    "keys": ("keys",),
    "verify": ("verify",),
    "check": ("checks",),
    "checks": ("checks",),
    "models": ("models", "models_gate"),
    "render": ("render",),
    "generate": ("jobs",),
    "export": ("jobs",),
    "status": ("jobs",),
    "cancel": ("jobs",),
    "worker": ("worker",),
    "health": ("worker",),
    "bot": ("bot",),
    "regress": ("regress",),
    "scheduler": ("scheduler",),
    "review": ("review",),
    "report": ("report",),
}

# What `brandgate --help` lists for each command, so listing them imports none of their modules
# (some load torch or OpenCV). tests/brandgate/test_cli_startup.py holds these equal to the
# commands' own docstrings; a command missing here is loaded to ask it, as before.
COMMAND_SUMMARIES: dict[str, str] = {
    "kit": "Brand kits: validate and list.",
    "brief": "Briefs: validate before spending GPU time.",
    "db": "The database: bring the schema up to date, show where it is.",
    "audit": "The audit trail: verify its hash chain, export it.",
    "keys": "C2PA signing keys.",
    "verify": "Read and validate the C2PA credentials of each FILE, or of every file in a folder.",
    "check": "Run the kit's policy checks on existing IMAGES.",
    "checks": "The built-in policy checks.",
    "models": "Model folders under BRANDGATE_MODELS_DIR.",
    "render": "Generate the brief's images and place its brand elements; prints seeds, timings and cost.",
    "generate": "Generate, check, sign and audit the images of a brief; exit 0 when done, whatever the verdicts.",
    "export": "Export a preview IMAGE_ID with the export profile and its seed, as a new signed asset.",
    "status": "Where a request is: queue position, progress, or its images and verdicts.",
    "cancel": "Cancel a request: removed if queued, stopped at the next denoising step if running.",
    "worker": "Run jobs from the queue named by BRANDGATE_QUEUE, serving /metrics on BRANDGATE_METRICS_PORT.",
    "health": (
        "Exit 0 when every check holds: database reachable and migrated, and for Celery the broker answers and a"
        " worker consumes each queue; the signing keys load and sign; disk is free."
    ),
    "bot": "Run the Slack bot.",
    "regress": "The regression suite: run it, compare runs, list runs.",
    "review": "Images waiting for a brand manager: list them, approve or reject one.",
    "report": "Auto-pass rate, decisions and overrides per check, time to decision, cost per usable image.",
    "scheduler": "Run the nightly regression suite on BRANDGATE_NIGHTLY_CRON (default 02:00 UTC) until stopped.",
}


class LazyGroup(click.Group):
    """A group that imports a command's module the first time that command is asked for."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(self.commands) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            for module in COMMAND_MODULES.get(cmd_name, ()):
                import_module(f"brandgate.cli.{module}").register(self)
        return self.commands.get(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list, as click prints it, from COMMAND_SUMMARIES where a command is not loaded."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            summary = COMMAND_SUMMARIES.get(name) if name not in self.commands else None
            # A stand-in that holds only the summary shortens it exactly as the command would.
            command = click.Command(name, help=summary) if summary is not None else self.get_command(ctx, name)
            if command is None or command.hidden:
                continue
            rows.append((name, command.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="brandgate")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """brandgate: governed, signed, audited campaign images."""
    configure_command_logging(log_format_for(ctx.invoked_subcommand), logging.DEBUG if verbose else logging.INFO)


# Processes that run until stopped log JSON unless told otherwise (BRANDGATE_LOG_FORMAT's default);
# a one-off command a person types logs text unless BRANDGATE_LOG_FORMAT is set.
LONG_RUNNING = frozenset({"worker", "bot", "scheduler"})


def log_format_for(command: str | None) -> str:
    if command not in LONG_RUNNING and "BRANDGATE_LOG_FORMAT" not in os.environ and not Path(".env").is_file():
        return "text"  # decided without loading the settings, which a command's --help must not pay for
    # Lazy: the settings (pydantic) load only where the log format depends on them.
    from brandgate.settings import get_settings

    try:
        settings = get_settings()
    except BrandgateError:  # the command itself reports the bad setting, in one line
        return "text"
    if "log_format" in settings.model_fields_set or command in LONG_RUNNING:
        return settings.log_format
    return "text"


def _register() -> None:
    """Load every command now (tests driving `cli` in-process with CliRunner use this)."""
    ctx = click.Context(cli)
    for name in COMMAND_MODULES:
        cli.get_command(ctx, name)


def one_line(message: str) -> str:
    """An error as one line a terminal shows as written: controls escaped, length bounded."""
    return printable(redact_secrets(message), MAX_ERROR_CHARS)


# click 8.2+ raises this for a group called without a command; it carries the help text.
_NO_ARGS_IS_HELP: tuple[type[click.ClickException], ...] = tuple(
    t for t in (getattr(click.exceptions, "NoArgsIsHelpError", None),) if t is not None
)


def _usage_line(exc: click.ClickException) -> str:
    """click's usage error (three lines: usage, a hint, the error) as the contract's one line."""
    message = " ".join(exc.format_message().split())
    ctx = getattr(exc, "ctx", None)
    if isinstance(exc, click.UsageError) and ctx is not None:
        return f"{message} (see `{ctx.command_path} --help`)"
    return message


def main() -> None:
    try:
        # Non-standalone click returns (not raises) the code of a command's `Exit(code)`.
        code = cli.main(prog_name="brandgate", standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        if isinstance(exc, _NO_ARGS_IS_HELP):
            exc.show()  # `brandgate` or `brandgate kit` alone: the help, as asked for
            sys.exit(exc.exit_code)
        click.echo(f"error: {one_line(_usage_line(exc))}", err=True)
        sys.exit(EXIT_BAD_INPUT if exc.exit_code == 2 else exc.exit_code)
    except BrandgateError as exc:
        click.echo(f"error: {one_line(str(exc))}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        sys.exit(code)

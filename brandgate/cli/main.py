"""Entry point: the command group and the one place user errors become exit codes."""

from __future__ import annotations

import logging
import sys
from importlib import import_module

import click

from brandgate import __version__
from brandgate.errors import EXIT_BAD_INPUT, BrandgateError
from brandgate.logs import redact_secrets, text_formatter
from policies.characters import printable
from policies.errors import InvalidInput

# Our messages are a sentence or two; anything longer is quoting too much of someone's input.
MAX_ERROR_CHARS = 2000

# Command name -> the brandgate.cli modules whose register(cli) provides it, in order
# (gate adds its commands to the `models` group that models creates). Modules are
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
    "models": ("models", "gate"),
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


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="brandgate")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
def cli(verbose: bool) -> None:
    """brandgate: governed, signed, audited campaign images."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
    )
    for handler in logging.getLogger().handlers:
        handler.setFormatter(text_formatter())


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
    except InvalidInput as exc:
        click.echo(f"error: {one_line(str(exc))}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        sys.exit(code)

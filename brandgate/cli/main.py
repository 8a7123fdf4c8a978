"""Entry point: the command group and the one place user errors become exit codes."""

from __future__ import annotations

import logging
import sys

import click

from brandgate import __version__
from brandgate.errors import EXIT_BAD_INPUT, BrandgateError
from policies.errors import InvalidInput


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="brandgate")
@click.option("-v", "--verbose", is_flag=True, help="Log debug detail to stderr.")
def cli(verbose: bool) -> None:
    """brandgate: governed, signed, audited campaign images."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


def _register() -> None:
    from brandgate.cli import audit, briefs, db, keys, kits, verify

    for module in (kits, briefs, db, audit, keys, verify):
        module.register(cli)
    # after every other family: gate adds its commands to the `models` group registered above
    from brandgate.cli import gate, regress, scheduler

    for module in (regress, scheduler, gate):
        module.register(cli)


def main() -> None:
    _register()
    try:
        # Non-standalone click returns (not raises) the code of a command's `Exit(code)`.
        code = cli.main(standalone_mode=False)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_BAD_INPUT if exc.exit_code == 2 else exc.exit_code)
    except BrandgateError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except InvalidInput as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_BAD_INPUT)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    if isinstance(code, int) and not isinstance(code, bool) and code != 0:
        sys.exit(code)

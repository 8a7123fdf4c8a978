"""How commands print: one JSON document on stdout, human lines otherwise."""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import click

from brandgate.errors import UserError
from brandgate.logs import redact_secrets
from policies.characters import QUOTE_CHARS, printable, terminal_safe


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def say(line: str) -> None:
    click.echo(terminal_safe(redact_secrets(line)))


def warn(line: str) -> None:
    click.echo(terminal_safe(redact_secrets(line)), err=True)


def shown_name(name: str) -> str:
    """A file name as human output shows it: one line whatever it holds (a newline in a name
    must not start a line of its own, such as a forged `other.png: pass`), controls escaped."""
    return printable(name)


def check_out_folder(folder: Path, flag: str = "--out") -> None:
    """Refuse (UserError) a folder that cannot be made or written, before any work starts.

    It is tried for real (make it, write a probe file), because permission bits do not tell:
    root may "write" /proc/1 by mode, yet nothing can be created there. Whatever the trial made
    is removed again, so a refusal later (at intake, say) leaves nothing behind.
    """
    shown = printable(str(folder), QUOTE_CHARS)
    if folder.exists() and not folder.is_dir():
        raise UserError(f"{flag} {shown} is a file; give a folder")
    made: list[Path] = []
    try:
        missing: list[Path] = []
        here = folder
        while not here.exists() and here != here.parent:
            missing.append(here)
            here = here.parent
        for step in reversed(missing):
            step.mkdir()
            made.append(step)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".brandgate-probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise UserError(f"{flag} {shown}: cannot write there: {exc.strerror or exc}") from None
    finally:
        for step in reversed(made):
            with contextlib.suppress(OSError):
                step.rmdir()


def write_private(path: Path, data: bytes) -> None:
    """Write a file only its owner can read (0600), like the artifact store's files."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # an existing file keeps its old mode through O_CREAT
        with os.fdopen(fd, "wb", closefd=False) as handle:
            handle.write(data)
    finally:
        os.close(fd)


def copy_private(source: Path, target: Path) -> None:
    write_private(target, Path(source).read_bytes())

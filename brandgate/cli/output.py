"""How commands print: one JSON document on stdout, human lines otherwise."""

from __future__ import annotations

import json
import sys
from typing import Any

import click


def emit_json(document: Any) -> None:
    sys.stdout.write(json.dumps(document, indent=2, sort_keys=False, default=str) + "\n")
    sys.stdout.flush()


def say(line: str) -> None:
    click.echo(line)


def warn(line: str) -> None:
    click.echo(line, err=True)

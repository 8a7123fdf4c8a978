"""`brandgate keys init [--dir DIR] [--force]`: a local development signing chain."""

from __future__ import annotations

from pathlib import Path

import click

from brandgate.cli.output import emit_json, say
from brandgate.settings import get_settings
from brandgate.trail_key import write_trail_key
from pipeline.keys import issue_chain, write_dev_chain


@click.group("keys")
def keys_group() -> None:
    """C2PA signing keys."""


@keys_group.command("init")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder for the chain (default: BRANDGATE_KEYS_DIR).",
)
@click.option("--force", is_flag=True, help="Replace an existing chain (older images then verify as untrusted).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def init(directory: Path | None, force: bool, as_json: bool) -> None:
    """Create a development chain: root CA, intermediate CA, ES256 signing certificate; and a trail key.

    Private keys are written 0600 and never printed. For production, set
    BRANDGATE_SIGNING_CERT, BRANDGATE_SIGNING_KEY and BRANDGATE_TRUST_ANCHORS instead, and
    BRANDGATE_TRAIL_KEY (Ed25519, signs the audit tree's heads).
    """
    target = directory or get_settings().keys_dir
    paths = write_dev_chain(target, issue_chain(), force=force)
    trail_key, trail_public_key = write_trail_key(target, force=force)
    if as_json:
        emit_json(
            {
                "dir": str(target),
                "signing_cert": str(paths.signing_chain),
                "signing_key": str(paths.signing_key),
                "trust_anchors": str(paths.trust_anchors),
                "trail_key": str(trail_key),
                "trail_public_key": str(trail_public_key),
            }
        )
        return
    say(f"development signing chain written to {target}")
    say(f"  signing certificate chain: {paths.signing_chain}")
    say(f"  signing key (0600):        {paths.signing_key}")
    say(f"  trust anchor (root CA):    {paths.trust_anchors}")
    say(f"  trail key (0600):          {trail_key} (signs the audit tree's heads)")
    say(f"  trail public key:          {trail_public_key}")
    if directory is not None and directory != get_settings().keys_dir:
        say(f"  use it with BRANDGATE_KEYS_DIR={target}")


def register(cli: click.Group) -> None:
    cli.add_command(keys_group)

"""`brandgate models …`: model folders (build-tiny; list/promote/rollback join with the gate)."""

from __future__ import annotations

import re

import click

from brandgate.cli.output import emit_json, say
from brandgate.errors import UserError
from brandgate.settings import get_settings
from pipeline.tiny_model import TINY_MODEL_NAME, build_tiny_model, folder_hash

_FOLDER_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


@click.group("models")
def models_group() -> None:
    """Model folders under BRANDGATE_MODELS_DIR."""


@models_group.command("build-tiny")
@click.option(
    "--name",
    default=TINY_MODEL_NAME,
    show_default=True,
    help="Folder name under the models folder.",
)
@click.option("--force", is_flag=True, help="Rebuild even if the folder exists.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def build_tiny(name: str, force: bool, as_json: bool) -> None:
    """Build the small random-weight text-to-image pipeline offline (same bytes every build)."""
    if not _FOLDER_NAME.match(name):
        raise UserError(
            f"--name: {name!r} is not a folder name (lower-case letters, digits, '.', '-', '_')"
        )
    settings = get_settings()
    target = settings.models_dir / name
    built = True
    if target.exists() and not force:
        if not (target / "model_index.json").is_file():
            raise UserError(
                f"{target} exists but is not a diffusers pipeline folder; "
                "move it away or pass --force"
            )
        built, content_hash = False, folder_hash(target)
    else:
        target, content_hash = build_tiny_model(settings.models_dir, name, force=force)
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    if as_json:
        emit_json(
            {"path": str(target), "content_hash": content_hash, "bytes": size, "built": built}
        )
    elif built:
        say(f"built {target} ({size / 1e6:.1f} MB, content hash {content_hash})")
    else:
        say(f"{target} already exists (content hash {content_hash}); pass --force to rebuild")


def register(cli: click.Group) -> None:
    cli.add_command(models_group)

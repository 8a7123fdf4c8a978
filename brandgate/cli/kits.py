"""`brandgate kit validate|list`."""

from __future__ import annotations

import click

from brandgate.cli.output import emit_json, say
from brandgate.kits import list_kits, resolve_kit
from brandgate.settings import get_settings
from policies.kit import open_every_file


@click.group("kit")
def kit_group() -> None:
    """Brand kits: validate and list."""


@kit_group.command("validate")
@click.argument("kit")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def validate(kit: str, as_json: bool) -> None:
    """Validate KIT (a name under the kits folder or a path); exit 2 with the file and field at fault."""
    loaded = resolve_kit(kit, get_settings())
    open_every_file(loaded)
    summary = {
        "kit": loaded.name,
        "path": str(loaded.root),
        "content_hash": loaded.content_hash,
        "logos": sorted(loaded.spec.logos),
        "fonts": {role: str(loaded.font_path(role)) for role in loaded.spec.fonts},
        "palette": loaded.spec.palette,
        "policy": loaded.policy,
        "valid": True,
    }
    if as_json:
        emit_json(summary)
    else:
        say(f"kit {loaded.name} is valid (content hash {loaded.content_hash[:16]})")


@kit_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def list_command(as_json: bool) -> None:
    """List the kits under the kits folder."""
    names = list_kits(get_settings())
    if as_json:
        emit_json({"kits": names})
    else:
        for name in names:
            say(name)


def register(cli: click.Group) -> None:
    cli.add_command(kit_group)

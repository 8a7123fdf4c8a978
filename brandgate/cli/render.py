"""`brandgate render`: generation and brand compositing only (no checks, signing or audit)."""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path
from typing import Any

import click

from brandgate.cli.output import check_out_folder, emit_json, say, warn, write_private
from brandgate.errors import BrandgateError
from brandgate.kits import resolve_kit
from brandgate.settings import get_settings
from pipeline.compose import check_brief_fits, compose
from pipeline.generation import (
    GenerationFailed,
    Generator,
    Progress,
    check_seed,
    derive_seeds,
)
from pipeline.profiles import load_profile
from policies.brief import MAX_IMAGES_PER_BRIEF, MAX_SEED, brief_from_mapping, choose_seed, load_brief

SAVE_FORMATS = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}


@click.command("render")
@click.option(
    "--brief",
    "brief_file",
    required=True,
    type=click.Path(path_type=Path),
    help="Brief .yaml/.json.",
)
@click.option(
    "--profile",
    "profile_name",
    default="preview",
    show_default=True,
    help="Profile name or .yaml path.",
)
@click.option("--n", "n", type=int, help=f"Number of images (1..{MAX_IMAGES_PER_BRIEF}); overrides the brief.")
@click.option("--seed", type=int, help=f"Request seed (0..{MAX_SEED}); overrides the brief.")
@click.option("--out", type=click.Path(path_type=Path), help="Output folder [ARTIFACTS_DIR/renders].")
@click.option("--no-compose", is_flag=True, help="Skip placing headline, disclaimer and logo.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def render(
    brief_file: Path,
    profile_name: str,
    n: int | None,
    seed: int | None,
    out: Path | None,
    no_compose: bool,
    as_json: bool,
) -> None:
    """Generate the brief's images and place its brand elements; prints seeds, timings and cost."""
    settings = get_settings()
    brief = load_brief(brief_file)
    overrides: dict[str, Any] = {}
    if n is not None:
        overrides["n"] = n
    if seed is not None:
        overrides["seed"] = check_seed(seed, "--seed")
    if overrides:
        brief = brief_from_mapping({**brief.model_dump(mode="json"), **overrides}, "command line")
    kit = resolve_kit(brief.kit, settings)
    composing = brief.wants_composition and not no_compose
    # Refuses a too-long headline or a missing font before any GPU time is spent.
    check_brief_fits(brief, kit, composing=composing)
    folder = out if out is not None else settings.artifacts_dir / "renders"
    check_out_folder(folder, "--out" if out is not None else "BRANDGATE_ARTIFACTS_DIR/renders")
    profile = load_profile(profile_name, settings)
    request_seed = brief.seed if brief.seed is not None else choose_seed()
    seeds = derive_seeds(request_seed, brief.n)
    generator = Generator(profile, settings)

    total_steps = brief.n * profile.steps
    with contextlib.ExitStack() as stack:
        bar = (
            stack.enter_context(click.progressbar(length=total_steps, label="generating", file=sys.stderr))
            if sys.stderr.isatty()
            else None
        )
        shown = [0]

        def on_step(progress: Progress) -> None:
            done = round(progress.fraction * total_steps)
            if bar is not None and done > shown[0]:
                bar.update(done - shown[0])
                shown[0] = done

        try:
            images = generator.generate(brief.prompt, brief.negative_prompt, seeds, brief.size, on_step=on_step)
        except GenerationFailed as exc:
            raise BrandgateError(str(exc)) from None

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BrandgateError(f"--out: cannot create {folder}: {exc.strerror}") from None
    stem = brief_file.stem
    results = []
    for made in images:
        composition = compose(made.image, brief, kit) if composing else None
        final = composition.image if composition else made.image
        path = folder / f"{stem}-{made.index + 1:02d}-{made.seed}.{brief.format}"
        buffer = io.BytesIO()
        final.save(buffer, SAVE_FORMATS[brief.format])
        write_private(path, buffer.getvalue())
        entry = {
            "path": str(path),
            "request_seed": request_seed,
            **made.to_json(),
            "composition": composition.to_json() if composition else None,
        }
        write_private(path.with_suffix(".json"), json.dumps(entry, indent=2, default=str).encode())
        results.append(entry)

    total_cost = sum(made.cost_usd for made in images)
    device = images[0].record["metering"]["device"]
    if as_json:
        emit_json(
            {
                "brief": str(brief_file),
                "profile": profile.name,
                "profile_hash": profile.content_hash(),
                "request_seed": request_seed,
                "composed": composing,
                "images": results,
                "total_cost_usd": round(total_cost, 10),
                "metering": images[0].record["metering"]["basis"],
            }
        )
        return
    unit = "GPU" if device == "cuda" else "CPU"
    for made, entry in zip(images, results, strict=True):
        say(
            f"image {made.index + 1}/{len(images)}  seed {made.seed}  {made.wall_seconds:.2f} s  "
            f"{made.gpu_seconds:.2f} {unit}-s  ${made.cost_usd:.5f}  "
            f"peak {made.peak_memory_bytes / 2**20:.0f} MiB  -> {entry['path']}"
        )
    say(f"request seed {request_seed}, profile {profile.name}, total ${total_cost:.5f}")
    if device != "cuda":
        warn("cost counts CPU compute-seconds at the configured GPU hourly rate (no GPU on this machine)")


def register(cli: click.Group) -> None:
    cli.add_command(render)

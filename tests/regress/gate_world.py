"""A small world for end-to-end gate tests: the tiny model, variant models and profiles, a migrated database."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from brandgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]

# A brief the tiny model renders at 64x64 without compositing and one that screening must stop
# before any GPU time: every path of a run, in few renders (the machine running tests is shared).
SUITE = """\
suite: gate-slice
defaults: {n: 1, size: [64, 64]}
briefs:
  - {id: eggs-a, family: small-objects, kit: acme, prompt: "three eggs in a bowl", counts: {egg: 3}}
  - {id: edge-a, family: edge-cases, kit: acme, prompt: "the cheapest groceries in town", expect: reject}
"""


@dataclass(frozen=True)
class GateWorld:
    root: Path
    settings: Settings
    suite_path: Path


def _profile(base: dict[str, object], **changes: object) -> dict[str, object]:
    return {**base, **changes}


def build_world(root: Path) -> GateWorld:
    """Tiny model as `preview`; candidates: other weights, blank output, an uncapped slow scheduler."""
    import torch
    from safetensors.torch import load_file, save_file

    from brandgate.db.schema import upgrade
    from pipeline.keys import issue_chain, write_dev_chain
    from pipeline.tiny_model import build_tiny_model, build_tiny_pipeline

    models = root / "models"
    build_tiny_model(models)
    build_tiny_pipeline(seed=7).save_pretrained(models / "tiny-sd-b", safe_serialization=True)

    # The VAE decoder's last layer zeroed: every pixel decodes to the same grey, whatever the prompt.
    blank = models / "tiny-sd-blank"
    shutil.copytree(models / "tiny-sd", blank)
    weights = next((blank / "vae").glob("*.safetensors"))
    tensors = load_file(weights)
    for name in list(tensors):
        if name.startswith("decoder.conv_out."):
            tensors[name] = torch.zeros_like(tensors[name])
    save_file(tensors, weights)

    # `base`, the active profile here, is the preview profile at 4 steps: tests stay quick
    preview = yaml.safe_load((ROOT / "pipeline" / "profiles" / "preview.yaml").read_text())
    base = _profile(preview, name="base", steps=4)
    profiles = root / "profiles"
    profiles.mkdir()
    variants = {
        "base": base,
        "cand-weights": _profile(base, name="cand-weights", model="tiny-sd-b"),
        "cand-blank": _profile(base, name="cand-blank", model="tiny-sd-blank"),
        # the lesson of the incident: an "upgrade" by config that lifts the step cap (15x the steps)
        "cand-slow": _profile(base, name="cand-slow", steps=60, max_steps=150),
        "cand-same": _profile(base, name="cand-same", description="the base profile under a new name"),
    }
    for name, data in variants.items():
        (profiles / f"{name}.yaml").write_text(yaml.safe_dump(data))

    suite_path = root / "suite.yaml"
    suite_path.write_text(SUITE)
    # Every model here is the tiny random-weight one: its pictures are coloured noise, which BG603
    # rightly fails on the baseline as much as on any candidate, so the technical family has no
    # pass rate left to lose. This world tests the gate's mechanics on BG601 (blank images) alone.
    # Nothing can count eggs or judge hands on noise either: acme turns BG401 off (whether noise
    # reads as a flat graphic varies with the seed), gives BG402 no hand models and accepts its
    # unverified explicitly, and the settings let the `counts` check family stay unmeasured, so
    # the gate's other criteria decide here; the default refusal of an unmeasured family is
    # asserted on its own.
    kits = root / "kits"
    shutil.copytree(ROOT / "brand_kits", kits)
    (root / "no-hand-models").mkdir()
    for path in kits.glob("*/policy.yaml"):
        policy = yaml.safe_load(path.read_text())
        policy["BG603"] = {"enabled": False}
        if path.parent.name == "acme":
            policy["BG401"] = {"enabled": False}
            policy["BG402"] = {"hand_models": str(root / "no-hand-models")}
            policy["accept_unverified"] = ["BG402"]
        path.write_text(yaml.safe_dump(policy))
    settings = Settings(
        database_url=f"sqlite:///{root / 'brandgate.db'}",
        artifacts_dir=root / "artifacts",
        kits_dir=kits,
        gate_allow_unmeasured=["counts"],
        models_dir=models,
        profiles_dir=profiles,
        keys_dir=root / "keys",
        regress_reports_dir=root / "reports",
        regress_suite=suite_path,
        regress_seeds=1,
        regress_concurrency=2,
        preview_profile="base",
    )
    write_dev_chain(settings.keys_dir, issue_chain())
    upgrade(settings)
    return GateWorld(root, settings, suite_path)

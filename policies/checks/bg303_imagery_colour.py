"""BG303 imagery-colour (opt-in): the photograph's warmth, saturation or brightness is outside the kit's ranges.

Off by default: it applies only to a kit whose kit.yaml sets `imagery:` ranges, and says `skip`
for every other kit. BG301 judges the design layer (what was placed, flat art); a photograph's
own colours are not the palette's business. A brand that does govern its photography ("warm,
bright, muted") writes the ranges it allows:

    imagery:
      warmth: [0, 25]        # mean CIELAB b* + a*/2: above 0 warm (yellow, red), below cool
      saturation: [5, 40]    # mean CIELAB chroma: 0 grey, about 20 muted, 50 and more vivid
      brightness: [45, 85]   # mean CIELAB lightness L*: 0 black, 100 white

Each range is optional. The measures are taken over the photograph only: the boxes brandgate
placed (plates, text, the logo; from the placement record) and the uniform fills drawn on the
image are left out, so a cream plate does not brighten a dark photograph. The check fails when
any measure falls outside its range, naming the measure, its value and the range; the evidence
holds every measure and the share of the image measured. On flat art (`style: flat`, or most of
the image drawn flat, as BG301 measures it) there is no photograph: `skip`.

Options (policy.yaml, under BG303): `severity` (`flag`, the default, or `reject`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from policies.check import Outcome
from policies.checks.bg301_palette import (
    placed_boxes,
    shared_flat_pixels,
    shared_lab,
    shared_work_copy,
    uniform_fills,
)

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG303"
NAME = "imagery-colour"
FAMILY = "colour"
DEFAULT_SEVERITY = "flag"

FLAT_STYLE_SHARE = 0.75  # as BG301: from this share drawn flat, the creative is flat art
MIN_PHOTO_SHARE = 0.2  # less of the image than this left to measure: not a photograph to judge


def run(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    ranges = kit.spec.imagery
    wanted = {} if ranges is None else {k: v for k, v in ranges.model_dump().items() if v is not None}
    if not wanted:
        return Outcome("skip", "the kit sets no `imagery:` ranges: photographic colour is not governed")
    full = shared_work_copy(creative)
    flat = shared_flat_pixels(creative, 1.0)
    declared = brief.style if brief is not None else None
    if declared == "flat" or (declared is None and float(flat.mean()) >= FLAT_STYLE_SHARE):
        return Outcome("skip", "flat art: there is no photograph whose colour to judge")
    scale = full.shape[1] / creative.width
    fills = uniform_fills(full, flat, 3.0, 0.002, lab=shared_lab(creative))
    drawn = placed_boxes(creative.placements, scale, full.shape[:2]) | fills
    photo = ~drawn
    share = float(photo.mean())
    if share < MIN_PHOTO_SHARE:
        return Outcome(
            "unverified",
            f"not checked: imagery colour, only {share:.0%} of the image is photograph once what was drawn is left out",
        )
    lab = shared_lab(creative)[photo].astype(np.float64)
    measured = {
        "warmth": float(np.mean(lab[:, 2] + lab[:, 1] / 2)),
        "saturation": float(np.mean(np.hypot(lab[:, 1], lab[:, 2]))),
        "brightness": float(np.mean(lab[:, 0])),
    }
    evidence: dict[str, Any] = {
        "measured": {k: round(v, 1) for k, v in measured.items()},
        "ranges": {k: list(v) for k, v in wanted.items()},
        "photo_share": round(share, 4),
    }
    outside = [
        f"{name} {measured[name]:.1f} outside [{low:g}, {high:g}]"
        for name, (low, high) in wanted.items()
        if not low <= measured[name] <= high
    ]
    if outside:
        return Outcome("fail", "the photograph's colour is off the kit's imagery: " + "; ".join(outside),
                       confidence=0.8, evidence=evidence)  # fmt: skip
    said = ", ".join(f"{name} {measured[name]:.1f}" for name in wanted)
    return Outcome("pass", f"the photograph's colour is within the kit's imagery ranges ({said})",
                   confidence=0.8, evidence=evidence)  # fmt: skip

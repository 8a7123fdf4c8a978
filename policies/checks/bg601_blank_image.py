"""BG601 blank-image: a blank, black or single-colour image (what safety filters and broken runs produce).

The image is reduced to at most 256 pixels a side. It fails when one colour (every channel
within `tolerance` of the image's median colour) covers at least `max_single_colour` of it, or
when its brightness hardly varies at all (standard deviation below `min_std`). A black image
is named as such (mean relative luminance under 2%).

Statuses: `pass` the image has content; `fail` blank, black or single-colour, with the colour
and the share it covers.

Options in policy.yaml under `BG601`:
- `severity`: `flag` (default) or `reject`.
- `max_single_colour`: share of one colour that makes an image blank (default 0.995).
- `tolerance`: per-channel difference (0–255) still counted as the same colour (default 12).
- `min_std`: standard deviation of grey levels below which an image is blank (default 2.0).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from policies.check import Outcome
from policies.downscale import shrunk
from policies.options import number

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG601"
NAME = "blank-image"
FAMILY = "technical"
DEFAULT_SEVERITY = "flag"

_SIDE = 256


def run(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    max_share = number(options, ID, "max_single_colour", 0.995, at_least=0)
    tolerance = number(options, ID, "tolerance", 12.0, at_least=0)
    min_std = number(options, ID, "min_std", 2.0, at_least=0)
    rgb = creative.rgb
    scale = _SIDE / max(rgb.shape[:2])
    small = shrunk(rgb, scale) if scale < 1 else rgb
    pixels = small.reshape(-1, 3).astype(np.int16)
    median = np.median(pixels, axis=0)
    share = float((np.abs(pixels - median).max(axis=1) <= tolerance).mean())
    grey_std = float(cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).std())
    linear = (median / 255.0) ** 2.2
    luminance = float(linear @ np.array([0.2126, 0.7152, 0.0722]))
    colour = "#{:02X}{:02X}{:02X}".format(*(int(v) for v in median))
    evidence = {"colour": colour, "single_colour_share": round(share, 4), "grey_std": round(grey_std, 2)}
    if share < max_share and grey_std >= min_std:
        return Outcome("pass", f"image has content ({share:.0%} is its commonest colour)", 0.95, evidence)
    kind = "black" if luminance < 0.02 else "blank" if luminance > 0.9 else "single-colour"
    return Outcome("fail", f"image is {kind}: {colour} covers {share:.1%} of it", 0.98, evidence)

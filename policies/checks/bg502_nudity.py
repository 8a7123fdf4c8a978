"""BG502 nudity: explicit nudity in the image (NudeNet detector) → reject.

Runs NudeNet's ONNX detector, which ships inside the `nudenet` wheel (no download), on every
image. The detector is loaded once per process, on first use, behind a lock; ONNX Runtime
sessions are safe to share between the engine's threads. It reports every body-part detection
with its score in the evidence (NudeNet's own floor is 0.2), and fails when any of the
`labels` reaches `threshold`.

The default labels are the exposed ones NudeNet knows: female and male genitalia, female
breast, buttocks and anus. Covered parts, faces, feet, bellies and armpits are evidence only.
An animated image is judged on its first frame (the loader says so in the report's notes).

Options (policy.yaml, under BG502):

- `threshold` (0.5): the score from which a detection of one of `labels` fails the check.
- `labels`: the NudeNet classes that count as explicit (list of names, see above).
- `severity`: `reject` (default) or `flag`.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from policies.check import Outcome
from policies.options import number

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG502"
NAME = "nudity"
FAMILY = "safety"
DEFAULT_SEVERITY = "reject"

EXPLICIT_LABELS = (
    "FEMALE_GENITALIA_EXPOSED",
    "MALE_GENITALIA_EXPOSED",
    "FEMALE_BREAST_EXPOSED",
    "BUTTOCKS_EXPOSED",
    "ANUS_EXPOSED",
)

_detector: Any = None
_detector_lock = threading.Lock()


def detector() -> Any:
    """The process's NudeNet detector, created on first use."""
    global _detector
    with _detector_lock:
        if _detector is None:
            from nudenet import NudeDetector

            _detector = NudeDetector()
        return _detector


def detections(creative: Creative) -> list[dict[str, Any]]:
    """NudeNet's detections for the creative, computed once per creative."""

    def compute() -> list[dict[str, Any]]:
        # NudeNet converts from RGBA to BGR itself; a 3-channel array would be taken for BGRA.
        rgba = np.dstack([creative.rgb, np.full(creative.rgb.shape[:2], 255, np.uint8)])
        found = detector().detect(rgba)
        return [{"label": d["class"], "score": round(float(d["score"]), 3), "box": list(d["box"])} for d in found]

    return creative.shared("nudenet.detections", compute)


def run(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    threshold = number(options, ID, "threshold", 0.5, above=0, at_most=1)
    labels = _labels(options.get("labels", EXPLICIT_LABELS))
    found = detections(creative)
    explicit = [d for d in found if d["label"] in labels and d["score"] >= threshold]
    evidence = {"detections": found, "threshold": threshold}
    if explicit:
        worst = max(explicit, key=lambda d: d["score"])
        return Outcome(
            "fail",
            f"explicit nudity: {worst['label']} at score {worst['score']:.2f}"
            + (f" and {len(explicit) - 1} more" if len(explicit) > 1 else ""),
            confidence=float(worst["score"]),
            evidence=evidence,
        )
    top = max((d["score"] for d in found if d["label"] in labels), default=0.0)
    return Outcome(
        "pass",
        f"no explicit nudity detected (highest explicit score {top:.2f}, threshold {threshold})",
        confidence=1.0 - float(top),
        evidence=evidence,
    )


def _labels(value: Any) -> frozenset[str]:
    if isinstance(value, str) or not isinstance(value, Sequence) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{ID}.labels must be a list of NudeNet class names, got {value!r}")
    return frozenset(value)

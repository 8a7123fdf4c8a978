"""BG201 logo-match: the brief's logo is absent, recoloured, distorted, incomplete or wrong.

Applies when the brief names a logo variant (`logo: primary`); without one it reports `skip`.
The kit's logo file for that variant is the reference.

How it looks: where brandgate's placement record gives the logo's box, the kit's file as
compositing drew it there is aligned (ECC) and taken when the logo's outlines are there (edge
correlation ≥ 0.6). Otherwise SIFT features of the reference (prepared once per process at
several sizes, on light and dark backdrops) are matched against the creative's, and a RANSAC
homography locates the logo at any position, scale (from about 64 px wide) and rotation; beside
them an outline search (normalised cross-correlation of CIELAB edge maps on the logo's own
mask, upright) looks for it, and the candidate whose outline agrees better with the file's is
kept, so texture that features matched by chance (hair, foliage) does not decide. The creative is then
warped back onto the reference and compared pixel by pixel in CIELAB with CIEDE2000 (the
reference composited over what is really behind the logo, shrunk to the size it has in the
creative, so that the background and resolution cost nothing), and by perceptual hash.

It fails with one of these messages:

- *not found*: no placement of the logo could be established (absent, or below ~64 px wide).
- *wrong variant*: another variant of the kit (say `mono`) matches where the brief asks
  for `primary`.
- *recoloured*: most of the logo's pixels differ in colour from the reference.
- *incomplete or altered*: a patch of the logo differs (an element missing or painted over).
- *colour off*: one of the logo's own dominant colours (from the kit's file: each flat colour
  covering at least 3 % of it) differs from the file by more than `colour_tolerance` ΔE2000,
  measured as the median over that colour's pixels away from the logo's edges (robust to JPEG
  and rescaling). This catches a red turned towards crimson or orange by ΔE 5–15, which the
  per-pixel test below (ΔE 14) lets through.
- *distorted*: stretched or sheared (the two axes scale differently, or are not at right angles).
- *altered shape*: the perceptual hash of the logo region is too far from the reference's.

Evidence: the variant, bounding box, width in px, rotation, anisotropy, shear, inliers, pHash
distance, median ΔE2000, share of differing pixels, the largest differing patch, and `colours`:
each dominant colour's reference and measured hex and its ΔE2000.

Options (policy.yaml, under BG201):

- `max_anisotropy` (1.15): largest allowed ratio between the logo's two axis scales.
- `max_shear_deg` (8): largest allowed departure from a right angle between its axes.
- `max_differing_fraction` (0.06): share of logo pixels allowed to differ (ΔE2000 > 14), scattered.
- `max_patch_fraction` (0.01): the largest connected patch of differing pixels allowed, as a
  share of the logo: an element missing or painted over is one solid patch. For logos under
  128 px wide it grows in proportion (a 64 px logo may differ by twice as much), since the
  creative cannot resolve their small details.
- `recolour_fraction` (0.3): from this share of differing pixels on, the logo counts as recoloured.
- `max_phash_distance` (16): Hamming distance of the 64-bit pHash, reference vs logo region.
- `colour_tolerance` (5): largest median ΔE2000 allowed for any of the logo's dominant colours
  (brand tolerances are usually ΔE 2–5; set it per kit).
- `severity`: `flag` (default) or `reject`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from policies import logos
from policies.check import Outcome

if TYPE_CHECKING:
    from policies.brief import Brief
    from policies.creative import Creative
    from policies.kit import Kit

ID = "BG201"
NAME = "logo-match"
FAMILY = "logo"
DEFAULT_SEVERITY = "flag"

# Below this width the tolerances grow in proportion: small logos lose detail to resampling.
SMALL_LOGO_PX = 128.0
DEFAULTS: dict[str, float] = {
    "max_anisotropy": 1.15,
    "max_shear_deg": 8.0,
    "max_differing_fraction": 0.06,
    "max_patch_fraction": 0.01,
    "recolour_fraction": 0.3,
    "max_phash_distance": 16,
    "colour_tolerance": 5.0,
}


def thresholds(options: Mapping[str, Any]) -> dict[str, float]:
    """The check's thresholds: policy.yaml values over the defaults, as numbers."""
    out = dict(DEFAULTS)
    for key in DEFAULTS:
        if key in options:
            value = options[key]
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{ID}.{key} must be a number, got {value!r}")
            out[key] = float(value)
    return out


def locate_required(creative: Creative, kit: Kit, variant: str) -> dict[str, logos.Located | None]:
    """Every variant of the kit located in the creative, the required one first (BG202 too)."""
    order = [variant, *sorted(v for v in kit.spec.logos if v != variant)]
    return {v: logos.locate(creative, logos.reference_for(kit.logo_path(v)), v) for v in order}


def run(creative: Creative, brief: Brief | None, kit: Kit, options: Mapping[str, Any]) -> Outcome:
    if brief is None or not brief.logo:
        return Outcome("skip", "the brief asks for no logo")
    limits = thresholds(options)
    wanted = brief.logo
    found = locate_required(creative, kit, wanted)
    located = found[wanted]
    clean_others = [loc for v, loc in found.items() if v != wanted and loc is not None and _is_faithful(loc, limits)]

    if located is None:
        if clean_others:
            return _wrong_variant(wanted, clean_others[0], None)
        return Outcome(
            "fail",
            f"logo {wanted!r} not found (absent, or smaller than about 64 px wide)",
            confidence=0.85,
            evidence={"wanted": wanted},
        )

    g, c = located.geometry, located.comparison
    problems: list[str] = []
    if not _colours_match(located, limits):
        if clean_others:
            return _wrong_variant(wanted, clean_others[0], located)
        if c.differing_fraction >= limits["recolour_fraction"]:
            problems.append(
                f"recoloured: {c.differing_fraction:.0%} of the logo differs in colour "
                f"(median ΔE2000 {c.median_delta_e:.1f})"
            )
        else:
            problems.append(
                f"incomplete or altered: {c.differing_fraction:.0%} of the logo differs "
                f"(largest patch {c.largest_blob_fraction:.0%})"
            )
    worst = c.worst_colour
    if not problems and worst is not None and worst.delta_e > limits["colour_tolerance"]:
        problems.append(
            f"colour off: {worst.reference} measured as {worst.measured}"
            f" (ΔE2000 {worst.delta_e:.1f} > {limits['colour_tolerance']:g})"
        )
    if g.anisotropy > limits["max_anisotropy"] or g.shear_deg > limits["max_shear_deg"]:
        problems.append(f"distorted: stretched {g.anisotropy:.2f}× with {g.shear_deg:.1f}° shear")
    if c.phash_distance > limits["max_phash_distance"] and not problems:
        problems.append(f"altered shape: perceptual hash distance {c.phash_distance}")

    evidence = {"wanted": wanted, **located.evidence()}
    if problems:
        return Outcome("fail", f"logo {wanted!r} " + "; ".join(problems), confidence=0.9, evidence=evidence)
    return Outcome(
        "pass",
        f"logo {wanted!r} found, {g.width_px:.0f} px wide, matching the kit's file",
        confidence=_confidence(located),
        evidence=evidence,
    )


def _confidence(located: logos.Located) -> float:
    if located.located_by in ("placed", "shape"):  # confirmed by the logo's own outlines
        return min(0.99, 0.5 + located.comparison.edge_agreement / 2)
    return min(0.99, 0.6 + located.inliers / 200)


def _is_faithful(located: logos.Located, limits: Mapping[str, float]) -> bool:
    g = located.geometry
    return (
        _colours_match(located, limits)
        and g.anisotropy <= limits["max_anisotropy"]
        and g.shear_deg <= limits["max_shear_deg"]
    )


def _colours_match(located: logos.Located, limits: Mapping[str, float]) -> bool:
    c = located.comparison
    small = max(1.0, SMALL_LOGO_PX / max(located.geometry.width_px, 1.0))
    return (
        c.differing_fraction <= limits["max_differing_fraction"] * small
        and c.largest_blob_fraction <= limits["max_patch_fraction"] * small
    )


def _wrong_variant(wanted: str, other: logos.Located, asked: logos.Located | None) -> Outcome:
    evidence: dict[str, Any] = {"wanted": wanted, **other.evidence()}
    if asked is not None:
        evidence["wanted_comparison"] = asked.evidence()
    return Outcome(
        "fail",
        f"wrong logo variant: found {other.variant!r} where the brief asks for {wanted!r}",
        confidence=0.9,
        evidence=evidence,
    )

"""Real photographs and made-up degenerate backgrounds, branded the way brandgate brands them.

    from benchmarks.photoset import photo_items
    for item in photo_items():
        rgb = item.render()     # the picture with the kit's headline, disclaimer and logo composited
        item.expected           # "BG603" for a degenerate background, None for a real photograph

The photographs are the ones installed packages ship: scikit-image's bundled `skimage.data`
images (nothing fetched: only those on disk are used) and matplotlib's grace_hopper.jpg. Each is
centre-cropped to a square, resized to 512×512 and composed by pipeline.compose with a brief
whose prompt names what it shows, counts included ("two cats ..."): without a detector BG401
must call it unverified, never count it. Degenerate backgrounds are what a broken model, a wrong
scheduler or a NaN gives: colour and grey noise, stripes, tiles, washed-out grey.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image

from benchmarks.evalset import kit
from policies.brief import Brief

SIDE = 512
# skimage.data file → (what the picture shows, as a prompt; counts a brief would infer from it).
PHOTOGRAPHS: dict[str, tuple[str, dict[str, int]]] = {
    "astronaut.png": ("an astronaut in front of a flag", {"astronaut": 1}),
    "chelsea.png": ("two cats sleeping on a sofa", {"cat": 2}),
    "coffee.png": ("a cup of coffee on a saucer", {"cup": 1}),
    "rocket.jpg": ("a rocket on the launch pad", {"rocket": 1}),
    "coins.png": ("old coins on a table", {"coin": 24}),
    "camera.png": ("a man with a camera on a tripod", {"man": 1}),
    "moon.png": ("the surface of the moon", {}),
    "brick.png": ("a brick wall", {}),
    "grass.png": ("a lawn of grass", {}),
    "gravel.png": ("a gravel path", {}),
    "motorcycle_left.png": ("a motorcycle in a garage", {"motorcycle": 1}),
    "hubble_deep_field.jpg": ("galaxies in deep space", {}),
}
DEGENERATE = (
    "colour_noise",
    "smooth_colour_noise",
    "grey_noise",
    "stripes",
    "diagonal_stripes",
    "colour_stripes",
    "tiled",
    "washed_out",
)
KIT_NAMES = ("acme", "nordwind")


@dataclass(frozen=True)
class PhotoItem:
    """One branded picture: a real photograph (clean) or a degenerate background (BG603 must fail)."""

    name: str
    kind: str  # "real-photo" or "degenerate"
    kit_name: str
    brief: Brief
    background: Callable[[], NDArray[np.uint8]]

    @property
    def defect(self) -> str | None:
        return None if self.kind == "real-photo" else self.name.split("-", 1)[1]

    @property
    def expected(self) -> str | None:
        return None if self.kind == "real-photo" else "BG603"

    def render(self) -> NDArray[np.uint8]:
        from pipeline.compose import compose

        composed = compose(Image.fromarray(self.background(), "RGB"), self.brief, kit(self.kit_name))
        return np.asarray(composed.image, dtype=np.uint8)


def photographs() -> dict[str, NDArray[np.uint8]]:
    """The bundled photographs that are on disk, as RGB, by file stem."""
    import skimage.data
    from matplotlib import cbook

    folder = Path(skimage.data.__file__).parent
    found = {}
    for file_name in PHOTOGRAPHS:
        path = folder / file_name
        if path.is_file():
            found[path.stem] = _rgb(np.asarray(Image.open(path)))
    hopper = cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    found["grace_hopper"] = _rgb(np.asarray(Image.open(hopper)))
    return found


def degenerate_background(kind: str, seed: int = 0, side: int = SIDE) -> NDArray[np.uint8]:
    """A made-up broken-model background of `kind` (one of DEGENERATE)."""
    rng = np.random.default_rng([seed, DEGENERATE.index(kind)])
    yy, xx = np.mgrid[0:side, 0:side].astype(np.float32)
    if kind == "colour_noise":
        return rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
    if kind == "smooth_colour_noise":  # a VAE decoding latents that carry no picture
        noise = cv2.GaussianBlur(rng.normal(0, 1, (side, side, 3)).astype(np.float32), (0, 0), 3.0)
        return np.clip(128 + 60 * noise / noise.std(), 0, 255).astype(np.uint8)
    if kind == "grey_noise":
        return np.repeat(rng.integers(0, 256, (side, side, 1), dtype=np.uint8), 3, axis=2)
    if kind in ("stripes", "diagonal_stripes", "colour_stripes"):
        angle = 0.0 if kind == "stripes" else float(rng.uniform(20, 70))
        period = float(rng.uniform(8, 40))
        along = xx * np.cos(np.radians(angle)) + yy * np.sin(np.radians(angle))
        wave = (np.sin(2 * np.pi * along / period) > 0)[..., None]
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        if kind == "colour_stripes":  # same lightness, different hue: invisible to a grey measure
            a, b = np.array([200, 60, 60]), np.array([60, 120, 200])
        return np.where(wave, a, b).astype(np.uint8)
    if kind == "tiled":
        photo = photographs()["chelsea"]
        repeats = int(rng.integers(2, 6))
        tile = cv2.resize(_square(photo), (side // repeats + 1, side // repeats + 1), interpolation=cv2.INTER_AREA)
        return np.tile(tile, (repeats + 1, repeats + 1, 1))[:side, :side].copy()
    if kind == "washed_out":
        field = cv2.GaussianBlur(rng.normal(0, 1, (side, side)).astype(np.float32), (0, 0), 25.0)
        grey = 150 + 4 * field / max(float(field.std()), 1e-6)
        return np.clip(np.repeat(grey[..., None], 3, axis=2), 0, 255).astype(np.uint8)
    raise ValueError(f"unknown degenerate kind {kind!r}")


def photo_items(seed: int = 0) -> list[PhotoItem]:
    """Every photograph and every degenerate kind, once per kit."""
    items: list[PhotoItem] = []
    photos = photographs()
    for kit_name in KIT_NAMES:
        for stem, rgb in photos.items():
            prompt, counts = PHOTOGRAPHS.get(f"{stem}.png", PHOTOGRAPHS.get(f"{stem}.jpg", ("a portrait", {})))
            if stem == "grace_hopper":
                prompt, counts = "a portrait of an officer in uniform", {"woman": 1}
            brief = _brief(kit_name, prompt, counts)
            items.append(PhotoItem(f"{stem}-{kit_name}", "real-photo", kit_name, brief, _fixed(_square(rgb))))
        for kind in DEGENERATE:
            brief = _brief(kit_name, "five red apples on a rustic wooden table", {})
            items.append(
                PhotoItem(f"{kit_name}-{kind}", "degenerate", kit_name, brief, _degenerate(kind, seed))
            )
    return items


def _brief(kit_name: str, prompt: str, counts: dict[str, int]) -> Brief:
    return Brief(
        kit=kit_name,
        prompt=prompt,
        headline="Fresh Deals Friday" if kit_name == "acme" else "Ready For The Peaks",
        disclaimer="Offer ends Sunday." if kit_name == "acme" else None,
        counts=counts,
        logo="primary",
        size=(SIDE, SIDE),
    )


def _fixed(rgb: NDArray[np.uint8]) -> Callable[[], NDArray[np.uint8]]:
    return lambda: rgb


def _degenerate(kind: str, seed: int) -> Callable[[], NDArray[np.uint8]]:
    return lambda: degenerate_background(kind, seed)


def _rgb(pixels: NDArray[np.uint8]) -> NDArray[np.uint8]:
    if pixels.ndim == 2:
        pixels = np.repeat(pixels[..., None], 3, axis=2)
    return np.ascontiguousarray(pixels[..., :3], dtype=np.uint8)


def _square(rgb: NDArray[np.uint8], side: int = SIDE) -> NDArray[np.uint8]:
    h, w = rgb.shape[:2]
    edge = min(h, w)
    top, left = (h - edge) // 2, (w - edge) // 2
    crop = rgb[top : top + edge, left : left + edge]
    return cv2.resize(crop, (side, side), interpolation=cv2.INTER_AREA if edge > side else cv2.INTER_CUBIC)

"""Real photographs of people composited the way brandgate composites them, clean or with one defect.

    from benchmarks.photo_creatives import photo_creatives
    for item in photo_creatives():
        rgb, placements = item.render()   # pipeline.compose's pixels and placement record
        item.check_brief, item.expected    # the brief the checks judge by; the check that must fail

The photographs are tests/fixtures/photos (people with hands, from google-ai-edge/mediapipe-samples;
SOURCES.md there says what each shows) and, kept apart, tests/fixtures/photos/held-out (15
photographs from four other repositories, labelled by eye, on which nothing was tuned).
None of them set a threshold: BG301's were set on seed 1
of benchmarks/evalset.py and on the scikit-image photographs of benchmarks/photoset.py; BG402's
wrist search and BG401's people counts take MediaPipe's own settings, and were looked at on these
photographs while they were written (so the hand and people figures are not held-out figures).
Every item is a pure function of its index: the same pixels every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from benchmarks.evalset import kit
from policies.brief import Brief

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "tests" / "fixtures" / "photos"
HELD_OUT = PHOTOS / "held-out"
# What each photograph shows, as SOURCES.md records it: (people, hands in view).
PHOTO_TRUTH: dict[str, tuple[int | None, int]] = {
    "two-children": (2, 1),
    "business-person": (1, 2),
    "thumb-up": (None, 1),  # a forearm reaching in: a person cut by the frame
    "two-thumbs-up": (None, 2),
    "riders": (3, 3),
    "pasta": (0, 0),
    "couple-and-dog": (2, 3),
    "sitting": (1, 2),
}
# The held-out photographs (held-out/SOURCES.md, labelled by eye): nothing was tuned on them.
HELD_OUT_TRUTH: dict[str, tuple[int | None, int]] = {
    "six-friends": (6, 6),
    "close-up": (1, 0),
    "long-hair-portrait": (1, 0),
    "arms-crossed": (1, 2),
    "fur-cloak": (1, 2),
    "red-carpet-pair": (2, 2),
    "waving-stage": (4, 3),  # one of the four cut by the frame, her face hidden
    "two-portraits": (2, 4),
    "letterboxed-portrait": (1, 2),
    "microphone": (1, 1),
    "smiling-vest": (1, 0),
    "speaker": (1, 2),
    "thumb-on-black": (None, 1),
    "cats-and-dogs": (0, 0),
    "mug": (0, 0),
}
# Defect → the check that must fail on it.
PHOTO_DEFECTS: dict[str, str] = {
    "misspelt_headline": "BG101",
    "missing_disclaimer": "BG102",
    "banned_word_painted": "BG103",  # a banned word the model painted into the picture
    "no_logo": "BG201",
    "off_palette_plate": "BG301",
    "sixth_finger": "BG402",  # a copy of a finger turned beside it, on the largest hand BG402 can judge
}
SIXTH_FINGER_TURN = (35.0, -35.0)  # degrees about the finger's base, by round
HEADLINES = {
    "acme": ("Fresh Deals Friday", "Summer Harvest Sale"),
    "nordwind": ("Ready For The Peaks", "New Trail Collection"),
}
# BG501 refuses a brief whose headline holds a banned word before any GPU is spent, so a banned
# word reaches a creative only painted into the picture by the model, outside what was placed.
BANNED_PAINTED = {"acme": "Miracle quality", "nordwind": "Unbreakable boots"}
MISSPELT = {"Fresh Deals Friday": "Fresh Deals Fridey", "Summer Harvest Sale": "Summer Harvset Sale",
            "Ready For The Peaks": "Ready For The Peeks", "New Trail Collection": "New Trial Collection"}  # fmt: skip
OFF_PALETTE = {"acme": (127, 209, 43), "nordwind": (255, 79, 163)}
SIZES = ((512, 512), (768, 768), (768, 512))


@dataclass(frozen=True)
class PhotoCreative:
    index: int
    photo: str
    kit_name: str
    defect: str | None
    check_brief: Brief  # what the brief asked for: the checks judge by it
    drawn_brief: Brief  # what compositing was given (differs from check_brief for text and logo defects)
    held_out: bool = False  # from held-out/, never tuned on

    @property
    def truth(self) -> tuple[int | None, int]:
        """(people, hands in view) as labelled by eye."""
        return (HELD_OUT_TRUTH if self.held_out else PHOTO_TRUTH)[self.photo]

    @property
    def expected(self) -> str | None:
        return PHOTO_DEFECTS[self.defect] if self.defect else None

    @property
    def kind(self) -> str:
        return self.defect or "clean"

    @property
    def name(self) -> str:
        return f"p{self.index:03d}-{self.photo}-{self.kit_name}-{self.kind}"

    def render(self) -> tuple[NDArray[np.uint8], list[dict[str, Any]]]:
        from pipeline.compose import compose

        k = kit(self.kit_name)
        with Image.open((HELD_OUT if self.held_out else PHOTOS) / f"{self.photo}.jpg") as opened:
            background = _cover(opened.convert("RGB"), self.drawn_brief.size)
        composition = compose(background, self.drawn_brief, k)
        image, placements = composition.image, [dict(p) for p in composition.placements]
        if self.defect == "off_palette_plate":
            image = _off_palette_plate(image, placements, OFF_PALETTE[self.kit_name])
        elif self.defect == "banned_word_painted":
            image = _painted_text(image, BANNED_PAINTED[self.kit_name], str(k.font_path("body")))
        elif self.defect == "sixth_finger":
            image = Image.fromarray(_with_sixth_finger(np.asarray(image, np.uint8), self.index))
        return np.asarray(image, dtype=np.uint8).copy(), placements


def photo_creatives(rounds: int = 2, held_out: bool = False) -> list[PhotoCreative]:
    """Each photograph clean once per kit per round, and with each defect once per round.

    `held_out`: the photographs of held-out/ instead of the ones the checks were written against."""
    items: list[PhotoCreative] = []
    for round_ in range(rounds):
        for number, photo in enumerate(HELD_OUT_TRUTH if held_out else PHOTO_TRUTH):
            for kit_name in ("acme", "nordwind"):
                items.append(_item(len(items), photo, kit_name, None, round_ + number, held_out))
            for d, defect in enumerate(PHOTO_DEFECTS):
                if defect == "sixth_finger" and not (HELD_OUT_TRUTH if held_out else PHOTO_TRUTH)[photo][1]:
                    continue
                kit_name = ("acme", "nordwind")[(number + d + round_) % 2]
                items.append(_item(len(items), photo, kit_name, defect, round_ + number + d, held_out))
    return items


def _item(index: int, photo: str, kit_name: str, defect: str | None, turn: int, held_out: bool) -> PhotoCreative:
    headline = HEADLINES[kit_name][turn % 2]
    size = _fitting(photo, held_out, SIZES[turn % len(SIZES)])
    base = {"kit": kit_name, "prompt": "a photograph", "headline": headline, "disclaimer": "Offer ends Sunday.",
            "logo": "primary", "size": size, "counts": {}, "style": "photo"}  # fmt: skip
    check = Brief(**base)
    drawn = dict(base)
    if defect == "misspelt_headline":
        drawn["headline"] = MISSPELT[headline]
    elif defect == "missing_disclaimer":
        drawn["disclaimer"] = None
    elif defect == "no_logo":
        drawn["logo"] = None
    return PhotoCreative(index, photo, kit_name, defect, check, Brief(**drawn), held_out)


def _fitting(photo: str, held_out: bool, size: tuple[int, int]) -> tuple[int, int]:
    """`size`'s long side, the other side set to the photograph's own proportions (a multiple of 8).

    The labels (people, hands in view) are of the whole photograph: a creative that crops it
    would hold fewer hands than labelled, and a pass would be scored against hands not there."""
    with Image.open((HELD_OUT if held_out else PHOTOS) / f"{photo}.jpg") as opened:
        width, height = opened.size
    long_side = max(size)
    if width >= height:
        return long_side, max(8, round(long_side * height / width / 8) * 8)
    return max(8, round(long_side * width / height / 8) * 8), long_side


class NoHandToEdit(Exception):
    """The composite shows no hand large enough (palm ≥ 24 px) to give a sixth finger."""


def _with_sixth_finger(rgb: NDArray[np.uint8], index: int) -> NDArray[np.uint8]:
    """The largest confirmed hand's index finger (thumb on a fist) copied, turned and blended in."""
    from policies.checks.bg402_anatomy import DEFAULT_HAND_MODELS
    from policies.hands import hand_models

    hands = [h for h in hand_models(DEFAULT_HAND_MODELS).hands(rgb) if h.presence >= 0.5]
    palms = [float(np.linalg.norm(h.landmarks[9, :2] - h.landmarks[0, :2])) for h in hands]
    if not hands or max(palms) < 24:
        raise NoHandToEdit
    hand = hands[int(np.argmax(palms))]
    return sixth_finger(rgb, hand.landmarks, "index", SIXTH_FINGER_TURN[index % 2])


def sixth_finger(
    rgb: NDArray[np.uint8], landmarks: NDArray[np.float64], finger: str, degrees: float
) -> NDArray[np.uint8]:
    """`rgb` with a copy of one finger turned about its base and blended in: a hand with a sixth finger."""
    import cv2

    from policies.hand_shape import FINGERS

    xy = landmarks[:, :2]
    palm = float(np.linalg.norm(xy[9] - xy[0]))
    joints = FINGERS[finger]
    mask = np.zeros(rgb.shape[:2], np.uint8)
    for a, b in pairwise(joints):
        cv2.line(mask, tuple(int(v) for v in xy[a]), tuple(int(v) for v in xy[b]), 255, max(3, int(palm * 0.28)))
    cv2.circle(mask, tuple(int(v) for v in xy[joints[-1]]), max(2, int(palm * 0.14)), 255, -1)
    turn = cv2.getRotationMatrix2D((float(xy[joints[0], 0]), float(xy[joints[0], 1])), degrees, 1.0)
    size = (rgb.shape[1], rgb.shape[0])
    moved, moved_mask = cv2.warpAffine(rgb, turn, size), cv2.warpAffine(mask, turn, size)
    soft = cv2.GaussianBlur(moved_mask, (5, 5), 0)[..., None] / 255.0
    return np.asarray(rgb * (1 - soft) + moved * soft, np.uint8)


def _cover(image: Image.Image, size: tuple[int, int]) -> Image.Image:
    """The photograph scaled to cover `size` and centre-cropped, as a generated background would fill it."""
    w, h = size
    scale = max(w / image.width, h / image.height)
    resized = image.resize((max(w, round(image.width * scale)), max(h, round(image.height * scale))), Image.BICUBIC)
    left, top = (resized.width - w) // 2, (resized.height - h) // 2
    return resized.crop((left, top, left + w, top + h))


def _painted_text(image: Image.Image, text: str, font_path: str) -> Image.Image:
    """`text` on a dark sign in the middle of the picture, as a model paints lettering into a scene."""
    out = image.copy()
    draw = ImageDraw.Draw(out)
    font = ImageFont.truetype(font_path, max(22, out.height // 18))
    left, top = out.width // 10, int(out.height * 0.45)
    x0, y0, x1, y1 = draw.textbbox((left, top), text, font=font)
    draw.rectangle((x0 - 10, y0 - 10, x1 + 10, y1 + 10), fill=(30, 30, 34))
    draw.text((left, top), text, font=font, fill=(240, 240, 240))
    return out


def _off_palette_plate(
    image: Image.Image, placements: list[dict[str, Any]], colour: tuple[int, int, int]
) -> Image.Image:
    """The headline set on a plate of a colour no kit colour is near: a plate in the wrong colour."""
    headline = next(p for p in placements if p["element"] == "headline")
    left, top, right, bottom = headline["box"]
    out = image.copy()
    draw = ImageDraw.Draw(out)
    draw.rectangle((left, top, right - 1, bottom - 1), fill=colour)
    font = ImageFont.truetype(headline["font"], headline["font_px"])
    text_colour = tuple(int(headline["text_colour"][i : i + 2], 16) for i in (1, 3, 5))
    for line, origin in zip(headline["lines"], headline["line_origins"], strict=True):
        draw.text(tuple(origin), line, font=font, fill=text_colour)
    headline["plate_box"] = [left, top, right, bottom]
    headline["plate"] = {"kind": "plate", "colour": "#{:02X}{:02X}{:02X}".format(*colour), "alpha": 1.0}
    return out

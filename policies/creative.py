"""The creative under test: decoded RGB pixels plus analyses shared by several checks."""

from __future__ import annotations

import io
import re
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import cv2
import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, PngImagePlugin, UnidentifiedImageError

from policies.bounded_read import read_bounded
from policies.characters import printable, quote
from policies.errors import InvalidInput

T = TypeVar("T")


@dataclass
class Creative:
    """One image as the checks see it.

    `rgb` is an H×W×3 uint8 array. Analyses that several checks need (OCR, say) are
    computed once per creative through `shared()`, safely from concurrent checks.
    `placements` are what brandgate's compositing recorded about the text and logo it placed
    (`pipeline.compose.Composition.placements`): element, text, font, size, line origins and
    boxes. The pipeline passes them; a file checked on its own has none, and the checks then
    judge from the pixels alone.
    `earlier` holds the generated backgrounds of the images made before this one in the same
    request (the pipeline fills it), so a check can tell a near-copy of one of them.
    """

    name: str
    rgb: NDArray[np.uint8]
    source_format: str | None = None
    notes: list[str] = field(default_factory=list)
    placements: tuple[Mapping[str, Any], ...] = ()
    earlier: list[NDArray[np.uint8]] = field(default_factory=list, repr=False)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_pil(
        cls,
        image: Image.Image,
        name: str = "image",
        source_format: str | None = None,
        placements: Sequence[Mapping[str, Any]] = (),
    ) -> Creative:
        return cls(
            name=name,
            rgb=np.asarray(image.convert("RGB"), dtype=np.uint8),
            source_format=source_format,
            placements=tuple(placements),
        )

    def placed(self, element: str) -> Mapping[str, Any] | None:
        """What brandgate's compositing recorded about `element` (headline, disclaimer, logo)."""
        return next((p for p in self.placements if p.get("element") == element), None)

    def grey(self) -> NDArray[np.uint8]:
        """The creative in grey levels, converted once for every check that needs them."""
        return self.shared("grey", lambda: np.asarray(cv2.cvtColor(self.rgb, cv2.COLOR_RGB2GRAY), dtype=np.uint8))

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    def pil(self) -> Image.Image:
        return Image.fromarray(self.rgb, "RGB")

    def shared(self, key: str, compute: Callable[[], T]) -> T:
        """Compute `key` once for this creative; concurrent callers wait for the first."""
        with self._guard:
            if key in self._cache:
                return self._cache[key]  # type: ignore[no-any-return]
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            if key not in self._cache:
                self._cache[key] = compute()
            return self._cache[key]  # type: ignore[no-any-return]


MIN_SIDE = 16
_EXIF_ORIENTATION = 0x0112
DEFAULT_MAX_PIXELS = 40_000_000
DEFAULT_MAX_BYTES = 50 * 1024 * 1024


def load_creative(
    path: Path | str,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
) -> Creative:
    """Read an image file for the checks; anything unusable is `InvalidInput` naming the file."""
    path = Path(path)
    where = printable(str(path), 200)
    data = read_bounded(path, max_bytes, "image")
    return load_creative_bytes(data, path.name, max_pixels=max_pixels, max_bytes=max_bytes, where=where)


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def unreadable_image_reason(exc: BaseException, data: bytes) -> str:
    """Why Pillow refused to open `data`, in words that say what the file is and what to do."""
    if isinstance(exc, ValueError) and "Decompressed data too large" in str(exc):
        # Pillow's guard against text-chunk bombs: the image is fine, its metadata is not.
        return (
            "a PNG whose compressed text metadata (a zTXt or iTXt chunk) unpacks to more than the "
            f"{PngImagePlugin.MAX_TEXT_CHUNK // 1024 // 1024} MB brandgate reads; strip the metadata "
            "(for example with `exiftool -all= FILE`) and try again"
        )
    if data.startswith(PNG_SIGNATURE):
        return f"a PNG file that cannot be read: {quote(str(exc), 120)}; export it again"
    return (
        "not an image brandgate can read (PNG, JPEG, WebP, GIF); the file's content is"
        " not a known image format, whatever its name says"
    )


def load_creative_bytes(
    data: bytes,
    name: str,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    where: str | None = None,
) -> Creative:
    """Decode image bytes into a Creative: RGB, first frame, transparency on white, 16-bit scaled."""
    where = where or name
    if not data:
        raise InvalidInput("the image file is empty (0 bytes)", where)
    if len(data) > max_bytes:
        raise InvalidInput(f"image is {len(data)} bytes; the limit is {max_bytes}", where)
    with warnings.catch_warnings():
        # Pillow's own bomb guard is a warning below twice its limit; ours is the pixel limit.
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        # Pillow's ICO reader decodes a frame while opening and warns when it is not the size its
        # directory says; the icon is refused below in our own words.
        warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.IcoImagePlugin")
        try:
            image = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            declared = re.search(r"\((\d+) pixels\)", str(exc))
            raise InvalidInput(
                _too_many_pixels_message(int(declared.group(1)) if declared else None, max_pixels,
                                         ceiling=2 * (Image.MAX_IMAGE_PIXELS or 0)),
                where,
            ) from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise InvalidInput(unreadable_image_reason(exc, data), where) from None
        with image:
            if image.format in _ICON_FORMATS:
                # An icon file holds frames whose real size is known only once decoded (an ICO's
                # directory may say 256x256 over a 6000x6000 PNG): refused before any decoding.
                raise InvalidInput(
                    f"is an {image.format} icon file, not an image brandgate checks; export it as PNG, JPEG or WebP",
                    where,
                )
            width, height = image.size
            # Refuse from the header, before any pixel is decoded.
            if width * height > max_pixels:
                raise InvalidInput(_too_many_pixels_message(width * height, max_pixels, f"{width}×{height} = "), where)
            if width < MIN_SIDE or height < MIN_SIDE:
                raise InvalidInput(
                    f"image is {width}×{height} pixels, too small to check; the checks need at"
                    f" least {MIN_SIDE}×{MIN_SIDE}",
                    where,
                )
            source_format = (image.format or "").lower() or None
            notes: list[str] = []
            try:
                rgb = _decode_rgb(image, notes)
            except (OSError, ValueError, SyntaxError, EOFError) as exc:
                raise InvalidInput(
                    f"image data is damaged or truncated ({exc}); export the image again", where
                ) from None
    if source_format == "jpg":
        source_format = "jpeg"
    return Creative(name=name, rgb=rgb, source_format=source_format, notes=notes)


_ICON_FORMATS = frozenset({"ICO", "ICNS", "CUR"})


def _too_many_pixels_message(pixels: int | None, max_pixels: int, shape: str = "", ceiling: int = 0) -> str:
    declared = f"declares {shape}{pixels} pixels" if pixels else "declares far too many pixels"
    if ceiling and max_pixels > ceiling:
        # Pillow refused first: the setting was raised past what the decoder will ever open.
        return (
            f"image {declared}, more than the {ceiling} pixels the image decoder opens at most"
            f" (BRANDGATE_MAX_IMAGE_PIXELS={max_pixels} cannot raise that); resize it"
        )
    return (
        f"image {declared}, more than the limit of {max_pixels} pixels (a decompression bomb"
        " or an oversized export); resize it or raise BRANDGATE_MAX_IMAGE_PIXELS"
    )


def _decode_rgb(image: Image.Image, notes: list[str]) -> NDArray[np.uint8]:
    frames = getattr(image, "n_frames", 1)
    if frames > 1:
        image.seek(0)
        notes.append(f"animated image with {frames} frames: only the first frame was checked")
    image.load()
    if image.getexif().get(_EXIF_ORIENTATION, 1) not in (1, None):
        image = ImageOps.exif_transpose(image)
        notes.append("rotated upright as its EXIF orientation says")
    mode = image.mode
    if mode == "CMYK":
        notes.append("CMYK image converted to RGB")
        return np.asarray(_cmyk_to_rgb(image), dtype=np.uint8)
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        return _wide_grey_to_rgb(image, notes)
    if mode == "F":
        grey = np.clip(np.asarray(image, dtype=np.float64), 0, 255).astype(np.uint8)
        return np.repeat(grey[:, :, None], 3, axis=2)
    has_alpha = mode in ("RGBA", "LA", "PA", "La", "RGBa") or (
        mode in ("P", "L", "RGB") and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        lowest_alpha = rgba.getchannel("A").getextrema()[0]
        if isinstance(lowest_alpha, int | float) and lowest_alpha < 255:
            notes.append("transparent pixels composited on white")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(white, rgba).convert("RGB"), dtype=np.uint8)
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    """With an embedded ICC profile, a colour-managed conversion to sRGB; else Pillow's formula."""
    icc = image.info.get("icc_profile")
    if icc:
        try:
            from PIL import ImageCms

            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
            if converted is not None:
                return converted
        except (OSError, ValueError, ImportError, ImageCms.PyCMSError):
            pass
    return image.convert("RGB")


def _wide_grey_to_rgb(image: Image.Image, notes: list[str]) -> NDArray[np.uint8]:
    """16-bit (and 32-bit integer) greyscale scaled to 8 bits, never clipped at 255."""
    values = np.asarray(image).astype(np.float64)
    if image.mode.startswith("I;16") or (image.mode == "I" and (image.format or "").upper() == "PNG"):
        full_scale = 65535.0
    else:
        full_scale = float(values.max()) if values.size and values.max() > 255 else 255.0
    grey = np.clip(np.rint(values * 255.0 / full_scale), 0, 255).astype(np.uint8)
    notes.append("16-bit image scaled to 8 bits per channel")
    return np.repeat(grey[:, :, None], 3, axis=2)

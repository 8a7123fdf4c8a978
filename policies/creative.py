"""The creative under test: decoded RGB pixels plus analyses shared by several checks."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import numpy as np
from numpy.typing import NDArray
from PIL import Image

T = TypeVar("T")


@dataclass
class Creative:
    """One image as the checks see it.

    `rgb` is an H×W×3 uint8 array. Analyses that several checks need (OCR, say) are
    computed once per creative through `shared()`, safely from concurrent checks.
    """

    name: str
    rgb: NDArray[np.uint8]
    source_format: str | None = None
    notes: list[str] = field(default_factory=list)
    _cache: dict[str, Any] = field(default_factory=dict, repr=False)
    _locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False)
    _guard: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_pil(cls, image: Image.Image, name: str = "image", source_format: str | None = None) -> Creative:
        return cls(name=name, rgb=np.asarray(image.convert("RGB"), dtype=np.uint8), source_format=source_format)

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

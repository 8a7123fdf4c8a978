"""The brief: what a marketer asked for, validated, with field-named errors."""

from __future__ import annotations

import hashlib
import json
import secrets
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.characters import QUOTE_CHARS, printable, quote, text_problem, visible_text
from policies.documents import read_document
from policies.errors import InvalidInput, validated
from policies.prompt_counts import counts_in_prompt

MAX_PROMPT_CHARS = 2000
MAX_HEADLINE_CHARS = 120
MAX_DISCLAIMER_CHARS = 400
MAX_IMAGES_PER_BRIEF = 16
MAX_COUNT = 100
MIN_SIDE, MAX_SIDE = 64, 2048
MAX_BRIEF_FILE_BYTES = 256 * 1024
KIT_NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
# Any seed up to MAX_SEED is accepted. One brandgate chooses (for a brief that names none) stays
# below CHOSEN_SEED_LIMIT: short enough for a person to read back and type, and every backend's
# random generator takes it as it is.
MAX_SEED = 2**63 - 1
CHOSEN_SEED_LIMIT = 2**31


def choose_seed() -> int:
    """A fresh request seed for a brief that names none (recorded with the request)."""
    return secrets.randbelow(CHOSEN_SEED_LIMIT)


class Brief(BaseModel):
    """A request for images. Unknown fields are an error, never silently dropped."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    kit: str = Field(pattern=KIT_NAME_PATTERN)
    prompt: str = Field(min_length=1, max_length=MAX_PROMPT_CHARS)
    negative_prompt: str | None = Field(default=None, max_length=MAX_PROMPT_CHARS)
    headline: str | None = Field(default=None, min_length=1, max_length=MAX_HEADLINE_CHARS)
    disclaimer: str | None = Field(default=None, min_length=1, max_length=MAX_DISCLAIMER_CHARS)
    counts: dict[str, int] = Field(default_factory=dict)
    # True when `counts` was absent and was read from the prompt ("five red apples" → apple: 5);
    # `counts: {}` opts out of reading them.
    counts_inferred: bool = False
    logo: str | None = Field(default=None, min_length=1, max_length=64)
    size: tuple[int, int] = (512, 512)
    n: int = Field(default=4, ge=1, le=MAX_IMAGES_PER_BRIEF)
    seed: int | None = Field(default=None, ge=0, le=MAX_SEED)
    format: Literal["png", "jpeg", "webp"] = "png"
    compose: bool | None = None
    layout: str | None = Field(default=None, max_length=64)
    # What the picture is meant to be; BG401 counts classically only on flat graphics.
    style: Literal["flat", "photo"] | None = None

    @model_validator(mode="before")
    @classmethod
    def _counts_from_prompt(cls, data: Any) -> Any:
        if isinstance(data, dict) and "counts" not in data and isinstance(data.get("prompt"), str):
            found = counts_in_prompt(data["prompt"])
            if found:
                data = {**data, "counts": found, "counts_inferred": True}
        return data

    @field_validator("prompt", "negative_prompt", "headline", "disclaimer")
    @classmethod
    def _visible_text(cls, value: str | None) -> str | None:
        # Text drawn on the image or read by the model: a NUL, an escape sequence or a string of
        # zero-width spaces would print as boxes or nothing and still pass as "given".
        return None if value is None else visible_text(value, multiline=True)

    @field_validator("logo", "layout")
    @classmethod
    def _visible_name(cls, value: str | None) -> str | None:
        return None if value is None else visible_text(value)

    @field_validator("counts")
    @classmethod
    def _counts_in_range(cls, counts: dict[str, int]) -> dict[str, int]:
        for name, value in counts.items():
            if not name.strip():
                raise ValueError("object names in counts must not be empty")
            problem = text_problem(name)
            if problem is not None:
                raise ValueError(f"the object name {quote(name, 40)} {problem}")
            if not 0 <= value <= MAX_COUNT:
                raise ValueError(f"count for {quote(name)} is {value}; give 0 to {MAX_COUNT}")
        folded: dict[str, int] = {}
        for name, value in counts.items():
            key = name.strip().lower()
            if key in folded:
                # Names are compared case-blind: keeping either count silently would check the wrong one.
                raise ValueError(f"counts names {quote(key)} twice (names ignore case and spaces): give it once")
            folded[key] = value
        return folded

    @field_validator("size")
    @classmethod
    def _size_multiple_of_8(cls, size: tuple[int, int]) -> tuple[int, int]:
        for side in size:
            if not MIN_SIDE <= side <= MAX_SIDE:
                raise ValueError(f"side {side} is outside {MIN_SIDE}..{MAX_SIDE} pixels")
            if side % 8:
                raise ValueError(f"side {side} is not a multiple of 8; try {side - side % 8}")
        return size

    @property
    def wants_composition(self) -> bool:
        """Brand text and logos are placed by us when the brief asks for them, unless turned off."""
        if self.compose is not None:
            return self.compose
        return bool(self.headline or self.logo or self.disclaimer)

    def content_hash(self) -> str:
        """sha256 of the brief's canonical JSON: the same brief always hashes the same."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def brief_from_mapping(data: Any, where: str = "brief") -> Brief:
    """Validate already-parsed data (Slack modal, JSON API) into a Brief."""
    return validated(Brief, data, where, "a brief")


def load_brief(path: Path) -> Brief:
    """Read a brief from a .yaml/.yml or .json file."""
    if path.suffix.lower() not in (".json", ".yaml", ".yml"):
        raise InvalidInput("a brief file must end in .yaml, .yml or .json", printable(str(path), QUOTE_CHARS))
    data = read_document(path, "brief", MAX_BRIEF_FILE_BYTES)
    if data is None:
        raise InvalidInput("the brief is empty", printable(str(path), QUOTE_CHARS))
    return brief_from_mapping(data, printable(str(path), QUOTE_CHARS))

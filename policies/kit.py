"""Brand kits: a folder with kit.yaml, logos, fonts and policy.yaml, loaded into validated models."""

from __future__ import annotations

import hashlib
import io
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from PIL import Image, ImageFont, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.characters import QUOTE_CHARS, printable, quote, text_problem, visible_text
from policies.documents import read_document
from policies.errors import InvalidInput, validated
from policies.glyphs import missing_glyphs

HEX_COLOUR = re.compile(r"^#[0-9A-Fa-f]{6}$")
MAX_KIT_FILE_BYTES = 1024 * 1024
# Logos are drawn at a fraction of the canvas (at most 2048 px); more pixels only cost memory.
MAX_LOGO_SIDE = 8192
MAX_LOGO_PIXELS = 4096 * 4096
LOGO_FORMATS = ("PNG", "JPEG", "WEBP")
SYSTEM_FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))
Box = tuple[float, float, float, float]
Anchor = Literal["top-left", "top-right", "bottom-left", "bottom-right", "center"]


# policy.yaml's one key that is not a check ID: checks whose `unverified` counts as pass.
ACCEPT_UNVERIFIED = "accept_unverified"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FontSpec(_Model):
    """A font by file name: looked up in the kit's fonts/ folder, then the system font folders."""

    file: str = Field(min_length=1)
    package: str | None = None
    licence: str = Field(min_length=1)


class LogoSpec(_Model):
    file: str = Field(min_length=1)
    min_width_px: int = Field(default=64, ge=8)
    clear_space: float = Field(default=0.2, ge=0, le=2, description="margin as a fraction of logo width")


class LogoPlacement(_Model):
    variant: str
    anchor: Anchor = "bottom-right"
    width: float = Field(default=0.2, gt=0, le=1, description="logo width as a fraction of canvas width")
    margin: float = Field(default=0.04, ge=0, le=0.5)


class Layout(_Model):
    """Where the compositor puts brand elements, as fractions (x, y, w, h) of the canvas."""

    headline_box: Box = (0.06, 0.06, 0.88, 0.2)
    disclaimer_box: Box = (0.06, 0.9, 0.6, 0.06)
    headline_font: str = "headline"
    body_font: str = "body"
    text_colour: str = "#FFFFFF"
    plate_colour: str | None = None
    min_font_px: int = Field(default=14, ge=6)
    logo: LogoPlacement | None = None
    # What pictures made for this layout are meant to be (a brief's `style` overrides it).
    style: Literal["flat", "photo"] | None = None

    @field_validator("headline_box", "disclaimer_box")
    @classmethod
    def _inside_canvas(cls, box: Box) -> Box:
        x, y, w, h = box
        if not (0 <= x < 1 and 0 <= y < 1 and 0 < w <= 1 and 0 < h <= 1 and x + w <= 1.0001 and y + h <= 1.0001):
            raise ValueError(f"box {box} is not inside the canvas (fractions 0..1 as x, y, w, h)")
        return box


class SlackAccess(_Model):
    channels: list[str] = Field(default_factory=list, description="channel IDs allowed; empty = all")
    manager_group: str | None = None
    managers: list[str] = Field(default_factory=list)
    # The review desk: how managers hear that images wait, and when a wait is too long.
    review_notify: Literal["thread", "dm"] = "thread"
    review_channel: str | None = Field(default=None, description="where reminders go; unset: managers' DMs")
    review_sla_hours: float = Field(default=24.0, gt=0, description="a wait longer than this gets a reminder")


class ImageryRanges(_Model):
    """What a kit allows of its photographs' colour (BG303, opt-in): each a [low, high] range."""

    # Mean CIELAB b* + a*/2 of the photograph: above 0 warm (yellow, red), below cool (blue, green).
    warmth: tuple[float, float] | None = None
    # Mean CIELAB chroma (0 grey; 20 a muted photograph; 50 and more vivid).
    saturation: tuple[float, float] | None = None
    # Mean CIELAB lightness L* (0 black, 100 white).
    brightness: tuple[float, float] | None = None

    @field_validator("warmth", "saturation", "brightness")
    @classmethod
    def _ordered(cls, value: tuple[float, float] | None) -> tuple[float, float] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError(f"the range {list(value)} runs backwards; give [low, high]")
        return value


class KitFile(_Model):
    """The content of kit.yaml."""

    name: str
    display_name: str | None = None
    description: str | None = None
    palette: dict[str, str] = Field(min_length=1)
    fonts: dict[str, FontSpec] = Field(default_factory=dict)
    logos: dict[str, LogoSpec] = Field(default_factory=dict)
    banned_words: list[str] = Field(default_factory=list)
    required_disclaimers: list[str] = Field(default_factory=list)
    layouts: dict[str, Layout] = Field(default_factory=lambda: {"default": Layout()})
    slack: SlackAccess = Field(default_factory=SlackAccess)
    # Photographic colour the brand governs (BG303); absent, photographs' colours are not judged.
    imagery: ImageryRanges | None = None

    @field_validator("display_name", "description")
    @classmethod
    def _visible_text(cls, value: str | None) -> str | None:
        return None if value is None else visible_text(value, multiline=True)

    @field_validator("banned_words", "required_disclaimers")
    @classmethod
    def _visible_phrases(cls, values: list[str]) -> list[str]:
        # Required disclaimers are drawn on every image and banned words matched against what
        # OCR reads: invisible characters would make the first unreadable and the second unmatchable.
        for number, value in enumerate(values):
            problem = text_problem(value)
            if problem is not None:
                raise ValueError(f"entry {number + 1} {problem}")
        return values

    @field_validator("palette")
    @classmethod
    def _hex_colours(cls, palette: dict[str, str]) -> dict[str, str]:
        for name, value in palette.items():
            if not isinstance(value, str) or not HEX_COLOUR.match(value):
                raise ValueError(f"colour {quote(name)} is {quote(value)}; write it as hex like '#D62828'")
        return {name: value.upper() for name, value in palette.items()}

    @model_validator(mode="after")
    def _references_exist(self) -> KitFile:
        for key, layout in self.layouts.items():
            lname = printable(key, 80)
            for role in (layout.headline_font, layout.body_font):
                if self.fonts and role not in self.fonts:
                    raise ValueError(f"layouts.{lname} uses font {quote(role)}, not in fonts")
            if layout.logo and layout.logo.variant not in self.logos:
                raise ValueError(f"layouts.{lname}.logo.variant {quote(layout.logo.variant)} is not in logos")
            for colour in (layout.text_colour, layout.plate_colour):
                if colour is not None and colour not in self.palette and not HEX_COLOUR.match(colour):
                    raise ValueError(f"layouts.{lname}: colour {quote(colour)} is neither a palette name nor hex")
        return self


class Kit(_Model):
    """A loaded, validated kit: its files resolved to absolute paths and its content hash."""

    name: str
    root: Path
    spec: KitFile
    policy: dict[str, dict[str, Any]]
    content_hash: str
    # Checks whose `unverified` the brand accepts as pass (policy.yaml `accept_unverified: [ID]`).
    accept_unverified: frozenset[str] = frozenset()

    def logo_path(self, variant: str) -> Path:
        if variant not in self.spec.logos:
            known = ", ".join(sorted(self.spec.logos)) or "none"
            raise InvalidInput(f"kit {quote(self.name)} has no logo variant {quote(variant)} (has: {known})", "logo")
        return self.root / self.spec.logos[variant].file

    def font_path(self, role: str) -> Path:
        if role not in self.spec.fonts:
            raise InvalidInput(f"kit {quote(self.name)} has no font {quote(role)}", "fonts")
        return resolve_font(self.root, self.spec.fonts[role].file)

    def colour(self, name_or_hex: str) -> tuple[int, int, int]:
        value = self.spec.palette.get(name_or_hex, name_or_hex)
        return int(value[1:3], 16), int(value[3:5], 16), int(value[5:7], 16)

    def layout(self, name: str | None) -> Layout:
        key = name or "default"
        if key not in self.spec.layouts:
            known = ", ".join(sorted(self.spec.layouts))
            raise InvalidInput(f"kit {quote(self.name)} has no layout {quote(key)} (has: {known})", "layout")
        return self.spec.layouts[key]

    def check_options(self, check_id: str) -> dict[str, Any]:
        return dict(self.policy.get(check_id, {}))


# Installed fonts found so far, by file name: walking the system font folders costs milliseconds per
# font, and compositing and the text checks ask for the kit's fonts on every image. A font not found
# is not remembered, so one installed while the process runs is found on the next ask (and one
# removed is looked for again).
_installed_fonts: dict[str, Path] = {}


def _installed_font(file_name: str) -> Path | None:
    for base in SYSTEM_FONT_DIRS:
        if base.is_dir():
            for found in sorted(base.rglob(file_name)):
                return found
    return None


def resolve_font(kit_root: Path, file_name: str) -> Path:
    """The font file: kit fonts/ first, then system folders; never a path outside those."""
    if "/" in file_name or "\\" in file_name or file_name.startswith("."):
        raise InvalidInput(f"font {quote(file_name)} must be a bare file name", "fonts")
    if any(c in file_name for c in "*?[]"):
        # A pattern would take whichever installed font matched first, a face nobody chose.
        raise InvalidInput(
            f"font {quote(file_name)} is a pattern; name one file: a font in the kit's fonts/ folder"
            " or an installed font's exact file name",
            "fonts",
        )
    local = kit_root / "fonts" / file_name
    if local.is_file():
        return local
    remembered = _installed_fonts.get(file_name)
    found = remembered if remembered is not None and remembered.is_file() else _installed_font(file_name)
    if found is not None:
        _installed_fonts[file_name] = found
        return found
    raise InvalidInput(
        f"font {quote(file_name)} not found in {kit_root / 'fonts'} or {', '.join(map(str, SYSTEM_FONT_DIRS))};"
        " install its Debian package (`make setup`) or add the file to the kit",
        "fonts",
    )


def load_kit(root: Path, known_check_ids: frozenset[str] | None = None) -> Kit:
    """Load and validate the kit folder at `root`. Errors name the file and the field."""
    if not root.exists():
        raise InvalidInput("no such kit folder", str(root))
    if not root.is_dir():
        raise InvalidInput("a kit is a folder", str(root))
    kit_yaml = root / "kit.yaml"
    spec_data = _read_yaml(kit_yaml, required=True)
    spec = validated(KitFile, spec_data, str(kit_yaml), "kit.yaml")
    for variant, logo in spec.logos.items():
        path = _inside(root, logo.file, f"logos.{variant}.file", kit_yaml)
        if not path.is_file():
            raise InvalidInput(f"logos.{variant}.file: {quote(logo.file)} does not exist", str(kit_yaml))
        _check_logo(path, f"logos.{variant}.file", kit_yaml, decode=False)
    installed: list[Path] = []
    for role, font in spec.fonts.items():
        try:
            path = resolve_font(root, font.file)
            _check_font(path)
        except InvalidInput as exc:
            raise InvalidInput(f"fonts.{role}: {exc}", str(kit_yaml)) from None
        if not path.is_relative_to(root):
            installed.append(path)
    policy, accepted = _load_policy(root / "policy.yaml", known_check_ids)
    return Kit(
        name=spec.name,
        root=root.resolve(),
        spec=spec,
        policy=policy,
        content_hash=kit_content_hash(root, installed),
        accept_unverified=accepted,
    )


def open_every_file(kit: Kit) -> None:
    """Decode every logo in full and open every font (`kit validate`): a truncated or corrupt file
    is found here, not by BG201 erroring on every image."""
    kit_yaml = kit.root / "kit.yaml"
    for variant in kit.spec.logos:
        _check_logo(kit.logo_path(variant), f"logos.{variant}.file", kit_yaml, decode=True)
    for role in kit.spec.fonts:
        try:
            with kit.font_path(role).open("rb") as handle:
                ImageFont.truetype(io.BytesIO(handle.read()), 24).getbbox("Ag")
        except OSError as exc:
            raise InvalidInput(
                f"fonts.{role}: {quote(kit.spec.fonts[role].file)} cannot be drawn with: {exc}", str(kit_yaml)
            ) from None


def _check_logo(path: Path, field: str, where: Path, *, decode: bool) -> None:
    """A logo is a raster image of sane size; its header is read always, its pixels when `decode`."""
    name = quote(path.name)
    if path.suffix.lower() == ".svg":
        raise InvalidInput(f"{field}: {name} is an SVG; add a PNG rendering of it to the kit", str(where))
    if path.stat().st_size == 0:
        raise InvalidInput(f"{field}: {name} is an empty file", str(where))
    try:
        with Image.open(path) as opened:
            width, height = opened.size
            kind = opened.format
            if width * height > MAX_LOGO_PIXELS or max(width, height) > MAX_LOGO_SIDE:
                raise InvalidInput(
                    f"{field}: {name} is {width}x{height} pixels; a logo is at most {MAX_LOGO_SIDE} on a side "
                    f"and {MAX_LOGO_PIXELS} pixels",
                    str(where),
                )
            if kind not in LOGO_FORMATS:
                raise InvalidInput(f"{field}: {name} is {kind}; give a PNG, JPEG or WebP logo", str(where))
            if decode:
                opened.load()
    except Image.DecompressionBombError as exc:
        declared = re.search(r"\((\d+) pixels\)", str(exc))
        claim = f"{declared.group(1)} pixels" if declared else "a size far beyond any logo"
        raise InvalidInput(
            f"{field}: {name} claims {claim} (decompression bomb guard); a logo is at most {MAX_LOGO_PIXELS} pixels",
            str(where),
        ) from None
    except UnidentifiedImageError:
        raise InvalidInput(
            f"{field}: {name} is not an image brandgate can read (PNG, JPEG or WebP)", str(where)
        ) from None
    except OSError as exc:
        raise InvalidInput(f"{field}: {name} is damaged: {quote(str(exc))}", str(where)) from None


def _check_font(path: Path) -> None:
    # fontTools reads the file itself; Pillow, given a name it cannot open, quietly loads a
    # system font of the same name instead.
    try:
        missing_glyphs("A", path)
    except OSError as exc:
        raise InvalidInput(f"{quote(path.name)} is not a font file brandgate can draw with ({exc})") from None


def kit_content_hash(root: Path, installed_fonts: Sequence[Path] = ()) -> str:
    """sha256 over every file of the kit (relative path and bytes), in sorted order, and over the
    installed fonts it draws with (file name and bytes): a font outside the kit changes the hash too.

    Files are hashed streaming, and each file's digest is kept for as long as its size and
    modification time stay the same, so a kit holding a 4 GB design file costs one read per process.
    """
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        digest.update(_file_digest(path, root))
    for font in sorted(set(installed_fonts)):
        digest.update(b"installed-font:" + font.name.encode() + b"\0")
        digest.update(_file_digest(font, root))
    return digest.hexdigest()


_DIGESTS: dict[tuple[str, int, int, int], bytes] = {}


def _file_digest(path: Path, root: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            status = os.fstat(handle.fileno())
            key = (str(path), status.st_ino, status.st_size, status.st_mtime_ns)
            if key not in _DIGESTS:
                _DIGESTS[key] = hashlib.file_digest(handle, "sha256").digest()
            return _DIGESTS[key]
    except OSError as exc:
        shown = path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)
        raise InvalidInput(
            f"kit file {quote(shown)} cannot be read ({exc.strerror or type(exc).__name__}); fix its permissions"
            " or remove it from the kit folder",
            str(root),
        ) from None


def _inside(root: Path, relative: str, field: str, where: Path) -> Path:
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise InvalidInput(f"{field}: {quote(relative)} points outside the kit folder", str(where))
    return path


def _load_policy(
    path: Path, known_check_ids: frozenset[str] | None
) -> tuple[dict[str, dict[str, Any]], frozenset[str]]:
    """The per-check settings and the checks whose `unverified` the kit accepts as pass."""
    data = _read_yaml(path, required=False) or {}
    if not isinstance(data, dict):
        raise InvalidInput("policy.yaml is a mapping of check ID to settings", str(path))
    data = dict(data)
    accepted = _accepted_unverified(data.pop(ACCEPT_UNVERIFIED, None) or [], known_check_ids, path)
    policy: dict[str, dict[str, Any]] = {}
    for check_id, options in data.items():
        _known(check_id, known_check_ids, path)
        if options is None:
            options = {}
        if not isinstance(options, dict):
            raise InvalidInput(f"{quote(check_id)}: settings must be a mapping, got {quote(options)}", str(path))
        odd = next((key for key in options if not isinstance(key, str)), None)
        if odd is not None:
            raise InvalidInput(f"{check_id}: option names are words, got {quote(odd)}", str(path))
        severity = options.get("severity")
        if severity is not None and severity not in ("flag", "reject"):
            raise InvalidInput(f"{check_id}.severity: must be 'flag' or 'reject', got {quote(severity)}", str(path))
        enabled = options.get("enabled", True)
        if not isinstance(enabled, bool):
            raise InvalidInput(f"{check_id}.enabled: must be true or false, got {quote(enabled)}", str(path))
        policy[str(check_id)] = dict(options)
    return policy, accepted


def _known(check_id: Any, known_check_ids: frozenset[str] | None, path: Path) -> None:
    if known_check_ids is not None and check_id not in known_check_ids:
        raise InvalidInput(
            f"unknown check ID {quote(check_id)}; known: {', '.join(sorted(known_check_ids))}", str(path)
        )


def _accepted_unverified(value: Any, known_check_ids: frozenset[str] | None, path: Path) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(f"{ACCEPT_UNVERIFIED}: must be a list of check IDs, got {quote(value)}", str(path))
    for check_id in value:
        _known(check_id, known_check_ids, path)
    return frozenset(value)


def _read_yaml(path: Path, required: bool) -> Any:
    if not path.exists() and not path.is_symlink():
        if required:
            raise InvalidInput("missing; every kit needs one", printable(str(path), QUOTE_CHARS))
        return None
    return read_document(path, path.name, MAX_KIT_FILE_BYTES)

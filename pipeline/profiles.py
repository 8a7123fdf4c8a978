"""Model profiles: the frozen, validated generation config each image is made and recorded with."""

from __future__ import annotations

import difflib
import hashlib
import inspect
import json
import threading
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from policies.characters import quote
from policies.documents import read_document
from policies.errors import InvalidInput, validated

if TYPE_CHECKING:
    from brandgate.settings import Settings

BUILTIN_PROFILES_DIR = Path(__file__).resolve().parent / "profiles"
MAX_PROFILE_FILE_BYTES = 64 * 1024
# Above this no profile may go, whatever its own cap says: a typo like 500 steps costs 20x.
ABSOLUTE_STEP_CAP = 150
MAX_BATCH = 16
MIN_SIDE, MAX_SIDE = 64, 2048

Dtype = Literal["fp16", "bf16", "fp32"]
DeviceName = Literal["auto", "cpu", "cuda"]

# Schedulers a text-to-image profile may name. Whether one suits a given model
# (epsilon vs flow matching) is checked against the model's own list at load time.
SCHEDULERS: tuple[str, ...] = (
    "DDIMScheduler",
    "DDPMScheduler",
    "DEISMultistepScheduler",
    "DPMSolverMultistepScheduler",
    "DPMSolverSinglestepScheduler",
    "EDMEulerScheduler",
    "EulerAncestralDiscreteScheduler",
    "EulerDiscreteScheduler",
    "FlowMatchEulerDiscreteScheduler",
    "FlowMatchHeunDiscreteScheduler",
    "HeunDiscreteScheduler",
    "KDPM2AncestralDiscreteScheduler",
    "KDPM2DiscreteScheduler",
    "LCMScheduler",
    "LMSDiscreteScheduler",
    "PNDMScheduler",
    "TCDScheduler",
    "UniPCMultistepScheduler",
)
TIMESTEP_SPACINGS = ("leading", "linspace", "trailing")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SchedulerSpec(_Frozen):
    """A diffusers scheduler class by name and the config keys to override on the model's own."""

    name: str
    config: dict[str, Any] = Field(default_factory=dict)

    @field_validator("name")
    @classmethod
    def _known_name(cls, name: str) -> str:
        if name not in SCHEDULERS:
            close = difflib.get_close_matches(name, SCHEDULERS, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"unknown scheduler {quote(name)}{hint}; valid: {', '.join(SCHEDULERS)}")
        return name

    @model_validator(mode="after")
    def _known_config_keys(self) -> SchedulerSpec:
        valid = scheduler_config_keys(self.name)
        unknown = sorted(set(self.config) - valid)
        if unknown:
            raise ValueError(
                f"{self.name} has no setting {', '.join(map(repr, unknown))}; "
                f"valid: {', '.join(sorted(valid))}"
            )
        spacing = self.config.get("timestep_spacing")
        if spacing is not None and spacing not in TIMESTEP_SPACINGS:
            raise ValueError(
                f"timestep_spacing {quote(spacing)} is not one of {', '.join(TIMESTEP_SPACINGS)}"
            )
        return self


class Profile(_Frozen):
    """Everything that decides what a model produces and what it costs, pinned in one file."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,63}$")
    description: str = ""
    model: str = Field(
        min_length=1, description="model folder: relative to the models folder, or absolute"
    )
    revision: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{12,64}$",
        description="sha256 (or a 12+ character prefix) of the model folder's content; "
        "refused when it differs",
    )
    device: DeviceName = "auto"
    dtype: Dtype = "fp32"
    scheduler: SchedulerSpec
    steps: int = Field(ge=1)
    max_steps: int = Field(ge=1, le=ABSOLUTE_STEP_CAP)
    guidance_scale: float = Field(ge=0, le=30)
    resolution: tuple[int, int] = Field(
        description="the size rendered at most; larger requests are scaled up after"
    )
    max_batch_size: int = Field(ge=1, le=MAX_BATCH)
    attention_slicing: bool = False
    vae_tiling: bool = False
    offload: Literal["none", "model", "sequential"] = "none"
    compile: bool = False
    cpu_threads: int = Field(
        default=2, ge=1, le=256, description="pinned so CPU pixels repeat exactly"
    )

    @field_validator("resolution")
    @classmethod
    def _sides(cls, size: tuple[int, int]) -> tuple[int, int]:
        for side in size:
            check_side(side)
        return size

    @model_validator(mode="after")
    def _steps_under_cap(self) -> Profile:
        if self.steps > self.max_steps:
            raise ValueError(
                f"steps {self.steps} is over this profile's cap of {self.max_steps}; "
                f"give 1..{self.max_steps} or raise max_steps (at most {ABSOLUTE_STEP_CAP})"
            )
        return self

    def content_hash(self) -> str:
        """sha256 of the canonical JSON: two images with the same hash were made the same way."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()

    def model_dir(self, models_dir: Path) -> Path:
        path = Path(self.model).expanduser()
        return path if path.is_absolute() else models_dir / path

    def render_size(self, requested: tuple[int, int]) -> tuple[int, int]:
        """The size to diffuse at: the request scaled down (aspect kept) to the resolution."""
        for side in requested:
            try:
                check_side(side)
            except ValueError as exc:
                raise InvalidInput(str(exc), "size") from None
        width, height = requested
        max_w, max_h = self.resolution
        scale = min(1.0, max_w / width, max_h / height)
        scale = min(1.0, max(scale, MIN_SIDE / min(width, height)))  # never below the smallest side
        if scale >= 1.0:
            return requested
        return max(MIN_SIDE, round(width * scale) // 8 * 8), max(
            MIN_SIDE, round(height * scale) // 8 * 8
        )

    def with_steps(self, steps: int) -> Profile:
        """A copy with another step count, validated against the cap like the file was."""
        return validate_profile(
            {**self.model_dump(mode="json"), "steps": steps}, f"profile {self.name}"
        )


def check_side(side: int) -> None:
    if not isinstance(side, int) or isinstance(side, bool):
        raise ValueError(f"side {quote(side)} is not a whole number of pixels")
    if not MIN_SIDE <= side <= MAX_SIDE:
        raise ValueError(f"side {side} is outside {MIN_SIDE}..{MAX_SIDE} pixels")
    if side % 8:
        raise ValueError(
            f"side {side} is not a multiple of 8 (the VAE works in 8-pixel cells); "
            f"try {side - side % 8}"
        )


_DIFFUSERS_IMPORT = threading.Lock()


def scheduler_class(name: str) -> Any:
    """A diffusers scheduler class by name, under a lock: the first touch of diffusers' lazy
    module from several threads at once can see a half-imported module."""
    with _DIFFUSERS_IMPORT:
        import diffusers

        return getattr(diffusers, name)


@cache
def scheduler_config_keys(name: str) -> frozenset[str]:
    cls = scheduler_class(name)
    params = inspect.signature(cls.__init__).parameters
    return frozenset(
        p for p in params if p != "self" and params[p].kind is not inspect.Parameter.VAR_KEYWORD
    )


def validate_profile(data: Any, where: str) -> Profile:
    return validated(Profile, data, where, "a profile")


def profile_names(settings: Settings) -> list[str]:
    names = {p.stem for p in BUILTIN_PROFILES_DIR.glob("*.yaml")}
    if settings.profiles_dir.is_dir():
        names |= {p.stem for p in settings.profiles_dir.glob("*.yaml")}
    return sorted(names)


def profile_file(name_or_path: str, settings: Settings) -> Path:
    """A bare name is looked up in the operator's profiles folder, then the built-in ones."""
    if not name_or_path.strip():
        raise InvalidInput("give a profile name or a path to a profile .yaml", "profile")
    if "/" in name_or_path or "\\" in name_or_path or name_or_path.endswith((".yaml", ".yml")):
        path = Path(name_or_path)
        if not path.is_file():
            raise InvalidInput("no such profile file", str(path))
        return path
    for folder in (settings.profiles_dir, BUILTIN_PROFILES_DIR):
        candidate = folder / f"{name_or_path}.yaml"
        if candidate.is_file():
            return candidate
    names = profile_names(settings)
    close = difflib.get_close_matches(name_or_path, names, n=1)
    hint = f"did you mean {quote(close[0])}? " if close else ""
    raise InvalidInput(
        f"no profile named {quote(name_or_path)}; {hint}valid: {', '.join(names)}", "profile"
    )


def load_profile(name_or_path: str, settings: Settings) -> Profile:
    """Read, validate and check a profile against this machine (device and dtype)."""
    path = profile_file(name_or_path, settings)
    data = read_document(path, "profile", MAX_PROFILE_FILE_BYTES)
    profile = validate_profile(data, str(path))
    check_device(profile)
    return profile


def resolve_device(profile: Profile) -> str:
    import torch

    if profile.device == "cuda" and not torch.cuda.is_available():
        raise InvalidInput(
            f"profile {quote(profile.name)} asks for device cuda but this machine has no CUDA GPU; "
            "valid here: auto, cpu",
            "device",
        )
    if profile.device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    return profile.device


def supported_dtypes(device: str) -> tuple[str, ...]:
    """What this machine can run: no fp16 on CPU, bf16 only where the hardware has it."""
    import torch

    if device == "cuda":
        return ("fp16", "bf16", "fp32") if torch.cuda.is_bf16_supported() else ("fp16", "fp32")
    bf16 = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)
    return ("bf16", "fp32") if bf16 is not None and bf16() else ("fp32",)


def check_device(profile: Profile) -> str:
    device = resolve_device(profile)
    valid = supported_dtypes(device)
    if profile.dtype not in valid:
        raise InvalidInput(
            f"profile {quote(profile.name)} asks for dtype {profile.dtype}, "
            f"which {device} here cannot run; "
            f"valid here: {', '.join(valid)}",
            "dtype",
        )
    if profile.offload != "none" and device != "cuda":
        raise InvalidInput(
            f"offload {quote(profile.offload)} needs a CUDA GPU; valid here: none", "offload"
        )
    return device

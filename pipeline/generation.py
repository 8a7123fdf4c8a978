"""The diffusers backend: any local pipeline folder, loaded once; seeded, metered images."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import inspect
import logging
import platform
import resource
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from pipeline.profiles import Profile, check_device, scheduler_class
from pipeline.tiny_model import folder_hash
from policies.brief import MAX_SEED
from policies.errors import BrandgateError, InvalidInput

if TYPE_CHECKING:
    from brandgate.settings import Settings

log = logging.getLogger(__name__)

MAX_IMAGES_PER_CALL = 64
TORCH_DTYPES = {"fp16": "float16", "bf16": "bfloat16", "fp32": "float32"}
CPU_METERING = (
    "CPU compute-seconds (wall time of the image's share), priced at the configured GPU hourly rate"
)
GPU_METERING = (
    "GPU-seconds (wall time the GPU was held for the image's share), "
    "priced at the configured GPU hourly rate"
)


class GenerationCancelled(Exception):
    """The cancellation flag was set; generation stopped at the next denoising step."""

    def __init__(self, images_done: int, n_images: int) -> None:
        self.images_done = images_done
        self.n_images = n_images
        super().__init__(f"generation cancelled after {images_done} of {n_images} image(s)")


class GenerationFailed(BrandgateError):
    """Generation could not finish (out of memory at batch size 1); says what to change."""

    def __init__(self, message: str, retries: Sequence[OomRetry] = ()) -> None:
        self.retries = tuple(retries)
        super().__init__(message)


@dataclass(frozen=True)
class Progress:
    """One denoising step done, for progress bars: 'generating 2/4, step 14/25'."""

    n_images: int
    images_done: int
    batch: tuple[int, ...]  # 0-based indices of the images in the running batch
    step: int  # 1-based
    steps: int

    @property
    def image_index(self) -> int:
        """1-based number of the first image in the running batch."""
        return self.batch[0] + 1

    @property
    def fraction(self) -> float:
        return (self.images_done + len(self.batch) * self.step / self.steps) / self.n_images


@dataclass(frozen=True)
class OomRetry:
    """A batch that ran out of GPU memory and was split; its lost time is charged to its images."""

    indices: tuple[int, ...]
    batch_size: int
    next_batch_size: int
    seconds_lost: float
    message: str

    def to_json(self) -> dict[str, Any]:
        return {
            "indices": list(self.indices),
            "batch_size": self.batch_size,
            "next_batch_size": self.next_batch_size,
            "seconds_lost": round(self.seconds_lost, 6),
            "message": self.message,
        }


@dataclass
class GeneratedImage:
    """One image and everything needed to bill it and to make it again."""

    image: Image.Image
    seed: int
    index: int
    wall_seconds: float
    gpu_seconds: float
    cost_usd: float
    peak_memory_bytes: int
    peak_memory_kind: str  # cuda_peak_allocated or cpu_peak_rss
    record: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "seed": self.seed,
            "wall_seconds": round(self.wall_seconds, 6),
            "gpu_seconds": round(self.gpu_seconds, 6),
            "cost_usd": round(self.cost_usd, 10),
            "peak_memory_bytes": self.peak_memory_bytes,
            "peak_memory_kind": self.peak_memory_kind,
            "record": self.record,
        }


@dataclass(frozen=True)
class LoadedModel:
    diffusers_pipe: Any
    folder: Path
    content_hash: str
    dtype: str
    device: str
    load_seconds: float

    @property
    def pipeline_class(self) -> str:
        return type(self.diffusers_pipe).__name__


def check_seed(seed: object, what: str = "seed") -> int:
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise InvalidInput(f"{seed!r} is not a whole number; give 0..{MAX_SEED}", what)
    if seed < 0:
        raise InvalidInput(f"{seed} is negative; give 0..{MAX_SEED}", what)
    if seed > MAX_SEED:
        raise InvalidInput(f"{seed} is larger than {MAX_SEED}; give 0..{MAX_SEED}", what)
    return seed


def derive_seeds(request_seed: int, n: int) -> list[int]:
    """Per-image seeds from the request seed: stable across machines and Python versions."""
    check_seed(request_seed)
    if not isinstance(n, int) or not 1 <= n <= MAX_IMAGES_PER_CALL:
        raise InvalidInput(f"{n!r} images asked for; give 1..{MAX_IMAGES_PER_CALL}", "n")
    seeds = []
    for index in range(n):
        digest = hashlib.sha256(f"brandgate-seed:{request_seed}:{index}".encode()).digest()
        seeds.append(int.from_bytes(digest[:8], "big") & MAX_SEED)
    return seeds


def library_versions() -> dict[str, str]:
    import diffusers
    import numpy
    import PIL
    import torch
    import transformers

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "numpy": numpy.__version__,
        "pillow": PIL.__version__,
    }
    if torch.version.cuda:
        versions["cuda"] = torch.version.cuda
    return versions


# One pipeline per (folder, content hash, dtype, device) per process: loading SDXL takes
# tens of seconds and gigabytes, so every request after the first reuses it.
_MODELS: dict[tuple[str, str, str, str], LoadedModel] = {}
_HASHES: dict[tuple[str, tuple[tuple[str, int, int], ...]], str] = {}
_LOAD_LOCK = threading.Lock()


def model_folder(profile: Profile, settings: Settings) -> Path:
    """The profile's model folder, checked to be a diffusers pipeline before anything loads."""
    folder = profile.model_dir(settings.models_dir)
    if not folder.exists():
        hint = (
            " (build it with `brandgate models build-tiny`)"
            if folder.name == "tiny-sd"
            else "; put a diffusers pipeline folder there or fix `model` in the profile"
        )
        raise InvalidInput(
            f"model folder {folder} does not exist{hint}", f"profile {profile.name}: model"
        )
    if not folder.is_dir():
        raise InvalidInput(
            f"{folder} is a file; a model is a diffusers pipeline folder",
            f"profile {profile.name}: model",
        )
    if not (folder / "model_index.json").is_file():
        raise InvalidInput(
            f"{folder} is not a diffusers pipeline folder (no model_index.json); "
            "save one with DiffusionPipeline.save_pretrained or `brandgate models build-tiny`",
            f"profile {profile.name}: model",
        )
    return folder.resolve()


def model_hash(folder: Path) -> str:
    """The folder's content hash, recomputed only when a file's size or mtime changed."""
    signature = tuple(
        (p.relative_to(folder).as_posix(), p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    )
    key = (str(folder), signature)
    if key not in _HASHES:
        _HASHES[key] = folder_hash(folder)
    return _HASHES[key]


def load_model(profile: Profile, settings: Settings) -> LoadedModel:
    """Load (or reuse) the profile's pipeline with its dtype, device and memory options."""
    device = check_device(profile)
    folder = model_folder(profile, settings)
    content_hash = model_hash(folder)
    if profile.revision and not content_hash.startswith(profile.revision):
        raise InvalidInput(
            f"model folder {folder} has content hash {content_hash[:16]}…, but the profile pins "
            f"{profile.revision[:16]}…; the model changed: restore it, "
            "or re-pin after it passes the regression suite",
            f"profile {profile.name}: revision",
        )
    key = (str(folder), content_hash, profile.dtype, device)
    with _LOAD_LOCK:
        loaded = _MODELS.get(key)
        if loaded is None:
            started = time.perf_counter()
            diffusers_pipe = _from_pretrained(folder, profile, device)
            loaded = LoadedModel(
                diffusers_pipe, folder, content_hash, profile.dtype, device, time.perf_counter() - started
            )
            _MODELS[key] = loaded
            log.info(
                "loaded %s from %s (%s, %s) in %.1f s",
                loaded.pipeline_class,
                folder,
                profile.dtype,
                device,
                loaded.load_seconds,
            )
    # Checked for every profile, not just the first to load the model: profiles share the cache.
    _check_scheduler(loaded.diffusers_pipe, profile)
    return loaded


def _from_pretrained(folder: Path, profile: Profile, device: str) -> Any:
    import torch
    import transformers
    from diffusers import DiffusionPipeline
    from diffusers.utils import logging as diffusers_logging

    # Load bars would interleave with the caller's own progress bar on stderr.
    diffusers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    # Their records go to the process's own handler (JSON under BRANDGATE_LOG_FORMAT=json), not to
    # the stderr handler each library installs with its own "[transformers] …" format.
    for library in (diffusers_logging, transformers.utils.logging):
        library.disable_default_handler()  # type: ignore[no-untyped-call]
        library.enable_propagation()  # type: ignore[no-untyped-call]
    if device == "cpu":
        torch.set_num_threads(profile.cpu_threads)
    # diffusers renamed torch_dtype to dtype (0.36); older releases only know torch_dtype.
    dtype_arg = "dtype" if _takes_dtype_argument() else "torch_dtype"
    try:
        diffusers_pipe = DiffusionPipeline.from_pretrained(  # type: ignore[no-untyped-call]
            folder,
            local_files_only=True,
            **{dtype_arg: getattr(torch, TORCH_DTYPES[profile.dtype])},
        )
    except (OSError, ValueError, KeyError, AttributeError) as exc:
        raise InvalidInput(
            f"{folder} could not be loaded as a diffusers pipeline: {exc}",
            f"profile {profile.name}: model",
        ) from None
    if not hasattr(diffusers_pipe, "scheduler") or not callable(diffusers_pipe):
        raise InvalidInput(
            f"{folder} holds a {type(diffusers_pipe).__name__}, not a text-to-image pipeline", "model"
        )
    diffusers_pipe.set_progress_bar_config(disable=True)
    if profile.attention_slicing:
        diffusers_pipe.enable_attention_slicing()
    vae = getattr(diffusers_pipe, "vae", None)
    if profile.vae_tiling and vae is not None and hasattr(vae, "enable_tiling"):
        vae.enable_tiling()
    if profile.offload == "model":
        diffusers_pipe.enable_model_cpu_offload()
    elif profile.offload == "sequential":
        diffusers_pipe.enable_sequential_cpu_offload()
    else:
        diffusers_pipe.to(device)
    if profile.compile and device == "cuda":
        denoiser = "transformer" if getattr(diffusers_pipe, "transformer", None) is not None else "unet"
        module = getattr(diffusers_pipe, denoiser)
        module.to(memory_format=torch.channels_last)
        setattr(diffusers_pipe, denoiser, torch.compile(module, mode="max-autotune-no-cudagraphs"))
    _check_scheduler(diffusers_pipe, profile)
    return diffusers_pipe


def _takes_dtype_argument() -> bool:
    from diffusers.utils import deprecation_utils

    return hasattr(deprecation_utils, "_resolve_dtype")


def _check_scheduler(diffusers_pipe: Any, profile: Profile) -> None:
    own = type(diffusers_pipe.scheduler).__name__
    compatible = sorted({cls.__name__ for cls in diffusers_pipe.scheduler.compatibles} | {own})
    if profile.scheduler.name not in compatible:
        raise InvalidInput(
            f"scheduler {profile.scheduler.name} does not suit this {type(diffusers_pipe).__name__} "
            f"(it ships {own}); valid for this model: {', '.join(compatible)}",
            f"profile {profile.name}: scheduler",
        )


def _fresh_scheduler(diffusers_pipe: Any, profile: Profile) -> Any:
    cls = scheduler_class(profile.scheduler.name)
    return cls.from_config(diffusers_pipe.scheduler.config, **profile.scheduler.config)


def truncation_report(diffusers_pipe: Any, text: str) -> list[dict[str, Any]]:
    """What each text encoder keeps of `text`; the pipeline itself cuts the rest off silently."""
    call_params = inspect.signature(diffusers_pipe.__call__).parameters
    seq_param = call_params.get("max_sequence_length")
    report = []
    for attr in ("tokenizer", "tokenizer_2", "tokenizer_3"):
        tokenizer = getattr(diffusers_pipe, attr, None)
        if tokenizer is None:
            continue
        limit = int(tokenizer.model_max_length)
        if (
            "T5" in type(tokenizer).__name__
            and seq_param is not None
            and isinstance(seq_param.default, int)
        ):
            limit = min(limit, seq_param.default)
        room = limit - tokenizer.num_special_tokens_to_add()
        ids = tokenizer(text, add_special_tokens=False, truncation=False, verbose=False).input_ids
        entry: dict[str, Any] = {
            "tokenizer": attr,
            "tokens": len(ids),
            "limit": room,
            "truncated": len(ids) > room,
        }
        if len(ids) > room:
            entry["kept"] = tokenizer.decode(ids[:room])
            entry["dropped"] = tokenizer.decode(ids[room:])
        report.append(entry)
    return report


class _PeakMemory:
    """CUDA peak allocated on a GPU; peak RSS (VmHWM, reset per batch where Linux allows) on CPU."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.kind = "cuda_peak_allocated" if device == "cuda" else "cpu_peak_rss"

    def reset(self) -> None:
        if self.device == "cuda":
            import torch

            torch.cuda.reset_peak_memory_stats()
            return
        # Not Linux or not allowed: VmHWM is then the process's lifetime peak.
        with contextlib.suppress(OSError):
            Path("/proc/self/clear_refs").write_text("5")

    def read(self) -> int:
        if self.device == "cuda":
            import torch

            return int(torch.cuda.max_memory_allocated())
        try:
            for line in Path("/proc/self/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
        except OSError:
            pass
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class Generator:
    """Generates images for one profile; its model is shared by every Generator in the process."""

    def __init__(
        self, profile: Profile, settings: Settings, model: LoadedModel | None = None
    ) -> None:
        self.profile = profile
        self.settings = settings
        self.model = model or load_model(profile, settings)
        self._call_params = set(inspect.signature(self.model.diffusers_pipe.__call__).parameters)

    @property
    def diffusers_pipe(self) -> Any:
        return self.model.diffusers_pipe

    def warm_up(self) -> float:
        """One short model call at the profile's resolution, so no image pays the model's first-call costs.

        A freshly loaded pipeline's first call is several times slower than the next (CUDA kernels
        loaded lazily, cuBLAS/cuDNN handles and workspaces made, the allocator's pools grown, the
        text encoder's and VAE's first runs). Metered per image, that made the first image of a
        worker's first request cost ~10x its identical siblings. The warm-up belongs with loading
        the model: the worker's fixed cost, logged, and billed to no image. Returns its seconds.
        """
        import torch

        if self.model.device == "cpu":
            torch.set_num_threads(self.profile.cpu_threads)
        diffusers_pipe = copy.copy(self.model.diffusers_pipe)
        diffusers_pipe.scheduler = _fresh_scheduler(self.model.diffusers_pipe, self.profile)
        width, height = self.profile.resolution
        started = time.perf_counter()
        with torch.inference_mode():
            diffusers_pipe(
                prompt=["warm-up"], num_inference_steps=2, guidance_scale=self.profile.guidance_scale,
                height=height, width=width, generator=[torch.Generator("cpu").manual_seed(0)], output_type="pil",
            )
        if self.model.device == "cuda":
            torch.cuda.synchronize()
        return time.perf_counter() - started

    def generate(
        self,
        prompt: str,
        negative_prompt: str | None,
        seeds: Sequence[int],
        size: tuple[int, int],
        on_step: Callable[[Progress], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> list[GeneratedImage]:
        """One image per seed at `size`, in batches of at most the profile's maximum."""
        import torch

        if not isinstance(prompt, str) or not prompt.strip():
            raise InvalidInput("the prompt is empty; describe the image", "prompt")
        if not seeds:
            raise InvalidInput("no seeds given; give one per image", "seeds")
        if len(seeds) > MAX_IMAGES_PER_CALL:
            raise InvalidInput(
                f"{len(seeds)} images in one call; give at most {MAX_IMAGES_PER_CALL}", "seeds"
            )
        for seed in seeds:
            check_seed(seed)
        output = (int(size[0]), int(size[1]))
        render = self.profile.render_size(output)
        negative = negative_prompt or None
        if negative and "negative_prompt" not in self._call_params:
            log.warning(
                "%s takes no negative prompt; %r is ignored", self.model.pipeline_class, negative
            )
        if self.model.device == "cpu":
            torch.set_num_threads(self.profile.cpu_threads)

        n = len(seeds)
        base = self._base_record(prompt, negative, render, output)
        results: dict[int, GeneratedImage] = {}
        retries: list[OomRetry] = []
        lost: dict[int, float] = {}
        batch_size = min(self.profile.max_batch_size, n)
        pending = list(range(n))
        while pending:
            if cancel is not None and cancel.is_set():
                raise GenerationCancelled(len(results), n)
            indices = tuple(pending[:batch_size])
            started = time.perf_counter()
            try:
                made = self._run_batch(
                    indices, seeds, prompt, negative, render, n, len(results), on_step, cancel
                )
            except torch.cuda.OutOfMemoryError as exc:
                message = str(exc).splitlines()[0] if str(exc) else "CUDA out of memory"
                seconds = time.perf_counter() - started
                for index in indices:
                    lost[index] = lost.get(index, 0.0) + seconds / len(indices)
                if batch_size == 1:
                    retries.append(OomRetry(indices, 1, 0, seconds, message))
                    raise GenerationFailed(
                        f"out of GPU memory even at batch size 1 ({render[0]}x{render[1]}, "
                        f"{self.model.pipeline_class} at {self.profile.dtype}, "
                        f"profile {self.profile.name!r}): {message}. Lower the resolution, "
                        "use fp16/bf16, or set offload: model in the profile",
                        retries,
                    ) from None
                retry = OomRetry(indices, batch_size, batch_size // 2, seconds, message)
                retries.append(retry)
                log.warning(
                    "out of GPU memory at batch size %d; retrying at %d",
                    batch_size,
                    batch_size // 2,
                )
                batch_size //= 2
            else:
                for position, image in enumerate(made):
                    results[indices[position]] = image
                pending = pending[len(indices) :]
            finally:
                if self.model.device == "cuda" and torch.cuda.is_available():
                    torch.cuda.empty_cache()

        return [self._finish(results[i], base, retries, lost.get(i, 0.0), output) for i in range(n)]

    def _run_batch(
        self,
        indices: tuple[int, ...],
        seeds: Sequence[int],
        prompt: str,
        negative: str | None,
        render: tuple[int, int],
        n: int,
        images_done: int,
        on_step: Callable[[Progress], None] | None,
        cancel: threading.Event | None,
    ) -> list[GeneratedImage]:
        import torch

        steps = self.profile.steps
        diffusers_pipe = copy.copy(self.model.diffusers_pipe)  # per call: schedulers keep state between steps
        diffusers_pipe.scheduler = _fresh_scheduler(self.model.diffusers_pipe, self.profile)

        def step_end(
            _pipe: Any, step: int, _timestep: Any, tensors: dict[str, Any]
        ) -> dict[str, Any]:
            if cancel is not None and cancel.is_set():
                raise GenerationCancelled(images_done, n)
            if on_step is not None:
                on_step(Progress(n, images_done, indices, step + 1, steps))
            return tensors

        batch = len(indices)
        kwargs: dict[str, Any] = {
            "prompt": [prompt] * batch,
            "num_inference_steps": steps,
            "guidance_scale": self.profile.guidance_scale,
            "height": render[1],
            "width": render[0],
            # CPU generators give the same starting noise on every device and machine.
            "generator": [torch.Generator("cpu").manual_seed(seeds[i]) for i in indices],
            "output_type": "pil",
        }
        if negative and "negative_prompt" in self._call_params:
            kwargs["negative_prompt"] = [negative] * batch
        if "callback_on_step_end" in self._call_params:
            kwargs["callback_on_step_end"] = step_end
        memory = _PeakMemory(self.model.device)
        cuda = self.model.device == "cuda"
        if cuda:
            torch.cuda.synchronize()
        memory.reset()
        started = time.perf_counter()
        with torch.inference_mode():
            output = diffusers_pipe(**kwargs)
        if cuda:
            torch.cuda.synchronize()
        wall = time.perf_counter() - started
        peak = memory.read()
        share = wall / batch
        return [
            GeneratedImage(
                image=image.convert("RGB"),
                seed=seeds[index],
                index=index,
                wall_seconds=share,
                gpu_seconds=share,
                cost_usd=0.0,
                peak_memory_bytes=peak,
                peak_memory_kind=memory.kind,
                record={"batch": {"size": batch, "position": position, "indices": list(indices)}},
            )
            for position, (index, image) in enumerate(zip(indices, output.images, strict=True))
        ]

    def _base_record(
        self, prompt: str, negative: str | None, render: tuple[int, int], output: tuple[int, int]
    ) -> dict[str, Any]:
        scheduler = _fresh_scheduler(self.model.diffusers_pipe, self.profile)
        return {
            "profile": self.profile.model_dump(mode="json"),
            "profile_hash": self.profile.content_hash(),
            "model": {
                "folder": str(self.model.folder),
                "content_hash": self.model.content_hash,
                "pipeline_class": self.model.pipeline_class,
            },
            "device": self.model.device,
            "dtype": self.profile.dtype,
            "prompt": prompt,
            "negative_prompt": negative,
            "prompt_truncation": truncation_report(self.model.diffusers_pipe, prompt),
            "negative_prompt_truncation": truncation_report(self.model.diffusers_pipe, negative)
            if negative
            else [],
            "steps": self.profile.steps,
            "guidance_scale": self.profile.guidance_scale,
            "scheduler": {"name": type(scheduler).__name__, "config": dict(scheduler.config)},
            "size": {
                "rendered": list(render),
                "output": list(output),
                "upscaled": render != output,
            },
            "cpu_threads": self.profile.cpu_threads if self.model.device == "cpu" else None,
            "versions": library_versions(),
        }

    def _finish(
        self,
        made: GeneratedImage,
        base: dict[str, Any],
        retries: list[OomRetry],
        seconds_lost: float,
        output: tuple[int, int],
    ) -> GeneratedImage:
        image = made.image
        if image.size != output:
            # Previews diffuse small and are scaled to the brief's size: text is set at full size.
            image = image.resize(output, Image.Resampling.LANCZOS)
        device_seconds = made.gpu_seconds + seconds_lost
        cost = device_seconds * self.settings.gpu_hourly_usd / 3600
        record = {
            **base,
            "seed": made.seed,
            "index": made.index,
            **made.record,
            "oom_retries": [r.to_json() for r in retries if made.index in r.indices],
            "metering": {
                "device": self.model.device,
                "basis": GPU_METERING if self.model.device == "cuda" else CPU_METERING,
                "wall_seconds": round(made.wall_seconds, 6),
                "device_seconds": round(device_seconds, 6),
                "seconds_lost_to_retries": round(seconds_lost, 6),
                "gpu_hourly_usd": self.settings.gpu_hourly_usd,
                "cost_usd": round(cost, 10),
                "peak_memory_bytes": made.peak_memory_bytes,
                "peak_memory_kind": made.peak_memory_kind,
            },
        }
        return GeneratedImage(
            image=image,
            seed=made.seed,
            index=made.index,
            wall_seconds=made.wall_seconds,
            gpu_seconds=device_seconds,
            cost_usd=cost,
            peak_memory_bytes=made.peak_memory_bytes,
            peak_memory_kind=made.peak_memory_kind,
            record=record,
        )

"""GPU benchmark: SDXL- and SD3.5-medium-shaped pipelines with random weights, timed like the real ones.

No download: each pipeline is built from its published architecture config with random
weights, so the compute (UNet/MMDiT, both CLIPs, T5-XXL, VAE decode, classifier-free
guidance) is the same as the real model's; only the pictures are noise. Needs only torch,
diffusers and transformers (the local tokenizer comes from pipeline/tiny_model.py).

Prints s/image and peak VRAM at 512² and 1024², fp16 vs fp32, batch 1/2/4, 4 vs 25 vs 30
steps, and $/image at $2.50 per GPU-hour; then an optimised SDXL run (fp16 VAE, fused QKV,
channels-last, torch.compile) against diffusers' anchor of 2.43 s (SDXL 1024², 30 steps, A100).

Each case runs twice on the same pipeline and device: raw diffusers (`pipe(...)`), then through
brandgate's `Generator` (fresh scheduler per call, per-step progress and cancel callback, CPU
seed generators, the re-make record, peak-memory reading), which is what a request pays. The
`s/image` columns are the Generator's; `raw s/img` and `ratio` (Generator / raw) show its cost.

`--device cpu` runs the same code on the CPU with the project's tiny model shape (`tiny`, the
one `brandgate models build-tiny` builds) at 64², fp32, 2 steps, so the benchmark is exercised
by the tests and cannot rot; `--models sdxl --device cpu` also works, given minutes per image.

    python benchmarks/generation_gpu.py --quick      # about 3 minutes on an H100
    python benchmarks/generation_gpu.py              # about 8 minutes; --budget-s caps it
    python benchmarks/generation_gpu.py --device cpu # seconds: the tiny shape on the CPU
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch

from brandgate.settings import Settings
from pipeline.generation import Generator, LoadedModel
from pipeline.profiles import validate_profile
from pipeline.tiny_model import build_clip_tokenizer, build_tiny_pipeline

GPU_HOURLY_USD = 2.50
PROMPT = "five red apples on a wooden table, studio light, shallow depth of field, 85mm photo"
ANCHOR_OPTIMISED_A100_S = 2.43
ANCHOR_FP32_A100_S = 7.36
DTYPES = {"fp16": torch.float16, "fp32": torch.float32}


@dataclass
class Case:
    dtype: str
    size: int
    batch: int
    steps: int
    note: str = ""


BUILD_DEVICE = "cuda"  # set from --device


@contextmanager
def on_gpu(dtype: torch.dtype) -> Iterator[None]:
    """Initialise modules straight on the GPU (random init of 5B parameters on CPU takes minutes),
    in fp32, then cast: half-precision default dtypes are not supported by torch's initialisers."""
    with torch.device(BUILD_DEVICE):
        yield


def synchronize() -> None:
    if BUILD_DEVICE == "cuda":
        torch.cuda.synchronize()


def reset_peak() -> None:
    if BUILD_DEVICE == "cuda":
        torch.cuda.reset_peak_memory_stats()


def peak_gib() -> float:
    """Peak GPU memory allocated; on the CPU the process's peak RSS."""
    if BUILD_DEVICE == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def clip_text(hidden: int, layers: int, heads: int, intermediate: int, act: str, projection: bool) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    config = CLIPTextConfig(
        vocab_size=49408,
        hidden_size=hidden,
        intermediate_size=intermediate,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        max_position_embeddings=77,
        hidden_act=act,
        projection_dim=hidden,
    )
    return (CLIPTextModelWithProjection if projection else CLIPTextModel)(config)


def sd_vae(**config: Any) -> Any:
    """The 8x VAE both SDXL and SD3 use (84M parameters); they differ in latent channels and scaling."""
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(128, 256, 512, 512),
        layers_per_block=2,
        sample_size=1024,
        **config,
    )


def build_sdxl(dtype: torch.dtype) -> Any:
    """stabilityai/stable-diffusion-xl-base-1.0's architecture (UNet 2.6B, CLIP-L + OpenCLIP bigG)."""
    from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel

    with on_gpu(dtype):
        unet = UNet2DConditionModel(
            sample_size=128,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"),
            block_out_channels=(320, 640, 1280),
            layers_per_block=2,
            transformer_layers_per_block=(1, 2, 10),
            attention_head_dim=(5, 10, 20),
            cross_attention_dim=2048,
            use_linear_projection=True,
            addition_embed_type="text_time",
            addition_time_embed_dim=256,
            projection_class_embeddings_input_dim=2816,
        )
        vae = sd_vae(latent_channels=4, scaling_factor=0.13025, force_upcast=True)
        text_encoder = clip_text(768, 12, 12, 3072, "quick_gelu", projection=False)
        text_encoder_2 = clip_text(1280, 32, 20, 5120, "gelu", projection=True)
    scheduler = EulerDiscreteScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        steps_offset=1,
        timestep_spacing="leading",
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=build_clip_tokenizer(),
        tokenizer_2=build_clip_tokenizer(),
        unet=unet,
        scheduler=scheduler,
        add_watermarker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(dtype=dtype)


def build_sd35_medium(dtype: torch.dtype) -> Any:
    """stabilityai/stable-diffusion-3.5-medium's architecture (MMDiT-X 2.5B, CLIP-L, CLIP-G, T5-XXL)."""
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        SD3Transformer2DModel,
        StableDiffusion3Pipeline,
    )
    from transformers import T5Config, T5EncoderModel

    with on_gpu(dtype):
        transformer = SD3Transformer2DModel(
            sample_size=128,
            patch_size=2,
            in_channels=16,
            out_channels=16,
            num_layers=24,
            attention_head_dim=64,
            num_attention_heads=24,
            joint_attention_dim=4096,
            caption_projection_dim=1536,
            pooled_projection_dim=2048,
            pos_embed_max_size=384,
            dual_attention_layers=tuple(range(13)),
            qk_norm="rms_norm",
        )
        vae = sd_vae(
            latent_channels=16,
            scaling_factor=1.5305,
            shift_factor=0.0609,
            use_quant_conv=False,
            use_post_quant_conv=False,
        )
        text_encoder = clip_text(768, 12, 12, 3072, "quick_gelu", projection=True)
        text_encoder_2 = clip_text(1280, 32, 20, 5120, "gelu", projection=True)
        text_encoder_3 = T5EncoderModel(
            T5Config(
                vocab_size=32128,
                d_model=4096,
                d_kv=64,
                d_ff=10240,
                num_layers=24,
                num_heads=64,
                feed_forward_proj="gated-gelu",
                relative_attention_num_buckets=32,
                relative_attention_max_distance=128,
                is_encoder_decoder=False,
                use_cache=False,
            )
        )
    pipe = StableDiffusion3Pipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=3.0),
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=build_clip_tokenizer(),
        text_encoder_2=text_encoder_2,
        tokenizer_2=build_clip_tokenizer(),
        text_encoder_3=text_encoder_3,
        # Pads to the pipeline's 256 T5 tokens like the real SentencePiece tokenizer does.
        tokenizer_3=build_clip_tokenizer(max_length=256),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(dtype=dtype)


def build_tiny(dtype: torch.dtype) -> Any:
    """The project's offline tiny model (SD 1.x layout at toy width), random weights."""
    pipe = build_tiny_pipeline()
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device=BUILD_DEVICE, dtype=dtype)


MODELS: dict[str, tuple[str, Callable[[torch.dtype], Any], float]] = {
    "sdxl": ("SDXL base 1.0 shape", build_sdxl, 7.0),
    "sd35m": ("SD3.5 medium shape", build_sd35_medium, 4.5),
    "tiny": ("tiny-sd shape", build_tiny, 5.0),
}


def project_generator(pipe: Any, name: str, dtype: str, case: Case, guidance: float) -> Generator:
    """brandgate's Generator over the pipeline already built, under a profile for this case."""
    profile = validate_profile(
        {
            "name": f"bench-{name}",
            "model": "random-weights-in-memory",
            "device": BUILD_DEVICE,
            "dtype": dtype,
            "scheduler": {"name": type(pipe.scheduler).__name__},
            "steps": case.steps,
            "max_steps": max(case.steps, 30),
            "guidance_scale": guidance,
            "resolution": [case.size, case.size],
            "max_batch_size": case.batch,
            "cpu_threads": torch.get_num_threads(),
        },
        "benchmark profile",
    )
    model = LoadedModel(pipe, Path("random-weights-in-memory"), "0" * 64, dtype, BUILD_DEVICE, 0.0)
    return Generator(profile, Settings(), model)


def run_generator(generator: Generator, case: Case) -> float:
    started = time.perf_counter()
    generator.generate(PROMPT, None, list(range(case.batch)), (case.size, case.size))
    return time.perf_counter() - started


def run_once(pipe: Any, case: Case, guidance: float, steps: int | None = None) -> float:
    generators = [torch.Generator("cpu").manual_seed(i) for i in range(case.batch)]
    synchronize()
    started = time.perf_counter()
    with torch.inference_mode():
        pipe(
            prompt=[PROMPT] * case.batch,
            num_inference_steps=steps or case.steps,
            guidance_scale=guidance,
            height=case.size,
            width=case.size,
            generator=generators,
            output_type="pil",
        )
    synchronize()
    return time.perf_counter() - started


def measure(pipe: Any, case: Case, guidance: float, max_reps: int) -> tuple[float, float]:
    """(seconds per batch, peak GiB): warm-up at 2 steps (kernels, autotuning), then timed runs."""
    run_once(pipe, case, guidance, steps=2)
    reset_peak()
    times = [run_once(pipe, case, guidance)]
    while len(times) < max_reps and times[0] < 6.0:
        times.append(run_once(pipe, case, guidance))
    return statistics.median(times), peak_gib()


def measure_both(
    pipe: Any, name: str, case: Case, guidance: float, max_reps: int
) -> tuple[float, float, float]:
    """(Generator s/batch, raw diffusers s/batch, peak GiB of the Generator's runs), warm both first."""
    raw, _ = measure(pipe, case, guidance, max_reps)
    generator = project_generator(pipe, name, case.dtype, case, guidance)
    run_generator(generator, Case(case.dtype, case.size, case.batch, case.steps))  # warm: record, tokenizer
    reset_peak()
    times = [run_generator(generator, case)]
    while len(times) < max_reps and times[0] < 6.0:
        times.append(run_generator(generator, case))
    return statistics.median(times), raw, peak_gib()


def row(
    model: str, case: Case, per_batch: float | None, peak: float | None, note: str = "", raw: float | None = None
) -> str:
    if per_batch is None or peak is None:
        figures = f"{'—':>8}  {'—':>8}  {'—':>9}  {'—':>9}  {'—':>9}  {'—':>5}"
    else:
        per_image = per_batch / case.batch
        raw_image = f"{raw / case.batch:>9.3f}" if raw else f"{'—':>9}"
        ratio = f"{per_batch / raw:>5.2f}" if raw else f"{'—':>5}"
        figures = (
            f"{per_image:>8.3f}  {per_batch:>8.3f}  {peak:>9.1f}  {per_image * GPU_HOURLY_USD / 3600:>9.5f}  "
            f"{raw_image}  {ratio}"
        )
    return (
        f"{model:<20} {case.dtype:<5} {case.size:>4}²  {case.batch:>5}  {case.steps:>5}  {figures}  {note or case.note}"
    )


def free(pipe: Any) -> None:
    del pipe
    gc.collect()
    if BUILD_DEVICE == "cuda":
        torch.cuda.empty_cache()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fp16 and fp32 at batch 1 only, no compile")
    parser.add_argument("--models", default="sdxl,sd35m", help="comma list of: " + ", ".join(MODELS))
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile SDXL run")
    parser.add_argument("--compile-mode", default="default", help="torch.compile mode for the optimised run")
    parser.add_argument("--budget-s", type=float, default=None, help="stop starting new runs after this")
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda",
                        help="cpu: the smallest shape only (default model: tiny), fp32")  # fmt: skip
    parser.add_argument("--cpu-threads", type=int, default=None,
                        help="torch threads; 1 on a shared, busy machine (spinning threads cost 10-20x)")  # fmt: skip
    args = parser.parse_args()
    if args.cpu_threads is not None:
        torch.set_num_threads(args.cpu_threads)
    global BUILD_DEVICE
    BUILD_DEVICE = args.device
    on_cpu = args.device == "cpu"
    if not on_cpu and not torch.cuda.is_available():
        print("no CUDA GPU here: this benchmark needs one, or run its smallest shape with --device cpu")
        sys.exit(1)
    if on_cpu and args.models == parser.get_default("models"):
        args.models = "tiny"
    budget = args.budget_s if args.budget_s is not None else (240.0 if args.quick else 450.0)
    reps = 3 if on_cpu else 1 if args.quick else 2
    chosen = [m.strip() for m in args.models.split(",") if m.strip()]
    for name in chosen:
        if name not in MODELS:
            parser.error(f"unknown model {name!r}; choose from {', '.join(MODELS)}")

    import diffusers
    import transformers

    began = time.perf_counter()
    if on_cpu:
        import os

        device_name = f"CPU ({os.cpu_count()} cores, {torch.get_num_threads()} torch threads)"
        print(f"{device_name}; torch {torch.__version__}, diffusers {diffusers.__version__}, "
              f"transformers {transformers.__version__}; peak GiB is the process's peak RSS")  # fmt: skip
    else:
        props = torch.cuda.get_device_properties(0)
        device_name = props.name
        print(
            f"GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB; torch {torch.__version__} "
            f"(CUDA {torch.version.cuda}), diffusers {diffusers.__version__}, transformers {transformers.__version__}"
        )
        print(
            f"fp32 matmul TF32: {torch.backends.cuda.matmul.allow_tf32}; attention: PyTorch SDPA (diffusers default)"
        )
    print(
        f"random weights, same architecture and compute as the real models; prompt padded to full length; "
        f"$/image at ${GPU_HOURLY_USD:.2f}/GPU-hour; time budget {budget:.0f} s"
    )
    print()
    header = (
        f"{'model':<20} {'dtype':<5} {'size':>5}  {'batch':>5}  {'steps':>5}  {'s/image':>8}  "
        f"{'s/batch':>8}  {'peak GiB':>9}  {'$/image':>9}  {'raw s/img':>9}  {'ratio':>5}  note"
    )
    print(header)
    print("-" * len(header))
    anchor: dict[str, float] = {}
    ratios: list[float] = []

    for name in chosen:
        label, build, guidance = MODELS[name]
        fp16_cases = [Case("fp16", 1024, 1, 30), Case("fp16", 512, 1, 30), Case("fp16", 1024, 1, 4)]
        if on_cpu:  # the smallest shape only; half precision is a GPU matter
            fp16_cases = []
        elif not args.quick:
            fp16_cases += [
                Case("fp16", 1024, 1, 25),
                Case("fp16", 1024, 2, 30),
                Case("fp16", 1024, 4, 30),
                Case("fp16", 512, 4, 30),
            ]
        fp32_cases = [Case("fp32", 1024, 1, 30)] + ([] if args.quick else [Case("fp32", 512, 1, 30)])
        if on_cpu:
            fp32_cases = [Case("fp32", 64, 1, 2) if name == "tiny" else Case("fp32", 512, 1, 4)]
        for dtype, cases in (("fp16", fp16_cases), ("fp32", fp32_cases)):
            if not cases:
                continue
            if time.perf_counter() - began > budget:
                for case in cases:
                    print(row(label, case, None, None, "skipped: time budget"), flush=True)
                continue
            started = time.perf_counter()
            pipe = build(DTYPES[dtype])
            print(f"# built {label} in {dtype} in {time.perf_counter() - started:.1f} s", flush=True)
            for case in cases:
                if time.perf_counter() - began > budget:
                    print(row(label, case, None, None, "skipped: time budget"), flush=True)
                    continue
                try:
                    per_batch, raw, peak = measure_both(pipe, name, case, guidance, reps)
                except torch.cuda.OutOfMemoryError:
                    torch.cuda.empty_cache()
                    print(row(label, case, None, None, "out of GPU memory"), flush=True)
                    continue
                # the anchors are raw diffusers figures: compare like with like
                anchor[f"{name}:{case.dtype}:{case.size}:{case.batch}:{case.steps}"] = raw / case.batch
                ratios.append(per_batch / raw)
                print(row(label, case, per_batch, peak, raw=raw), flush=True)
            if name == "sdxl" and dtype == "fp16" and not args.quick and not args.no_compile:
                optimised_run(pipe, label, guidance, reps, args.compile_mode, began, budget, anchor)
            free(pipe)
            pipe = None

    print()
    if ratios:
        print(f"brandgate Generator / raw diffusers on {device_name}, same pipeline and cases: "
              f"median {statistics.median(ratios):.2f}x, worst {max(ratios):.2f}x "
              f"over {len(ratios)} case(s)")  # fmt: skip
    base = anchor.get("sdxl:fp16:1024:1:30")
    best = anchor.get("sdxl:optimised")
    fp32 = anchor.get("sdxl:fp32:1024:1:30")
    if base is not None:
        print(
            f"SDXL 1024², 30 steps, batch 1 on {device_name}, raw diffusers: fp16 {base:.2f} s"
            + (f", optimised {best:.2f} s" if best is not None else "")
            + (f", fp32 {fp32:.2f} s" if fp32 is not None else "")
            + f"  (anchor, A100: fp32 {ANCHOR_FP32_A100_S} s, optimised {ANCHOR_OPTIMISED_A100_S} s)"
        )
        fastest = min(v for v in (base, best) if v is not None)
        print(f"fastest SDXL 1024² here {fastest:.2f} s/image, ${fastest * GPU_HOURLY_USD / 3600:.5f}/image")
        print(anchor_comparison(device_name, fastest))
    print(f"total benchmark time {time.perf_counter() - began:.0f} s")


def anchor_comparison(device_name: str, fastest_s: float) -> str:
    """The anchor is an A100 figure: a verdict against it only on an A100, otherwise it is shown as a
    reference and no card is said to beat or miss it."""
    if "A100" in device_name.upper():
        verdict = "beats" if fastest_s < ANCHOR_OPTIMISED_A100_S else "does not beat"
        return f"on the anchor's card (A100): {fastest_s:.2f} s/image {verdict} the {ANCHOR_OPTIMISED_A100_S} s anchor"
    return (
        f"reference only, not compared: the {ANCHOR_OPTIMISED_A100_S} s anchor was measured on an A100, "
        f"this run on {device_name}"
    )


def optimised_run(
    pipe: Any,
    label: str,
    guidance: float,
    reps: int,
    mode: str,
    began: float,
    budget: float,
    anchor: dict[str, float],
) -> None:
    """fp16 VAE (as with the fp16-fixed SDXL VAE), fused QKV, channels-last, compiled UNet and VAE decoder."""
    case = Case("fp16", 1024, 1, 30, f"optimised (raw diffusers): fp16 VAE, fused QKV, channels-last, compile ({mode})")
    if time.perf_counter() - began > budget:
        print(row(label, case, None, None, "optimised: skipped: time budget"), flush=True)
        return
    import torch._inductor.config as inductor

    inductor.conv_1x1_as_mm = True
    inductor.epilogue_fusion = False
    pipe.vae.register_to_config(force_upcast=False)
    pipe.fuse_qkv_projections()
    pipe.unet.to(memory_format=torch.channels_last)
    pipe.vae.to(memory_format=torch.channels_last)
    pipe.unet = torch.compile(pipe.unet, mode=mode, fullgraph=True)
    pipe.vae.decode = torch.compile(pipe.vae.decode, mode=mode, fullgraph=True)
    started = time.perf_counter()
    try:
        run_once(pipe, case, guidance, steps=2)  # compiles
    except Exception as exc:  # a compiler failure must not lose the figures already printed
        print(row(label, case, None, None, f"optimised: compile failed: {type(exc).__name__}: {exc}"[:300]))
        return
    compile_s = time.perf_counter() - started
    per_batch, peak = measure(pipe, case, guidance, max(reps, 2))
    anchor["sdxl:optimised"] = per_batch
    print(row(label, case, per_batch, peak, f"{case.note}; compile took {compile_s:.0f} s"), flush=True)


if __name__ == "__main__":
    main()

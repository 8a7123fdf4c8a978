"""The diffusers backend on the tiny model: loading, seeds, batches, OOM, cost, cancel."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from diffusers import DiffusionPipeline

from brandgate.settings import Settings
from pipeline.generation import (
    CPU_METERING,
    MAX_SEED,
    GenerationCancelled,
    GenerationFailed,
    Generator,
    Progress,
    derive_seeds,
    load_model,
)
from pipeline.profiles import Profile, load_profile
from policies.errors import InvalidInput
from tests.pipeline.generation_world import ROOT, write_profile

PROMPT = "five red apples on a wooden table, studio light"


def pixels_sha256(image) -> str:
    return hashlib.sha256(image.tobytes()).hexdigest()


def test_tiny_model_is_a_standard_small_diffusers_folder(tiny_model: tuple[Path, str]) -> None:
    folder = tiny_model[0] / "tiny-sd"
    size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
    assert size < 20 * 2**20
    pipe = DiffusionPipeline.from_pretrained(folder, local_files_only=True)
    assert type(pipe).__name__ == "StableDiffusionPipeline"
    assert pipe.vae_scale_factor == 8
    assert pipe.tokenizer.model_max_length == 77


def test_tiny_model_build_is_deterministic(tiny_model: tuple[Path, str], tmp_path: Path) -> None:
    from pipeline.tiny_model import build_tiny_model

    _, again = build_tiny_model(tmp_path)
    assert again == tiny_model[1]


def test_missing_model_folder_says_how_to_build_it(gen_settings: Settings) -> None:
    profile = load_profile(str(write_profile(gen_settings, model="tiny-sd-missing")), gen_settings)
    with pytest.raises(InvalidInput, match="does not exist"):
        load_model(profile, gen_settings)
    profile = load_profile(
        str(write_profile(gen_settings, model=str(gen_settings.models_dir / "no" / "tiny-sd"))),
        gen_settings,
    )
    with pytest.raises(InvalidInput, match="build it with `brandgate models build-tiny`"):
        load_model(profile, gen_settings)


def test_folder_that_is_not_a_pipeline_is_refused(gen_settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    (empty / "weights.bin").write_bytes(b"\0" * 16)
    profile = load_profile(str(write_profile(gen_settings, model=str(empty))), gen_settings)
    with pytest.raises(InvalidInput, match=r"not a diffusers pipeline folder \(no model_index\.json\)"):
        load_model(profile, gen_settings)
    (empty / "model_index.json").write_text("{not json")
    with pytest.raises(InvalidInput, match="could not be loaded as a diffusers pipeline"):
        load_model(profile, gen_settings)


def test_revision_pin_is_enforced(gen_settings: Settings, tiny_model: tuple[Path, str]) -> None:
    pinned = load_profile(str(write_profile(gen_settings, revision=tiny_model[1][:16])), gen_settings)
    assert load_model(pinned, gen_settings).content_hash == tiny_model[1]
    wrong = load_profile(str(write_profile(gen_settings, revision="0" * 64)), gen_settings)
    with pytest.raises(InvalidInput, match="the model changed"):
        load_model(wrong, gen_settings)


def test_scheduler_that_does_not_suit_the_model_is_refused(gen_settings: Settings) -> None:
    profile = load_profile(
        str(write_profile(gen_settings, name="flow", scheduler={"name": "FlowMatchEulerDiscreteScheduler"})),
        gen_settings,
    )
    with pytest.raises(InvalidInput, match=r"does not suit this StableDiffusionPipeline.*EulerDiscreteScheduler"):
        load_model(profile, gen_settings)


def test_model_is_loaded_once_and_shared(fast_profile: Profile, gen_settings: Settings) -> None:
    first = Generator(fast_profile, gen_settings)
    second = Generator(fast_profile.with_steps(3), gen_settings)
    assert first.diffusers_pipe is second.diffusers_pipe


def test_scheduler_is_swapped_by_name(gen_settings: Settings) -> None:
    profile = load_profile(
        str(
            write_profile(
                gen_settings,
                name="dpm",
                scheduler={
                    "name": "DPMSolverMultistepScheduler",
                    "config": {"timestep_spacing": "leading"},
                },
            )
        ),
        gen_settings,
    )
    [made] = Generator(profile, gen_settings).generate(PROMPT, None, [1], (64, 64))
    assert made.record["scheduler"]["name"] == "DPMSolverMultistepScheduler"
    assert made.record["scheduler"]["config"]["timestep_spacing"] == "leading"


def test_derive_seeds_is_stable_distinct_and_in_range() -> None:
    seeds = derive_seeds(1234, 8)
    assert seeds == derive_seeds(1234, 8)
    assert seeds[:3] == derive_seeds(1234, 3)
    assert len(set(seeds)) == 8
    assert all(0 <= s <= MAX_SEED for s in seeds)
    assert derive_seeds(1235, 8) != seeds


@pytest.mark.parametrize("bad, words", [(-1, "is negative"), (2**64, "is larger than"), ("7", "not a whole number")])
def test_bad_seeds_are_refused(bad: object, words: str) -> None:
    with pytest.raises(InvalidInput, match=words):
        derive_seeds(bad, 2)  # type: ignore[arg-type]


def test_generate_returns_seeded_images_with_cost_and_remake_record(
    fast_profile: Profile, gen_settings: Settings, tiny_model: tuple[Path, str]
) -> None:
    seeds = derive_seeds(42, 3)
    images = Generator(fast_profile, gen_settings).generate(PROMPT, "blurry", seeds, (64, 64))
    assert [m.index for m in images] == [0, 1, 2]
    assert [m.seed for m in images] == seeds
    for made in images:
        assert made.image.size == (64, 64) and made.image.mode == "RGB"
        assert made.wall_seconds > 0
        # settings price 3.6 $/h = 0.001 $/s
        assert made.cost_usd == pytest.approx(made.gpu_seconds * 3.6 / 3600)
        assert made.peak_memory_kind == "cpu_peak_rss" and made.peak_memory_bytes > 50 * 2**20
        record = made.record
        assert record["seed"] == made.seed
        assert record["model"]["content_hash"] == tiny_model[1]
        assert record["profile"] == fast_profile.model_dump(mode="json")
        assert record["profile_hash"] == fast_profile.content_hash()
        assert {"torch", "diffusers", "transformers", "python"} <= set(record["versions"])
        assert record["metering"]["basis"] == CPU_METERING
        assert record["negative_prompt"] == "blurry"
        json.dumps(made.to_json())  # the record is plain JSON
    assert len({pixels_sha256(m.image) for m in images}) == 3


def test_batches_are_split_to_the_profile_maximum(fast_profile: Profile, gen_settings: Settings) -> None:
    progress: list[Progress] = []
    images = Generator(fast_profile, gen_settings).generate(
        PROMPT, None, derive_seeds(7, 5), (64, 64), on_step=progress.append
    )
    assert [m.record["batch"]["size"] for m in images] == [2, 2, 2, 2, 1]
    assert [m.record["batch"]["indices"] for m in images][::2] == [[0, 1], [2, 3], [4]]
    assert len(progress) == 3 * fast_profile.steps
    assert [p.step for p in progress[: fast_profile.steps]] == list(range(1, fast_profile.steps + 1))
    assert [p.image_index for p in progress[:: fast_profile.steps]] == [1, 3, 5]
    assert progress[-1].fraction == pytest.approx(1.0)


def test_same_seed_same_pixels_in_process(fast_profile: Profile, gen_settings: Settings) -> None:
    generator = Generator(fast_profile, gen_settings)
    first = generator.generate(PROMPT, None, [99, 100], (64, 64))
    again = generator.generate(PROMPT, None, [99, 100], (64, 64))
    assert [pixels_sha256(m.image) for m in first] == [pixels_sha256(m.image) for m in again]


REMAKE = """
import hashlib, sys
from pathlib import Path
from brandgate.settings import Settings
from pipeline.generation import Generator
from pipeline.profiles import load_profile
settings = Settings(models_dir=Path(sys.argv[1]), profiles_dir=Path(sys.argv[2]))
profile = load_profile("fast", settings)
for made in Generator(profile, settings).generate(sys.argv[3], None, [11, 12], (64, 64)):
    print(hashlib.sha256(made.image.tobytes()).hexdigest())
"""


def test_bit_identical_pixels_across_processes(fast_profile: Profile, gen_settings: Settings) -> None:
    args = [
        sys.executable,
        "-c",
        REMAKE,
        str(gen_settings.models_dir),
        str(gen_settings.profiles_dir),
        PROMPT,
    ]
    runs = [
        subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outputs = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err[-2000:]
        outputs.append(out.split())
    here = [
        pixels_sha256(m.image) for m in Generator(fast_profile, gen_settings).generate(PROMPT, None, [11, 12], (64, 64))
    ]
    assert outputs[0] == outputs[1] == here
    assert len(set(here)) == 2


class _GpuLimit:
    """A forward pre-hook on the real UNet raising torch's own CUDA OOM error above a batch size."""

    def __init__(self, max_samples: int) -> None:
        self.max_samples = max_samples
        self.seen: list[int] = []

    def __call__(self, _module, args, kwargs):
        sample = args[0] if args else kwargs["sample"]
        self.seen.append(sample.shape[0])
        if sample.shape[0] > self.max_samples:
            raise torch.cuda.OutOfMemoryError(
                f"CUDA out of memory. Tried to allocate 2.00 GiB (batch of {sample.shape[0]} latents)"
            )


def test_out_of_memory_halves_the_batch_and_records_each_retry(gen_settings: Settings) -> None:
    profile = load_profile(str(write_profile(gen_settings, max_batch_size=4)), gen_settings)
    generator = Generator(profile, gen_settings)
    limit = _GpuLimit(max_samples=2)  # classifier-free guidance doubles: only batch size 1 fits
    handle = generator.diffusers_pipe.unet.register_forward_pre_hook(limit, with_kwargs=True)
    try:
        images = generator.generate(PROMPT, None, derive_seeds(3, 4), (64, 64))
    finally:
        handle.remove()
    assert [m.record["batch"]["size"] for m in images] == [1, 1, 1, 1]
    retries = images[0].record["oom_retries"]
    assert [(r["batch_size"], r["next_batch_size"]) for r in retries] == [(4, 2), (2, 1)]
    assert "CUDA out of memory" in retries[0]["message"]
    assert images[3].record["oom_retries"][0]["indices"] == [0, 1, 2, 3]
    # time lost in failed attempts is charged to the images that were in them
    assert images[0].record["metering"]["seconds_lost_to_retries"] > 0
    assert images[0].gpu_seconds > images[0].wall_seconds
    # retried images are the same pixels as a run that never batched
    single = load_profile(str(write_profile(gen_settings, name="single", max_batch_size=1)), gen_settings)
    plain = Generator(single, gen_settings).generate(PROMPT, None, derive_seeds(3, 4), (64, 64))
    assert [pixels_sha256(m.image) for m in plain] == [pixels_sha256(m.image) for m in images]


def test_out_of_memory_at_batch_size_one_fails_clearly(gen_settings: Settings) -> None:
    profile = load_profile(str(write_profile(gen_settings, max_batch_size=2)), gen_settings)
    generator = Generator(profile, gen_settings)
    handle = generator.diffusers_pipe.unet.register_forward_pre_hook(_GpuLimit(max_samples=0), with_kwargs=True)
    try:
        with pytest.raises(GenerationFailed) as caught:
            generator.generate(PROMPT, None, [1, 2], (64, 64))
    finally:
        handle.remove()
    assert "out of GPU memory even at batch size 1" in str(caught.value)
    assert "offload" in str(caught.value)
    assert [(r.batch_size, r.next_batch_size) for r in caught.value.retries] == [(2, 1), (1, 0)]


def test_cancel_stops_at_the_next_step(fast_profile: Profile, gen_settings: Settings) -> None:
    cancel = threading.Event()
    steps: list[int] = []

    def on_step(progress: Progress) -> None:
        steps.append(progress.step)
        if progress.step == 2:
            cancel.set()

    with pytest.raises(GenerationCancelled, match="cancelled after 0 of 4"):
        Generator(fast_profile, gen_settings).generate(PROMPT, None, [1, 2, 3, 4], (64, 64), on_step, cancel)
    assert steps == [1, 2]


def test_cancel_before_start_generates_nothing(fast_profile: Profile, gen_settings: Settings) -> None:
    cancel = threading.Event()
    cancel.set()
    steps: list[Progress] = []
    with pytest.raises(GenerationCancelled):
        Generator(fast_profile, gen_settings).generate(PROMPT, None, [1], (64, 64), steps.append, cancel)
    assert steps == []


def test_long_prompt_is_truncated_and_the_truncation_recorded(fast_profile: Profile, gen_settings: Settings) -> None:
    long_prompt = " ".join(["ripe red apples in morning light"] * 5)
    generator = Generator(fast_profile, gen_settings)
    [made] = generator.generate(long_prompt, None, [5], (64, 64))
    [entry] = made.record["prompt_truncation"]
    assert entry["truncated"] is True and entry["limit"] == 75 and entry["tokens"] > 75
    assert long_prompt.replace(" ", "").startswith(entry["kept"].replace(" ", ""))
    assert entry["dropped"]
    [short] = generator.generate(PROMPT, None, [5], (64, 64))
    assert short.record["prompt_truncation"][0]["truncated"] is False


def test_preview_is_scaled_up_to_the_asked_size(fast_profile: Profile, gen_settings: Settings) -> None:
    [made] = Generator(fast_profile, gen_settings).generate(PROMPT, None, [5], (128, 96))
    assert made.image.size == (128, 96)
    assert made.record["size"] == {"rendered": [80, 64], "output": [128, 96], "upscaled": True}


def test_bad_generation_input_is_refused(fast_profile: Profile, gen_settings: Settings) -> None:
    generator = Generator(fast_profile, gen_settings)
    with pytest.raises(InvalidInput, match="not a multiple of 8"):
        generator.generate(PROMPT, None, [1], (100, 64))
    with pytest.raises(InvalidInput, match="prompt is empty"):
        generator.generate("  ", None, [1], (64, 64))
    with pytest.raises(InvalidInput, match="is negative"):
        generator.generate(PROMPT, None, [1, -5], (64, 64))

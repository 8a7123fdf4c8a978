"""A small random-weight Stable-Diffusion-shaped pipeline, built offline for tests and the default.

Imports only torch, diffusers and transformers (no settings) so benchmarks on a bare GPU
machine can reuse the local tokenizer builder.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

TINY_MODEL_NAME = "tiny-sd"
INIT_SEED = 20_241_123
BOS, EOS = "<|startoftext|>", "<|endoftext|>"
MAX_TOKENS = 77


def byte_level_vocab() -> dict[str, int]:
    """Every byte as a character token, alone and word-final, then the two CLIP specials.

    With no merges each character is one token: a real BPE vocabulary needs a download, and
    a character-level one still exercises the text encoder's 77-token limit honestly.
    """
    from tokenizers import pre_tokenizers

    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = alphabet + [f"{ch}</w>" for ch in alphabet] + [BOS, EOS]
    return {token: index for index, token in enumerate(tokens)}


def build_clip_tokenizer(max_length: int = MAX_TOKENS) -> Any:
    from transformers import CLIPTokenizer

    return CLIPTokenizer(vocab=byte_level_vocab(), merges=[], model_max_length=max_length)


def build_tiny_pipeline(seed: int = INIT_SEED) -> Any:
    """SD 1.x layout at toy width: CLIP text encoder, 2-level UNet, VAE downsampling 8x."""
    import torch
    from diffusers import (
        AutoencoderKL,
        EulerDiscreteScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    tokenizer = build_clip_tokenizer()
    vocab = tokenizer.get_vocab()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=len(vocab),
                hidden_size=32,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                max_position_embeddings=MAX_TOKENS,
                projection_dim=32,
                bos_token_id=vocab[BOS],
                eos_token_id=vocab[EOS],
                pad_token_id=vocab[EOS],
            )
        )
        unet = UNet2DConditionModel(  # type: ignore[no-untyped-call]
            sample_size=32,
            in_channels=4,
            out_channels=4,
            block_out_channels=(32, 64),
            layers_per_block=1,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            cross_attention_dim=32,
            attention_head_dim=8,
            norm_num_groups=32,
        )
        vae = AutoencoderKL(  # type: ignore[no-untyped-call]
            in_channels=3,
            out_channels=3,
            block_out_channels=(32, 32, 64, 64),
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=16,
            sample_size=256,
        )
    scheduler = EulerDiscreteScheduler(  # type: ignore[no-untyped-call]
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        timestep_spacing="trailing",
        steps_offset=1,
    )
    return StableDiffusionPipeline(  # type: ignore[no-untyped-call]
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer,
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )


def folder_hash(root: Path) -> str:
    """sha256 over every file (relative path and content), sorted: the model folder's revision."""
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        file_digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                file_digest.update(chunk)
        digest.update(file_digest.digest())
    return digest.hexdigest()


def build_tiny_model(
    models_dir: Path, name: str = TINY_MODEL_NAME, force: bool = False
) -> tuple[Path, str]:
    """Write the tiny pipeline to models_dir/name and return (folder, content hash).

    Written to a temporary folder beside the target and renamed: no reader sees half a model.
    """
    target = models_dir / name
    if target.exists() and not force:
        raise FileExistsError(f"{target} already exists; pass force to rebuild it")
    models_dir.mkdir(parents=True, exist_ok=True)
    diffusers_pipe = build_tiny_pipeline()
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=models_dir))
    try:
        diffusers_pipe.save_pretrained(staging, safe_serialization=True)
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target, folder_hash(target)

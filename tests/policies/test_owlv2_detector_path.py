"""BG401 with a configured OWLv2 detector folder counts on a photograph, end to end through the CLI.

The folder holds a tiny OWLv2 with random weights, built offline here from a transformers config
(no download): what it finds is arbitrary, so the test asserts the path, not the count: the
folder is loaded from the kit's `detector:` option, each object is asked for, and the photograph
gets a count (pass or fail with the detector's evidence), never "unverified: no detector".
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PHOTOS = ROOT / "tests" / "fixtures" / "photos"


def _tiny_owlv2(folder: Path) -> None:
    import torch
    from transformers import CLIPTokenizer, Owlv2Config, Owlv2ForObjectDetection, Owlv2ImageProcessor, Owlv2Processor

    vocab = {"<|endoftext|>": 0, "<|startoftext|>": 1}
    for ch in "abcdefghijklmnopqrstuvwxyz":
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    small = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    config = Owlv2Config(
        text_config={
            **small,
            "vocab_size": len(vocab),
            "max_position_embeddings": 32,
            "bos_token_id": 1,
            "eos_token_id": 0,
            "pad_token_id": 0,
        },
        vision_config={**small, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    torch.manual_seed(0)
    Owlv2ForObjectDetection(config).save_pretrained(folder)
    image_processor = Owlv2ImageProcessor(size={"height": 32, "width": 32})
    Owlv2Processor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)


@pytest.mark.parametrize("threshold", [0.0, 1.01])
def test_bg401_counts_on_a_photograph_with_a_configured_owlv2_folder(tmp_path: Path, threshold: float) -> None:
    import shutil

    detector = tmp_path / "owlv2"
    detector.mkdir()
    _tiny_owlv2(detector)
    kit = tmp_path / "acme"
    shutil.copytree(ROOT / "brand_kits" / "acme", kit)
    others = ("BG101", "BG102", "BG103", "BG104", "BG201", "BG202", "BG301", "BG302", "BG303", "BG402", "BG501",
              "BG502", "BG601", "BG602", "BG603")  # fmt: skip
    (kit / "policy.yaml").write_text(
        "".join(f"{i}: {{enabled: false}}\n" for i in others)
        + f"BG401: {{detector: {detector}, detector_threshold: {threshold}}}\n"
    )
    brief = tmp_path / "brief.yaml"
    brief.write_text('kit: acme\nprompt: "a couple and their dog on a path"\ncounts: {cup: 2, dog: 1}\nstyle: photo\n')
    done = subprocess.run(
        [sys.executable, "-m", "brandgate", "check", str(PHOTOS / "couple-and-dog.jpg"), "--kit", str(kit),
         "--brief", str(brief), "--json"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode in (0, 3), done.stderr
    [bg401] = json.loads(done.stdout)["results"][0]["checks"]
    assert bg401["id"] == "BG401" and bg401["status"] in ("pass", "fail"), bg401
    evidence = bg401["evidence"]
    assert evidence["method"] == "detector" and evidence["detector"] == str(detector)
    assert evidence["wanted"] == {"cup": 2, "dog": 1}
    assert set(evidence["counted"]) == {"cup", "dog"}
    if threshold > 1:  # no score reaches it: nothing is counted, and the counts are wrong
        assert evidence["counted"] == {"cup": 0, "dog": 0} and bg401["status"] == "fail"
    else:  # every box of the 4×4 grid scores at least 0: some are counted, after suppression
        assert sum(evidence["counted"].values()) > 0

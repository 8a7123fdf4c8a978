"""BG402 anatomy: exact statuses with no detector and with a tiny detector whose outputs are known."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from benchmarks.evalset import kit
from policies.brief import Brief
from policies.checks import bg401_object_counts, bg402_anatomy
from policies.creative import Creative
from policies.engine import CheckSpec, run_checks

RED, GREEN, GREY = (255, 0, 0), (0, 255, 0), (128, 128, 128)


@pytest.fixture(autouse=True)
def _no_detector_from_env(monkeypatch):
    monkeypatch.delenv(bg402_anatomy.DETECTOR_ENV, raising=False)
    monkeypatch.delenv(bg402_anatomy.FALLBACK_DETECTOR_ENV, raising=False)


def _designed_owlvit(folder: Path) -> None:
    """A tiny OWL-ViT whose weights are set by hand so that its detections are known.

    Its transformer layers pass the residual stream through unchanged, "hand" and "person" are
    single tokens whose embeddings point along axes 0 and 1, and each 8×8 patch embeds as its
    mean red and green on those axes. So a red patch is a hand (score ≈ 0.99), a green patch is
    a person (≈ 0.99) and a grey one neither (< 0.1); each patch of the 4×4 grid is one box.
    """
    import torch
    from transformers import (
        CLIPTokenizer,
        OwlViTConfig,
        OwlViTForObjectDetection,
        OwlViTImageProcessor,
        OwlViTProcessor,
    )

    # OWL-ViT masks a query whose first token id is 0, so <|startoftext|> must not be 0.
    vocab = {"<|endoftext|>": 0, "<|startoftext|>": 1}
    for ch in "abcdefghijklmnopqrstuvwxyz":
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    merges = []
    for word in ("hand", "person"):
        pieces = word[0]
        for i, ch in enumerate(word[1:], 1):
            piece = ch + ("</w>" if i == len(word) - 1 else "")
            merges.append(f"{pieces} {piece}")
            pieces += piece
            vocab.setdefault(pieces, len(vocab))
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    image_processor = OwlViTImageProcessor(size={"height": 32, "width": 32}, crop_size={"height": 32, "width": 32})
    small = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2}
    config = OwlViTConfig(
        text_config={**small, "vocab_size": len(vocab), "max_position_embeddings": 32},
        vision_config={**small, "image_size": 32, "patch_size": 8},
        projection_dim=16,
    )
    model = OwlViTForObjectDetection(config)
    eye = torch.eye(16)
    with torch.no_grad():
        for encoder in (model.owlvit.text_model.encoder, model.owlvit.vision_model.encoder):
            for layer in encoder.layers:
                for linear in (layer.self_attn.out_proj, layer.mlp.fc2):
                    linear.weight.zero_()
                    linear.bias.zero_()
        text = model.owlvit.text_model.embeddings
        text.position_embedding.weight.zero_()
        text.token_embedding.weight.zero_()
        # The query is pooled at its highest token id: the word itself.
        text.token_embedding.weight[vocab["hand</w>"], 0] = 1.0
        text.token_embedding.weight[vocab["person</w>"], 1] = 1.0
        model.owlvit.text_projection.weight.copy_(eye)
        vision = model.owlvit.vision_model.embeddings
        vision.position_embedding.weight.zero_()
        vision.class_embedding.copy_(torch.tensor([1.0] * 8 + [-1.0] * 8))
        vision.patch_embedding.weight.zero_()
        for channel in range(3):
            vision.patch_embedding.weight[channel, channel] = 1 / 64
        head = model.class_head
        head.dense0.weight.copy_(eye)
        head.dense0.bias.zero_()
        head.logit_shift.weight.zero_()
        head.logit_shift.bias.fill_(-0.5)
        head.logit_scale.weight.zero_()
        head.logit_scale.bias.fill_(19.0)
        model.box_head.dense2.weight.zero_()
        model.box_head.dense2.bias.zero_()
    model.save_pretrained(folder)
    OwlViTProcessor(image_processor=image_processor, tokenizer=tokenizer).save_pretrained(folder)


@pytest.fixture(scope="module")
def detector(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("owlvit")
    _designed_owlvit(folder)
    return folder


def _image(hands: int, people: int) -> Creative:
    """64×64 grey with `hands` red and `people` green cells of the detector's 4×4 grid."""
    rgb = np.full((64, 64, 3), GREY, np.uint8)
    cells = [(r, c) for r in range(4) for c in range(4)]
    for index, (r, c) in enumerate(cells[: hands + people]):
        rgb[r * 16 : r * 16 + 16, c * 16 : c * 16 + 16] = RED if index < hands else GREEN
    return Creative(f"h{hands}p{people}", rgb)


BRIEF = Brief(kit="acme", prompt="a woman holding a cup of coffee")


def test_unverified_without_a_detector():
    outcome = bg402_anatomy.run(_image(3, 1), BRIEF, kit("acme"), {})
    assert outcome.status == "unverified"
    assert bg402_anatomy.DETECTOR_ENV in outcome.message
    assert "not checked" in outcome.message


@pytest.mark.parametrize(
    ("hands", "people", "status"),
    [(0, 0, "pass"), (2, 1, "pass"), (4, 2, "pass"), (3, 1, "fail"), (5, 2, "fail")],
)
def test_hands_against_people(detector, hands, people, status):
    outcome = bg402_anatomy.run(_image(hands, people), BRIEF, kit("acme"), {"detector": str(detector)})
    assert outcome.status == status, outcome.message
    assert (outcome.evidence["hands"], outcome.evidence["people"]) == (hands, people)
    assert len(outcome.evidence["detections"]["hand"]) == hands
    assert all(d["score"] >= 0.3 for d in outcome.evidence["detections"]["hand"])
    assert outcome.evidence["not_checked"] == ["finger counts", "hand geometry"]


def test_env_and_the_counts_detector_are_used(detector, monkeypatch):
    monkeypatch.setenv(bg402_anatomy.FALLBACK_DETECTOR_ENV, str(detector))
    assert bg402_anatomy.run(_image(3, 1), BRIEF, kit("acme"), {}).status == "fail"
    monkeypatch.setenv(bg402_anatomy.DETECTOR_ENV, str(detector))
    assert bg402_anatomy.run(_image(2, 1), BRIEF, kit("acme"), {}).status == "pass"


def test_threshold_above_every_score_finds_nothing(detector):
    options = {"detector": str(detector), "detector_threshold": 1.01}
    outcome = bg402_anatomy.run(_image(3, 1), BRIEF, kit("acme"), options)
    assert outcome.status == "pass"
    assert outcome.evidence["hands"] == 0


def test_hands_without_people_are_unverified_unless_told_to_fail(detector):
    options: dict[str, object] = {"detector": str(detector)}
    skipped = bg402_anatomy.run(_image(3, 0), BRIEF, kit("acme"), options)
    assert skipped.status == "unverified"
    assert "no person" in skipped.message
    options["fail_hands_without_people"] = True
    assert bg402_anatomy.run(_image(3, 0), BRIEF, kit("acme"), options).status == "fail"


def test_only_when_prompted_skips_prompts_without_people(detector):
    options = {"detector": str(detector), "only_when_prompted": True}
    still = Brief(kit="acme", prompt="a red sports car on a mountain road")
    assert bg402_anatomy.run(_image(3, 1), still, kit("acme"), options).status == "skip"
    assert bg402_anatomy.run(_image(3, 1), BRIEF, kit("acme"), options).status == "fail"
    # By default the prompt is not trusted: unprompted people get checked too.
    assert bg402_anatomy.run(_image(3, 1), still, kit("acme"), {"detector": str(detector)}).status == "fail"


@pytest.mark.parametrize("options", [{"detector_threshold": "high"}, {"only_when_prompted": "yes"}])
def test_bad_options_are_errors(options):
    with pytest.raises(ValueError, match="BG402"):
        bg402_anatomy.run(_image(0, 0), BRIEF, kit("acme"), options)


@pytest.mark.parametrize(
    ("configured", "status", "verdict"), [(False, "unverified", "unverified"), (True, "fail", "flag")]
)
def test_engine_verdict(detector, monkeypatch, configured, status, verdict):
    # Without a detector 3 hands and 1 person are not checked, so the image is never a pass.
    if configured:
        monkeypatch.setenv(bg402_anatomy.DETECTOR_ENV, str(detector))
    specs = [CheckSpec.from_module(bg402_anatomy)]
    report = run_checks(_image(3, 1), BRIEF, kit("acme"), specs=specs)
    assert [r.status for r in report.checks] == [status]
    assert report.verdict == verdict


def test_bg401_shares_the_loaded_detector(detector, monkeypatch):
    monkeypatch.setenv(bg401_object_counts.DETECTOR_ENV, str(detector))
    brief = Brief(kit="acme", prompt="hands", counts={"hand": 3})
    outcome = bg401_object_counts.run(_image(3, 1), brief, kit("acme"), {})
    assert outcome.status == "pass"
    assert outcome.evidence["counted"] == {"hand": 3}

"""End to end: a slash command runs on the real local queue with the tiny model; a manager approves in the thread."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot import messages
from bot.brandgate_services import BrandgateServices
from brandgate.settings import Settings
from tests.bot.conftest import ANNA, COMPLIANCE, MARK, SECRET, ServedBot
from tests.fake_slack import FakeSlack, fake_token


@pytest.fixture(scope="module")
def generation_parts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The tiny model, a development key chain, and a one-thread preview profile, built once."""
    from pipeline.keys import issue_chain, write_dev_chain
    from pipeline.profiles import BUILTIN_PROFILES_DIR
    from pipeline.tiny_model import build_tiny_model

    root = tmp_path_factory.mktemp("generation")
    build_tiny_model(root / "models")
    write_dev_chain(root / "keys", issue_chain())
    profiles = root / "profiles"
    profiles.mkdir()
    for name in ("preview", "export"):
        profile = yaml.safe_load((BUILTIN_PROFILES_DIR / f"{name}.yaml").read_text())
        # One thread: on a shared 2-core machine, competing OpenMP threads make a tiny image slow.
        (profiles / f"{name}.yaml").write_text(yaml.safe_dump({**profile, "cpu_threads": 1}))
    return {"models": root / "models", "keys": root / "keys", "profiles": profiles}


@pytest.fixture
def e2e_settings(tmp_path: Path, kits_dir: Path, slack: FakeSlack, generation_parts: dict[str, Path]) -> Settings:
    # A detector folder that holds no model makes BG402 report `error`, which never counts as a
    # pass, so each image is flagged for a brand manager.
    policy_path = kits_dir / "acme" / "policy.yaml"
    policy = yaml.safe_load(policy_path.read_text()) or {}
    policy["BG402"] = {"detector": str(tmp_path / "not-a-detector")}
    policy_path.write_text(yaml.safe_dump(policy))
    return _settings(tmp_path, kits_dir, slack, generation_parts)


@pytest.fixture
def plain_settings(tmp_path: Path, kits_dir: Path, slack: FakeSlack, generation_parts: dict[str, Path]) -> Settings:
    """The kits as shipped, with no detector and an empty hand-models folder: BG402 cannot decide."""
    empty = tmp_path / "no-hand-models"
    empty.mkdir()
    policy_path = kits_dir / "acme" / "policy.yaml"
    policy = yaml.safe_load(policy_path.read_text()) or {}
    policy["BG402"] = {"hand_models": str(empty)}
    policy_path.write_text(yaml.safe_dump(policy))
    return _settings(tmp_path, kits_dir, slack, generation_parts)


def _settings(tmp_path: Path, kits_dir: Path, slack: FakeSlack, generation_parts: dict[str, Path]) -> Settings:
    from brandgate.db.schema import upgrade

    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'brandgate.db'}",
        artifacts_dir=tmp_path / "artifacts",
        kits_dir=kits_dir,
        models_dir=generation_parts["models"],
        keys_dir=generation_parts["keys"],
        profiles_dir=generation_parts["profiles"],  # type: ignore[call-arg]
        metrics_port=0,  # type: ignore[call-arg]
        slack_bot_token=fake_token(),
        slack_signing_secret=SECRET,
        slack_api_url=slack.api_url,
        slack_compliance_users=[COMPLIANCE],
        slack_progress_interval_s=0.2,
    )
    upgrade(settings)
    return settings


@pytest.fixture
def live_bot(e2e_settings: Settings, slack: FakeSlack) -> Iterator[ServedBot]:
    bot = ServedBot(e2e_settings, BrandgateServices(e2e_settings), slack)
    try:
        yield bot
    finally:
        bot.close()


@pytest.fixture
def plain_bot(plain_settings: Settings, slack: FakeSlack) -> Iterator[ServedBot]:
    bot = ServedBot(plain_settings, BrandgateServices(plain_settings), slack)
    try:
        yield bot
    finally:
        bot.close()


def _buttons(blocks: list[dict[str, Any]]) -> list[str]:
    return [e["action_id"] for b in blocks if b["type"] == "actions" for e in b["elements"]]


def test_command_to_images_to_approval_to_audit(live_bot: ServedBot, slack: FakeSlack) -> None:
    response = live_bot.command(
        '"five red apples on a wooden table" kit=acme n=2 size=128x128 seed=1234 counts="apple:5"'
    )
    assert response.status_code == 200
    assert "Queued" in slack.wait_calls("chat.postEphemeral")[0].params["text"]
    # The parent message, then one message per image once both are made, checked and signed.
    image_posts = slack.wait_for(
        lambda calls: sum(c.method == "chat.postMessage" and bool(c.params.get("thread_ts")) for c in calls) >= 2,
        timeout=240,
    )
    image_messages = [c for c in image_posts if c.method == "chat.postMessage" and c.params.get("thread_ts")]
    assert len(slack.uploads) == 2 and all(data[:4] == b"\x89PNG" for data in slack.uploads.values())
    # The progress message showed the run generating (posted so, or edited to it).
    progress = [*slack.calls_to("chat.postMessage"), *slack.calls_to("chat.update")]
    assert any("generating" in str(c.params.get("blocks")) for c in progress)
    flagged = [m for m in image_messages if messages.APPROVE in _buttons(m.params["blocks"])]
    assert flagged, f"no flagged image to approve; verdicts: {[m.params['text'] for m in image_messages]}"
    image_id = flagged[0].params["blocks"][-1]["block_id"].split(":", 1)[1]
    message = {
        "type": "message",
        "ts": "1700000009.000100",
        "thread_ts": flagged[0].params["thread_ts"],
        "blocks": flagged[0].params["blocks"],
    }

    live_bot.click(messages.APPROVE, image_id, MARK, message)  # the requester, and no manager
    refused = slack.wait_calls("chat.postEphemeral", 2)[-1]
    assert refused.params["user"] == MARK and "brand managers" in refused.params["text"]

    live_bot.click(messages.APPROVE, image_id, ANNA, message)
    slack.wait_for(
        lambda calls: any(c.method == "chat.update" and "Approved" in str(c.params.get("blocks")) for c in calls)
    )

    live_bot.command("audit kit=acme format=jsonl", user=COMPLIANCE)
    upload = slack.wait_for(
        lambda calls: any(
            c.method == "files.completeUploadExternal" and c.params.get("channel_id") == f"D{COMPLIANCE}" for c in calls
        )
    )
    audit_call = next(
        c
        for c in upload
        if c.method == "files.completeUploadExternal" and c.params.get("channel_id") == f"D{COMPLIANCE}"
    )
    rows = [json.loads(line) for line in slack.uploads[audit_call.params["files"][0]["id"]].splitlines()]
    approved = next(r for r in rows if r["image_id"] == image_id)
    assert approved["approval"]["decision"] == "approved"
    assert approved["approval"]["decided_by"] == f"slack:T0TESTTEAM:{ANNA}"
    assert approved["requested_by"] == f"slack:T0TESTTEAM:{MARK}" and approved["source"] == "slack"


def test_an_image_nobody_could_fully_check_goes_to_a_brand_manager(plain_bot: ServedBot, slack: FakeSlack) -> None:
    """No counts given and no detector: counts are read from the prompt, and the image is never a pass."""
    response = plain_bot.command('"two cats sleeping on a sofa" kit=acme n=1 size=128x128 seed=99')
    assert response.status_code == 200
    parent = slack.wait_calls("chat.postMessage")[0]
    assert "counts read from the prompt: cat: 2" in str(parent.params["blocks"])
    posts = slack.wait_for(
        lambda calls: any(c.method == "chat.postMessage" and c.params.get("thread_ts") for c in calls), timeout=240
    )
    [image] = [c for c in posts if c.method == "chat.postMessage" and c.params.get("thread_ts")]
    text = str(image.params["blocks"])
    assert "Passed every check" not in text
    assert "not checked: anatomy, no hand models in" in text and "(BG402)" in text
    buttons = _buttons(image.params["blocks"])
    assert buttons[:2] == [messages.APPROVE, messages.REJECT] and messages.EXPORT not in buttons
    image_id = image.params["blocks"][-1]["block_id"].split(":", 1)[1]
    message = {"type": "message", "ts": "1700000010.000100", "thread_ts": image.params["thread_ts"],
               "blocks": image.params["blocks"]}  # fmt: skip

    # An Export HQ click (an old message, a crafted request) is refused until someone approves.
    plain_bot.click(messages.EXPORT, image_id, ANNA, message)
    refused = slack.wait_for(
        lambda calls: any("must approve it before the HQ export" in str(c.params.get("text")) for c in calls)
    )
    assert refused

    plain_bot.click(messages.APPROVE, image_id, ANNA, message)
    updated = slack.wait_for(
        lambda calls: any(c.method == "chat.update" and "Approved" in str(c.params.get("blocks")) for c in calls)
    )
    approved = next(c for c in updated if c.method == "chat.update" and "Approved" in str(c.params.get("blocks")))
    assert messages.EXPORT in _buttons(approved.params["blocks"])

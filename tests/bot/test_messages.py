"""Block Kit builders are pure: the same image and status always give the same payload."""

from __future__ import annotations

from bot import messages
from brandgate.jobs.contract import Accepted, RequestStatus
from brandgate.requests.images import ImageView


def _image(
    verdict: str, failed: tuple[dict[str, object], ...] = (), unverified: tuple[dict[str, object], ...] = ()
) -> ImageView:
    return ImageView(
        unverified_checks=unverified,
        image_id="img1",
        request_id="req1",
        index=1,
        kit="acme",
        requested_by="slack:T1:U1",
        channel="C1",
        verdict=verdict,
        seed=42,
        artifact_path="/a.png",
        manifest_path=None,
        cost_usd=0.01,
        failed_checks=failed,
    )


def test_buttons_follow_the_verdict() -> None:
    def actions(verdict: str) -> list[str]:
        return [b["action_id"] for b in messages.image_buttons(_image(verdict))]

    assert actions("pass") == [messages.EXPORT, messages.REGENERATE]
    # a person decides unverified and flagged images; neither is exported before an approval
    assert actions("unverified") == [messages.APPROVE, messages.REJECT, messages.REGENERATE]
    assert actions("flag") == [messages.APPROVE, messages.REJECT, messages.REGENERATE]
    assert actions("reject") == [messages.REGENERATE]
    assert actions("approved") == [messages.EXPORT, messages.REGENERATE]
    assert actions("rejected") == [messages.REGENERATE]


def test_failed_checks_are_told_in_plain_words_with_their_id() -> None:
    blocks = messages.image_blocks(
        _image(
            "flag",
            (
                {"id": "BG302", "status": "fail", "message": "contrast 2.1:1 under 4.5:1"},
                {"id": "BG402", "status": "error", "message": "model missing"},
            ),
        ),
        "req1",
        4,
    )
    text = blocks[1]["text"]["text"]
    assert "*The headline is hard to read against the background* (BG302): contrast 2.1:1 under 4.5:1" in text
    assert "the check could not run, so a person must look* (BG402)" in text
    assert blocks[0]["text"]["text"] == ":warning: *Image 2 of 4* · Flagged: a brand manager needs to look at it"


def test_unverified_checks_say_what_was_not_checked() -> None:
    unverified = (
        {"id": "BG401", "status": "unverified",
         "message": "not checked: object counts (apple), no detector configured (BRANDGATE_COUNTS_DETECTOR)"},
    )  # fmt: skip
    blocks = messages.image_blocks(_image("unverified", unverified=unverified), "req1", 4)
    assert blocks[0]["text"]["text"] == (
        ":mag: *Image 2 of 4* · Not fully checked: a brand manager needs to look at it"
    )
    assert "• not checked: object counts (apple), no detector configured" in blocks[1]["text"]["text"]
    assert "(BG401)" in blocks[1]["text"]["text"]
    assert "Passed" not in str(blocks)


def test_decided_blocks_drop_approve_and_reject_and_say_who() -> None:
    before = messages.image_blocks(_image("flag"), "req1", 1)
    after = messages.decided_blocks(before, "img1", "rejected", "UANNA", "Logo too small")
    actions = next(b for b in after if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == [messages.REGENERATE]
    approved = messages.decided_blocks(before, "img1", "approved", "UANNA", None)
    actions = next(b for b in approved if b["type"] == "actions")
    assert [e["action_id"] for e in actions["elements"]] == [messages.EXPORT, messages.REGENERATE]
    assert any("Rejected* by <@UANNA>: Logo too small" in str(b) for b in after)
    assert before == messages.image_blocks(_image("flag"), "req1", 1)  # the input is not changed


def test_progress_line_uses_the_job_s_own_words() -> None:
    status = RequestStatus(
        request_id="r1", state="running", n_images=4, stage="generating", image_index=2, step=14, steps=25
    )
    blocks = messages.progress_blocks("heading", status)
    assert blocks[1]["elements"][0]["text"] == ":gear: generating 2/4, step 14/25 · request `r1`"


def test_queued_text_says_how_many_are_ahead() -> None:
    assert "3 ahead of you" in messages.queued_text(Accepted("r1", duplicate=False, position=3))
    assert "you're next" in messages.queued_text(Accepted("r1", duplicate=False, position=0))
    assert "Already on it" in messages.queued_text(Accepted("r1", duplicate=True, position=0))


def test_the_form_limits_match_the_brief_rules() -> None:
    view = messages.brief_modal([("acme", "Acme Fresh Market"), ("nordwind", "Nordwind")], "C1")
    n = next(b for b in view["blocks"] if b["block_id"] == "n")["element"]
    assert (n["min_value"], n["max_value"]) == ("1", "16")
    kit = next(b for b in view["blocks"] if b["block_id"] == "kit")["element"]
    assert "initial_option" not in kit  # two kits: the person chooses
    assert len(view["title"]["text"]) <= 24 and len(view["submit"]["text"]) <= 24  # Slack's limits


def test_verify_summary_reads_the_verify_json() -> None:
    blocks = messages.verify_blocks(
        "poster.png",
        {
            "state": "trusted",
            "summary": "trusted: signed by CN=brandgate",
            "signer": {"subject": "CN=brandgate"},
            "signing_time": "2026-11-20T10:00:00Z",
            "governance": {"verdict": "approved", "kit": "acme", "seed": 42},
            "validation_codes": {"success": ["claimSignature.validated"], "failure": []},
        },
    )
    text = blocks[0]["text"]["text"]
    assert "trusted signer" in text and "Signed by: CN=brandgate" in text
    assert "Verdict: `approved`" in text and "Seed: `42`" in text


def test_verify_summary_of_a_tampered_file_names_the_failures() -> None:
    text = messages.verify_blocks(
        "x.png", {"state": "invalid", "validation_codes": {"failure": [{"code": "assertion.dataHash.mismatch"}]}}
    )[0]["text"]["text"]
    assert "changed after signing" in text and "`assertion.dataHash.mismatch`" in text

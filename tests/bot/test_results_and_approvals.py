"""A request's thread: progress edits, images with verdicts and buttons, and who may approve or reject."""

from __future__ import annotations

import itertools
import time
from typing import Any

from bot import messages
from tests.bot.conftest import ANNA, GROUP, GROUP_MANAGER, MARK, MARKETING, BotUnderTest
from tests.fake_slack import Call

HEADLINE_MISS = {
    "id": "BG101",
    "name": "headline-text",
    "status": "fail",
    "severity": "flag",
    "confidence": 0.93,
    "message": "headline 'Fresh Deals Friday' not found; read 'Fresh Deels Friday'",
    "evidence": {},
}
NUDITY = {
    "id": "BG502",
    "name": "nudity",
    "status": "fail",
    "severity": "reject",
    "confidence": 0.9,
    "message": "exposed body parts detected",
    "evidence": {},
}


def _queue_and_finish(served: BotUnderTest, verdicts: list[str], user: str = MARK) -> tuple[str, list[Any]]:
    served.bot.command(f'"five red apples" kit=acme n={len(verdicts)} headline="Fresh Deals Friday"', user=user)
    served.slack.wait_calls("chat.postMessage")  # the thread's parent message
    request_id = served.newest_request()
    served.worker.start(request_id)
    served.slack.wait_calls("chat.update")
    failed = {i: [HEADLINE_MISS] for i, v in enumerate(verdicts) if v == "flag"}
    failed.update({i: [NUDITY] for i, v in enumerate(verdicts) if v == "reject"})
    views = served.worker.finish(request_id, verdicts, failed)
    # Parent + one message per image.
    served.slack.wait_calls("chat.postMessage", 1 + len(verdicts))
    return request_id, views


def _image_messages(served: BotUnderTest) -> list[Call]:
    # image messages carry blocks; replies telling managers or requesters are text only
    return [
        c for c in served.slack.calls_to("chat.postMessage") if c.params.get("thread_ts") and c.params.get("blocks")
    ]


def _buttons(call: Call) -> list[str]:
    return [e["action_id"] for b in call.params["blocks"] if b["type"] == "actions" for e in b["elements"]]


def _message(call: Call) -> dict[str, Any]:
    return {
        "type": "message",
        "ts": "1700000001.000200",
        "thread_ts": call.params["thread_ts"],
        "text": call.params["text"],
        "blocks": call.params["blocks"],
    }


def test_thread_shows_progress_then_images_with_verdicts_and_buttons(served: BotUnderTest) -> None:
    _request_id, _views = _queue_and_finish(served, ["pass", "flag", "reject"])
    parent = served.slack.calls_to("chat.postMessage")[0]
    assert parent.params["channel"] == MARKETING and not parent.params.get("thread_ts")
    assert "five red apples" in parent.params["blocks"][0]["text"]["text"]
    updates = served.slack.wait_calls("chat.update", 2)
    assert any("generating 1/3" in str(u.params["blocks"]) for u in updates)
    summary = "3 images: 1 passed, 1 waiting for a brand manager, 1 rejected by policy"
    served.slack.wait_for(lambda calls: any(summary in str(c.params.get("blocks")) for c in calls))
    assert not any("done" in str(c.params.get("blocks")) for c in served.slack.calls_to("chat.update"))
    # At most one edit per interval (0.2 s in tests) of the one parent message.
    edits = served.slack.calls_to("chat.update")
    assert {e.params["ts"] for e in edits} == {
        served.slack.calls_to("chat.postMessage")[0].params.get("ts") or edits[0].params["ts"]
    }
    gaps = [b.at - a.at for a, b in itertools.pairwise(edits)]
    assert all(g >= 0.19 for g in gaps), gaps
    # Images uploaded with files_upload_v2 (URL, bytes, completion) under names a person can keep,
    # then shown inside the message that carries the verdict and buttons: one message per image.
    uploads = served.slack.wait_calls("files.completeUploadExternal", 3)
    assert len(served.slack.uploads) == 3 and all(data.startswith(b"\x89PNG") for data in served.slack.uploads.values())
    names = [c.params["filename"] for c in served.slack.calls_to("files.getUploadURLExternal")]
    seeds = [v.seed for v in _views]
    assert names == [f"acme-fresh-deals-friday-{seed}-{i + 1}.png" for i, seed in enumerate(seeds)]
    shown = [m.params["blocks"][0] for m in _image_messages(served)]
    assert [b["type"] for b in shown] == ["image"] * 3
    assert [b["slack_file"]["id"] for b in shown] == [u.params["files"][0]["id"] for u in uploads]
    titles = [u.params["files"][0]["title"] for u in uploads]
    assert titles == [
        "Image 1 of 3: Passed every check",
        "Image 2 of 3: Flagged: a brand manager needs to look at it",
        "Image 3 of 3: Rejected by policy: not for use",
    ]
    passed, flagged, rejected = _image_messages(served)
    assert _buttons(passed) == [messages.EXPORT, messages.REGENERATE]
    assert _buttons(flagged) == [messages.APPROVE, messages.REJECT, messages.REGENERATE]
    assert _buttons(rejected) == [messages.REGENERATE]  # no Approve, no export of a policy-rejected image
    flagged_text = str(flagged.params["blocks"])
    assert "The headline isn't in the image exactly as written" in flagged_text and "BG101" in flagged_text
    assert "Fresh Deels Friday" in flagged_text
    assert "BG502" in str(rejected.params["blocks"])


def test_a_brand_manager_approves_a_flagged_image_once(served: BotUnderTest) -> None:
    _, views = _queue_and_finish(served, ["flag"])
    flagged = _image_messages(served)[0]
    first = served.bot.click(messages.APPROVE, views[0].image_id, ANNA, _message(flagged))
    # Clicks are handled after their ack, on a pool: the second is sent once the first has decided,
    # so which one is first is the test's choice, not a race between two handler threads.
    update = served.slack.wait_for(
        lambda calls: any(c.method == "chat.update" and "Approved" in str(c.params.get("blocks")) for c in calls)
    )
    second = served.bot.click(messages.APPROVE, views[0].image_id, GROUP_MANAGER, _message(flagged))
    assert first.status_code == second.status_code == 200
    assert served.records.decisions()[views[0].image_id][:2] == ("approved", f"slack:T0TESTTEAM:{ANNA}")
    edited = next(c for c in update if c.method == "chat.update" and "Approved" in str(c.params.get("blocks")))
    assert edited.params["ts"] == "1700000001.000200"
    assert messages.APPROVE not in str(edited.params["blocks"]) and messages.EXPORT in str(edited.params["blocks"])
    told = served.slack.wait_calls("chat.postEphemeral", 2)[-1]
    assert told.params["user"] == GROUP_MANAGER and "approved" in told.params["text"]
    [approved] = served.records.events("image.approved")
    assert approved.actor == f"slack:T0TESTTEAM:{ANNA}" and approved.subject_id == views[0].image_id
    assert served.records.events("image.rejected") == []


def test_a_marketer_cannot_approve_and_the_refusal_is_recorded(served: BotUnderTest) -> None:
    _, views = _queue_and_finish(served, ["flag"], user=ANNA)
    served.bot.click(messages.APPROVE, views[0].image_id, MARK, _message(_image_messages(served)[0]))
    told = served.slack.wait_calls("chat.postEphemeral", 2)[-1]
    assert told.params["user"] == MARK and "only brand managers of *acme*" in told.params["text"]
    assert served.records.decisions() == {}
    [refused] = served.records.events("slack.click_refused")
    assert (refused.actor, refused.subject_id) == (f"slack:T0TESTTEAM:{MARK}", views[0].image_id)
    assert refused.payload == {
        "action": messages.APPROVE,
        "reason": told.params["text"].split("Not done: ")[1].rstrip("."),
        "channel": MARKETING,
        "team": "T0TESTTEAM",
    }


def test_a_policy_rejected_image_cannot_be_approved_even_by_a_manager(served: BotUnderTest) -> None:
    _, views = _queue_and_finish(served, ["reject"])
    # No Approve button is shown; a forged click (a replayed or hand-made payload) is refused anyway.
    served.bot.click(messages.APPROVE, views[0].image_id, ANNA, _message(_image_messages(served)[0]))
    told = served.slack.wait_calls("chat.postEphemeral", 2)[-1]
    assert told.params["user"] == ANNA and "not waiting for a decision: it is reject" in told.params["text"]
    assert served.records.decisions() == {}
    assert [e.kind for e in served.records.events() if e.kind.startswith(("image.approved", "image.rejected"))] == []


def test_the_requester_cannot_approve_their_own_image(served: BotUnderTest) -> None:
    _, views = _queue_and_finish(served, ["flag"], user=ANNA)
    served.bot.click(messages.APPROVE, views[0].image_id, ANNA, _message(_image_messages(served)[0]))
    told = served.slack.wait_calls("chat.postEphemeral", 2)[-1]
    assert "another brand manager" in told.params["text"]
    assert served.records.decisions() == {}


def test_self_approval_when_settings_allow_it(served: BotUnderTest) -> None:
    served.bot.runtime.settings.slack_allow_self_approval = True
    _, views = _queue_and_finish(served, ["flag"], user=ANNA)
    served.bot.click(messages.APPROVE, views[0].image_id, ANNA, _message(_image_messages(served)[0]))
    served.slack.wait_for(
        lambda calls: any(c.method == "chat.update" and "Approved" in str(c.params.get("blocks")) for c in calls)
    )
    assert served.records.decisions()[views[0].image_id][0] == "approved"


def test_group_membership_is_looked_up_once_and_cached(served: BotUnderTest) -> None:
    _, views = _queue_and_finish(served, ["flag", "flag"])
    first, second = (_message(m) for m in _image_messages(served))
    served.bot.click(messages.APPROVE, views[0].image_id, GROUP_MANAGER, first)
    served.bot.click(messages.APPROVE, views[1].image_id, GROUP_MANAGER, second)
    served.slack.wait_for(
        lambda calls: sum(c.method == "chat.update" and "Approved" in str(c.params.get("blocks")) for c in calls) == 2
    )
    lookups = served.slack.calls_to("usergroups.users.list")
    assert [c.params["usergroup"] for c in lookups] == [GROUP]


def test_reject_asks_for_a_reason_then_records_it(served: BotUnderTest) -> None:
    _, views = _queue_and_finish(served, ["flag"])
    message = _message(_image_messages(served)[0])
    served.bot.click(messages.REJECT, views[0].image_id, ANNA, message)
    opened = served.slack.wait_calls("views.open")[0].params["view"]
    assert opened["callback_id"] == messages.REJECT_MODAL
    empty = served.bot.submit_view(opened, {"reason": {"value": {"type": "plain_text_input", "value": " "}}}, user=ANNA)
    assert empty.json() == {
        "response_action": "errors",
        "errors": {"reason": "Say why, in a few words: the requester will read it."},
    }
    ok = served.bot.submit_view(
        opened, {"reason": {"value": {"type": "plain_text_input", "value": "Logo too small"}}}, user=ANNA
    )
    assert ok.status_code == 200 and not ok.content.strip(b"{}")
    served.slack.wait_for(
        lambda calls: any(c.method == "chat.update" and "Rejected" in str(c.params.get("blocks")) for c in calls)
    )
    assert served.records.decisions()[views[0].image_id] == ("rejected", f"slack:T0TESTTEAM:{ANNA}", "Logo too small")
    edited = next(c for c in served.slack.calls_to("chat.update") if "Rejected" in str(c.params.get("blocks")))
    assert edited.params["ts"] == message["ts"] and "Logo too small" in str(edited.params["blocks"])


def test_a_non_manager_cannot_even_open_the_reject_form(served: BotUnderTest) -> None:
    _, views = _queue_and_finish(served, ["flag"])
    served.bot.click(messages.REJECT, views[0].image_id, "URANDOM", _message(_image_messages(served)[0]))
    served.slack.wait_calls("chat.postEphemeral", 2)
    time.sleep(0.2)
    assert served.slack.calls_to("views.open") == []


def test_a_button_for_an_image_that_does_not_exist_is_refused(served: BotUnderTest) -> None:
    response = served.bot.click(messages.APPROVE, "doesnotexist0001", ANNA)
    assert response.status_code == 200
    told = served.slack.wait_calls("chat.postEphemeral")[0]
    assert "there is no image `doesnotexist0001`" in told.params["text"]
    assert [e.kind for e in served.records.events()] == ["slack.click_refused"]


def test_a_button_value_that_is_not_an_image_id_is_refused(served: BotUnderTest) -> None:
    served.bot.click(messages.EXPORT, "../../etc/passwd' OR 1=1", ANNA)
    assert "does not name an image" in served.slack.wait_calls("chat.postEphemeral")[0].params["text"]
    assert served.records.requests("export") == []


def test_a_button_for_another_workspace_s_image_is_refused(served: BotUnderTest) -> None:
    from brandgate.jobs.contract import Submission
    from policies.brief import Brief

    foreign = served.worker.queue.submit(
        Submission(brief=Brief(kit="acme", prompt="apples"), requested_by="slack:TOTHERTEAM:UX", source="slack")
    )
    [view] = served.worker.finish(foreign.request_id, ["flag"], {0: [HEADLINE_MISS]})
    served.bot.click(messages.APPROVE, view.image_id, ANNA)
    assert "another workspace" in served.slack.wait_calls("chat.postEphemeral")[0].params["text"]
    assert served.records.decisions() == {}


def test_export_hq_is_queued_once_however_often_it_is_clicked(served: BotUnderTest) -> None:
    _, views = _queue_and_finish(served, ["pass"])
    message = _message(_image_messages(served)[0])
    served.bot.click(messages.EXPORT, views[0].image_id, MARK, message)
    served.bot.click(messages.EXPORT, views[0].image_id, ANNA, message)
    texts = [c.params["text"] for c in served.slack.wait_calls("chat.postEphemeral", 3)[1:]]
    [export] = served.records.requests("export")
    assert any("Already on it" in t for t in texts)
    assert export.idempotency_key == f"slack:T0TESTTEAM:export:{views[0].image_id}"
    assert export.parent_image_id == views[0].image_id
    export_id = export.request_id
    progress = served.slack.wait_for(lambda calls: any("HQ export" in str(c.params.get("blocks")) for c in calls))
    posted = next(c for c in progress if c.method == "chat.postMessage" and "HQ export" in str(c.params.get("blocks")))
    assert posted.params["thread_ts"] == message["thread_ts"]
    served.worker.finish(export_id, ["pass"])
    upload = served.slack.wait_calls("files.completeUploadExternal", 2)[-1]
    assert upload.params["files"][0]["title"].startswith("HQ export")


def test_regenerate_reruns_the_brief_for_one_image_once_per_person(served: BotUnderTest) -> None:
    _, views = _queue_and_finish(served, ["reject"])
    message = _message(_image_messages(served)[0])
    served.bot.click(messages.REGENERATE, views[0].image_id, MARK, message)
    served.bot.click(messages.REGENERATE, views[0].image_id, MARK, message)
    served.slack.wait_calls("chat.postEphemeral", 3)
    submissions = served.records.submissions
    assert len(submissions) == 2  # the original and one regeneration
    assert submissions[1].brief.n == 1 and submissions[1].brief.seed is None
    assert submissions[1].brief.headline == "Fresh Deals Friday"


def test_a_request_with_nothing_usable_never_reads_done(served: BotUnderTest) -> None:
    _queue_and_finish(served, ["flag", "unverified"])
    final = served.slack.wait_for(
        lambda calls: any("2 images: 2 waiting for a brand manager" in str(c.params.get("blocks")) for c in calls)
    )
    line = next(str(c.params["blocks"]) for c in final if "2 images:" in str(c.params.get("blocks")))
    assert ":warning:" in line and ":white_check_mark:" not in line


def test_after_an_approval_the_image_message_says_approved_not_flagged(served: BotUnderTest) -> None:
    served.slack.users[ANNA] = {"real_name": "Anna Lind", "profile": {"display_name": "Anna L."}}
    _, views = _queue_and_finish(served, ["flag"])
    flagged = _image_messages(served)[0]
    assert "Flagged" in str(flagged.params["blocks"][1])
    served.bot.click(messages.APPROVE, views[0].image_id, ANNA, _message(flagged))
    update = served.slack.wait_for(
        lambda calls: any(c.method == "chat.update" and "Approved" in str(c.params.get("blocks")) for c in calls)
    )
    edited = next(c for c in update if c.method == "chat.update" and "Approved" in str(c.params.get("blocks")))
    blocks = edited.params["blocks"]
    assert blocks[0]["type"] == "image"  # the picture stays in the one message
    assert blocks[1]["text"]["text"] == f":white_check_mark: *Image 1 of 1* · Approved by <@{ANNA}>"
    assert "Flagged" not in str(blocks) and ":warning:" not in str(blocks)
    # The approver's display name was looked up once and recorded in the decision's event.
    [approved] = served.records.events("image.approved")
    assert approved.payload["decided_by_name"] == "Anna L."


def test_the_hq_export_of_an_approved_image_says_who_approved_it(served: BotUnderTest) -> None:
    served.slack.users[ANNA] = {"real_name": "Anna Lind", "profile": {"display_name": ""}}
    _, views = _queue_and_finish(served, ["flag"])
    flagged = _message(_image_messages(served)[0])
    served.bot.click(messages.APPROVE, views[0].image_id, ANNA, flagged)
    served.slack.wait_for(lambda calls: any(c.method == "chat.update" and "Approved" in str(c.params) for c in calls))
    served.bot.click(messages.EXPORT, views[0].image_id, MARK, flagged)
    served.slack.wait_for(lambda calls: len(served.records.requests("export")) == 1)
    [export] = served.records.requests("export")
    served.slack.wait_for(lambda calls: any("HQ export" in str(c.params.get("blocks")) for c in calls))
    served.worker.finish(export.request_id, ["flag"], {0: [HEADLINE_MISS]})
    upload = served.slack.wait_calls("files.completeUploadExternal", 2)[-1]
    assert upload.params["files"][0]["title"] == f"HQ export: Flagged by the checks, approved by Anna Lind ({ANNA})"
    assert upload.params["thread_ts"] == flagged["thread_ts"]
    name = served.slack.calls_to("files.getUploadURLExternal")[-1].params["filename"]
    assert name == f"acme-fresh-deals-friday-{views[0].seed}-1-hq.png"
    assert len(served.slack.calls_to("users.info")) == 1  # cached: the approval asked, the export did not


def test_a_workspace_that_will_not_show_the_image_inline_gets_it_shared_then_the_buttons(
    served: BotUnderTest,
) -> None:
    original = served.slack._api_chat_postMessage

    def no_image_blocks(params: dict[str, Any]) -> dict[str, Any]:
        if any(b.get("type") == "image" for b in params.get("blocks") or []):
            return {"ok": False, "error": "invalid_blocks"}
        return original(params)

    served.slack._api_chat_postMessage = no_image_blocks  # type: ignore[method-assign]
    _queue_and_finish(served, ["pass"])
    shared = served.slack.wait_calls("files.completeUploadExternal", 2)[-1]
    assert shared.params["channel_id"] == MARKETING and shared.params.get("thread_ts")
    assert _buttons(_image_messages(served)[-1]) == [messages.EXPORT, messages.REGENERATE]


def test_the_audit_csv_names_each_check_and_the_approver_beside_the_id(served: BotUnderTest) -> None:
    import csv
    import io
    import json

    from tests.bot.conftest import COMPLIANCE

    served.slack.users[GROUP_MANAGER] = {"real_name": "Gus Manager", "profile": {"display_name": "gus"}}
    _, views = _queue_and_finish(served, ["flag"])
    served.bot.click(messages.APPROVE, views[0].image_id, GROUP_MANAGER, _message(_image_messages(served)[0]))
    served.slack.wait_for(lambda calls: any(c.method == "chat.update" and "Approved" in str(c.params) for c in calls))
    served.bot.command("audit kit=acme format=csv", user=COMPLIANCE)
    def to_dm(call: Call) -> bool:
        return call.method == "files.completeUploadExternal" and str(call.params.get("channel_id", "")).startswith("D")

    upload = served.slack.wait_for(lambda calls: any(to_dm(c) for c in calls))
    file_id = next(c.params["files"][0]["id"] for c in upload if to_dm(c))
    [row] = list(csv.DictReader(io.StringIO(served.slack.uploads[file_id].decode())))
    assert row["approval_by"] == f"slack:T0TESTTEAM:{GROUP_MANAGER}" and row["approval_by_name"] == "gus"
    assert [(c["id"], c["name"]) for c in json.loads(row["checks"])] == [("BG101", "headline-text")]
    # The name is read from the decision's own hash-chained event, which still checks out.
    assert row["integrity"] != "tampered" and row["integrity_problems"] == ""


def test_a_decision_recounts_the_parent_post_and_a_rejection_keeps_the_picture(served: BotUnderTest) -> None:
    _, views = _queue_and_finish(served, ["flag", "flag"])
    parent_ts = served.slack.calls_to("chat.postMessage")[0]
    first, second = _image_messages(served)
    parent = first.params["thread_ts"]
    served.slack.wait_for(
        lambda calls: any("2 images: 2 waiting for a brand manager" in str(c.params.get("blocks")) for c in calls)
    )
    served.bot.click(messages.APPROVE, views[0].image_id, ANNA, _message(first))
    served.slack.wait_for(
        lambda calls: any(
            c.method == "chat.update" and c.params["ts"] == parent
            and "2 images: 1 approved, 1 waiting for a brand manager" in str(c.params.get("blocks"))
            for c in calls
        )
    )
    picture = second.params["blocks"][0]["slack_file"]["id"]
    served.bot.click(messages.REJECT, views[1].image_id, ANNA, _message(second))
    opened = served.slack.wait_calls("views.open")[0].params["view"]
    served.bot.submit_view(opened, {"reason": {"value": {"type": "plain_text_input", "value": "Off brand"}}}, user=ANNA)
    calls = served.slack.wait_for(
        lambda calls: any(
            c.method == "chat.update" and "1 rejected by a brand manager" in str(c.params.get("blocks")) for c in calls
        )
    )
    rejected = next(c for c in calls if c.method == "chat.update" and "Off brand" in str(c.params.get("blocks")))
    assert rejected.params["blocks"][0]["slack_file"]["id"] == picture
    assert "Flagged" not in str(rejected.params["blocks"])
    assert parent_ts.params.get("thread_ts") is None

"""The brief form, the audit pull, file verification, and Web API rate limits, through the real app."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

from PIL import Image

from bot import messages
from tests.bot.conftest import COMPLIANCE, MARK, MARKETING, NORDWIND_CHANNEL, BotUnderTest
from tests.pipeline.provenance_world import stripped_of_its_manifest_store, with_provenance_reference


def _open_form(served: BotUnderTest, channel: str = MARKETING) -> dict[str, Any]:
    served.bot.command("", channel=channel)
    return served.slack.wait_calls("views.open")[0].params["view"]


def _values(**fields: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in fields.items():
        if name in ("kit", "size"):
            element = {"type": "static_select", "selected_option": None if value is None else {"value": value}}
        elif name == "n":
            element = {"type": "number_input", "value": value}
        else:
            element = {"type": "plain_text_input", "value": value}
        values[name] = {"value": element}
    return values


def test_the_form_offers_only_the_kits_allowed_in_the_channel(served: BotUnderTest) -> None:
    view = _open_form(served, NORDWIND_CHANNEL)
    kit_block = next(b for b in view["blocks"] if b["block_id"] == "kit")
    assert [o["value"] for o in kit_block["element"]["options"]] == ["nordwind"]
    assert kit_block["element"]["initial_option"]["value"] == "nordwind"
    assert {b["block_id"] for b in view["blocks"]} == {"kit", "prompt", "headline", "disclaimer", "counts", "n", "size"}
    assert json.loads(view["private_metadata"]) == {"channel": NORDWIND_CHANNEL}


def test_a_form_with_missing_and_bad_fields_comes_back_with_errors_under_them(served: BotUnderTest) -> None:
    view = _open_form(served)
    response = served.bot.submit_view(view, _values(kit=None, prompt=None, counts="apples lots", n="0", size="512x512"))
    body = response.json()
    assert body["response_action"] == "errors"
    assert set(body["errors"]) == {"kit", "prompt", "counts"}
    assert "apple:5" in body["errors"]["counts"]
    time.sleep(0.3)
    assert served.records.submissions == []


def test_a_form_whose_fields_break_the_brief_rules_names_the_field(served: BotUnderTest) -> None:
    view = _open_form(served)
    response = served.bot.submit_view(view, _values(kit="acme", prompt="apples", n="40", size="512x512"))
    assert response.json()["response_action"] == "errors"
    assert "16" in response.json()["errors"]["n"]


def test_a_form_naming_a_kit_not_allowed_in_the_channel_is_sent_back(served: BotUnderTest) -> None:
    view = _open_form(served, NORDWIND_CHANNEL)
    response = served.bot.submit_view(view, _values(kit="acme", prompt="apples", n="2", size="512x512"))
    assert "can't be used here" in response.json()["errors"]["kit"]


def test_a_good_form_is_queued_once_even_if_submitted_twice(served: BotUnderTest) -> None:
    view = _open_form(served)
    values = _values(
        kit="acme",
        prompt="five red apples",
        headline="Fresh Deals Friday",
        disclaimer=None,
        counts="apple: 5",
        n="3",
        size="768x768",
    )
    first = served.bot.submit_view(view, values, view_id="VSAMEVIEW1")
    again = served.bot.submit_view(view, values, view_id="VSAMEVIEW1")
    assert first.status_code == again.status_code == 200
    served.slack.wait_calls("chat.postEphemeral", 2)
    [submission] = served.records.submissions
    brief = submission.brief
    assert (brief.kit, brief.prompt, brief.headline, brief.n, brief.size) == (
        "acme",
        "five red apples",
        "Fresh Deals Friday",
        3,
        (768, 768),
    )
    assert brief.counts == {"apple": 5} and brief.disclaimer is None
    assert submission.idempotency_key == "slack:T0TESTTEAM:modal:VSAMEVIEW1"


def test_a_channel_with_no_kits_gets_no_form(served: BotUnderTest) -> None:
    served.bot.command("", channel="CRANDOM")
    assert "no brand kit may be used" in served.slack.wait_calls("chat.postEphemeral")[0].params["text"]
    assert served.slack.calls_to("views.open") == []


def test_a_rate_limited_call_waits_for_retry_after_and_goes_on(served: BotUnderTest) -> None:
    served.slack.rate_limit("chat.postEphemeral", retry_after=1)
    started = time.monotonic()
    served.bot.command('"apples" kit=acme')
    calls = served.slack.wait_for(lambda cs: sum(c.method == "chat.postEphemeral" for c in cs) == 2)
    limited, delivered = [c for c in calls if c.method == "chat.postEphemeral"]
    assert limited.params["_rate_limited"] and "Queued" in delivered.params["text"]
    assert delivered.at - limited.at >= 1.0
    assert time.monotonic() - started < 8


def test_audit_goes_to_the_requesters_dm_as_csv(served: BotUnderTest) -> None:
    served.bot.command('"apples" kit=acme n=1')
    served.slack.wait_calls("chat.postMessage")
    request_id = served.newest_request()
    [view] = served.worker.finish(request_id, ["pass"])
    served.slack.wait_calls("files.completeUploadExternal")
    served.bot.command("audit kit=acme since=2026-01-01 format=csv", user=COMPLIANCE)
    dm = served.slack.wait_calls("conversations.open")[0]
    assert dm.params["users"] == COMPLIANCE
    upload = served.slack.wait_calls("files.completeUploadExternal", 2)[-1]
    assert upload.params["channel_id"] == f"D{COMPLIANCE}"
    assert upload.params["files"][0]["title"].endswith(".csv")
    file_id = upload.params["files"][0]["id"]
    rows = list(csv.DictReader(io.StringIO(served.slack.uploads[file_id].decode())))
    assert [(r["request_id"], r["image_id"], r["kit"]) for r in rows] == [(request_id, view.image_id, "acme")]
    served.slack.wait_for(lambda cs: any("Check your DMs" in str(c.params.get("text")) for c in cs))
    [pulled] = served.records.events("slack.audit_pulled")
    assert pulled.actor == f"slack:T0TESTTEAM:{COMPLIANCE}" and pulled.payload["rows"] == 1


def test_audit_is_refused_to_anyone_outside_compliance(served: BotUnderTest) -> None:
    served.bot.command("audit kit=acme", user=MARK)
    assert "only the compliance group" in served.slack.wait_calls("chat.postEphemeral")[0].params["text"]
    assert served.slack.calls_to("conversations.open") == []
    assert [e.kind for e in served.records.events()] == ["slack.audit_refused"]


def test_audit_by_compliance_group_membership(served: BotUnderTest) -> None:
    served.bot.runtime.settings.slack_compliance_group = "SCOMPLIANCE"
    served.slack.groups["SCOMPLIANCE"] = ["UAUDITOR"]
    served.bot.command("audit format=jsonl", user="UAUDITOR")
    upload = served.slack.wait_calls("files.completeUploadExternal")[0]
    assert upload.params["channel_id"] == "DUAUDITOR" and upload.params["files"][0]["title"].endswith(".jsonl")


def test_audit_with_a_bad_date_says_how_to_write_it(served: BotUnderTest) -> None:
    response = served.bot.command("audit since=yesterday", user=COMPLIANCE)
    assert "YYYY-MM-DD" in response.json()["text"]


def _signed_image(served: BotUnderTest) -> tuple[str, bytes]:
    """An image the pipeline made and signed: (image ID, the bytes as stored)."""
    served.bot.command('"apples" kit=acme n=1')
    served.slack.wait_calls("chat.postMessage")
    [view] = served.worker.finish(served.newest_request(), ["pass"])
    return view.image_id, Path(view.artifact_path).read_bytes()


def _verify_reply(served: BotUnderTest, text: str = "verify") -> str:
    before = len(served.slack.calls_to("chat.postEphemeral"))
    served.bot.command(text)
    return str(served.slack.wait_calls("chat.postEphemeral", before + 1)[-1].params)


def test_verify_checks_the_latest_file_shared_in_the_channel_on_the_real_credentials(served: BotUnderTest) -> None:
    image_id, signed = _signed_image(served)
    served.slack.share_file(MARKETING, "old.png", b"old bytes")
    served.slack.share_file(MARKETING, "found-in-the-wild.png", signed)
    answer = _verify_reply(served)
    assert "*found-in-the-wild.png*: Valid content credentials from a trusted signer" in answer
    assert f"Image id: `{image_id}`" in answer and "Verdict: `pass`" in answer
    assert str(served.bot.runtime.settings.artifacts_dir) not in answer and "/tmp" not in answer


def test_verify_of_a_screenshot_finds_the_image_it_shows(served: BotUnderTest) -> None:
    image_id, signed = _signed_image(served)
    screenshot = io.BytesIO()
    Image.open(io.BytesIO(signed)).convert("RGB").resize((80, 80)).save(screenshot, "JPEG", quality=80)
    file_id = served.slack.share_file("COTHER", "screenshot.jpg", screenshot.getvalue())
    answer = _verify_reply(served, f"verify https://test.slack.com/files/U1/{file_id}/screenshot.jpg")
    assert "No content credentials" in answer and f"visually matches image {image_id}" in answer


def test_verify_of_an_edited_file_says_it_was_changed_after_signing(served: BotUnderTest) -> None:
    _, signed = _signed_image(served)
    tampered = bytearray(signed)
    tampered[len(tampered) // 2] ^= 0xFF
    served.slack.share_file(MARKETING, "edited.png", bytes(tampered))
    assert "Content credentials are invalid: the file was changed after signing" in _verify_reply(served)


def test_verify_of_a_file_that_is_no_image_names_the_file_and_no_server_path(served: BotUnderTest) -> None:
    served.slack.share_file(MARKETING, "poster.png", b"this is not a picture\n" * 20)
    answer = _verify_reply(served)
    assert "poster.png: is not a readable" in answer
    assert "/tmp" not in answer and "brandgate-verify" not in answer


def test_verify_of_a_file_whose_manifest_is_remote_says_so(served: BotUnderTest) -> None:
    picture = Image.new("RGB", (64, 64), (10, 120, 200))
    file_id = served.slack.share_file(
        MARKETING, "cloud.png", with_provenance_reference(picture, "image/png", "https://cdn.example.com/m.c2pa")
    )
    answer = _verify_reply(served, f"verify {file_id}")
    assert "kept elsewhere (a remote manifest)" in answer and "https://cdn.example.com/m.c2pa" in answer


def test_verify_of_a_file_whose_credentials_were_cut_out_says_they_were_removed(served: BotUnderTest) -> None:
    image_id, signed = _signed_image(served)
    served.slack.share_file(MARKETING, "stripped.png", stripped_of_its_manifest_store(signed, "image/png"))
    answer = _verify_reply(served)
    assert "*stripped.png*: Content credentials were removed from this file" in answer
    assert "credentials removed from this file" in answer and f"visually matches image {image_id}" in answer
    assert "invalid" not in answer.lower() and "malformed" not in answer


def test_verify_shows_a_file_name_with_bidi_controls_escaped(served: BotUnderTest) -> None:
    served.slack.share_file(MARKETING, "invoice\u202egnp.exe", b"not an image at all")
    answer = _verify_reply(served)
    assert "\u202e" not in answer and "invoice\\\\u202egnp.exe" in answer


def test_verify_with_nothing_shared_says_what_to_do(served: BotUnderTest) -> None:
    served.bot.command("verify")
    assert "share one" in served.slack.wait_calls("chat.postEphemeral")[0].params["text"]


def test_a_mention_gets_the_help_in_a_thread(served: BotUnderTest) -> None:
    body = json.dumps(
        {
            "token": "x",
            "team_id": "T0TESTTEAM",
            "api_app_id": "ABRANDGATE",
            "type": "event_callback",
            "event_id": "Ev0001",
            "event_time": int(time.time()),
            "event": {
                "type": "app_mention",
                "user": MARK,
                "text": "<@UBOTUSER> help?",
                "ts": "1700000000.000500",
                "channel": MARKETING,
                "event_ts": "1700000000.000500",
            },
        }
    ).encode()
    assert served.bot.post(body, "application/json").status_code == 200
    reply = served.slack.wait_calls("chat.postMessage")[0]
    assert reply.params["thread_ts"] == "1700000000.000500" and "/brandgate" in reply.params["text"]


def test_url_verification_is_answered(served: BotUnderTest) -> None:
    body = json.dumps({"token": "x", "challenge": "abc123", "type": "url_verification"}).encode()
    response = served.bot.post(body, "application/json")
    assert response.json() == {"challenge": "abc123"}


def test_form_values_are_read_from_real_element_shapes() -> None:
    from bot.listeners.views import read_brief_form

    view = messages.brief_modal([("acme", "Acme")], MARKETING)
    view["state"] = {"values": _values(kit="acme", prompt="pears", n="2", size="1024x768", counts="pear=2; apple:1")}
    brief, errors = read_brief_form(view, ["acme"])
    assert errors == {} and brief is not None
    assert brief.size == (1024, 768) and brief.counts == {"pear": 2, "apple": 1}


def test_verify_of_a_stripped_copy_names_the_image_and_who_approved_it(served: BotUnderTest) -> None:
    from tests.bot.conftest import ANNA
    from tests.bot.test_results_and_approvals import HEADLINE_MISS

    served.bot.command('"apples" kit=acme n=1')
    served.slack.wait_calls("chat.postMessage")
    [view] = served.worker.finish(served.newest_request(), ["flag"], {0: [HEADLINE_MISS]})
    served.services.decide(view.image_id, "approved", f"slack:T0TESTTEAM:{ANNA}", None, decided_by_name="Anna")
    stripped = io.BytesIO()
    Image.open(Path(view.artifact_path)).convert("RGB").save(stripped, "PNG")  # credentials gone
    file_id = served.slack.share_file(MARKETING, "from-the-web.png", stripped.getvalue())
    answer = _verify_reply(served, f"verify {file_id}")
    assert "No content credentials" in answer
    assert f"Looks like image `{view.image_id}`" in answer
    assert f"(distance 0): flagged by the checks, approved by <@{ANNA}>" in answer

"""The review desk on the real bot against the fake Slack: the Home tab, decisions from any door, who is told."""

from __future__ import annotations

import json
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from bot import home, messages
from bot.brandgate_services import BrandgateServices
from brandgate.jobs.contract import Submission
from brandgate.jobs.request_side import QueueFront
from brandgate.review import decide
from brandgate.settings import Settings
from policies.brief import brief_from_mapping
from tests.bot.conftest import ANNA, GROUP, GROUP_MANAGER, MARK, MARKETING, BotUnderTest, ServedBot
from tests.bot.test_results_and_approvals import HEADLINE_MISS, _image_messages, _message, _queue_and_finish
from tests.fake_slack import TEAM_ID, Call

MARK_ACTOR = f"slack:{TEAM_ID}:{MARK}"


def open_home(served: BotUnderTest, user: str) -> None:
    body = {
        "token": "legacy-verification-token",
        "team_id": TEAM_ID,
        "api_app_id": "ABRANDGATE",
        "type": "event_callback",
        "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
        "event_time": int(time.time()),
        "event": {
            "type": "app_home_opened",
            "user": user,
            "channel": f"D{user}",
            "tab": "home",
            "event_ts": f"{time.time():.6f}",
        },
    }
    response = served.bot.post(json.dumps(body).encode(), "application/json")
    assert response.status_code == 200


def home_click(served: BotUnderTest, action_id: str, value: str, user: str) -> None:
    response = served.bot.interactive(
        {
            "type": "block_actions",
            "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM_ID},
            "api_app_id": "ABRANDGATE",
            "token": "legacy-verification-token",
            "container": {"type": "view", "view_id": "VHOME"},
            "trigger_id": f"{uuid.uuid4().int % 10**12}.{uuid.uuid4().hex[:8]}",
            "team": {"id": TEAM_ID, "domain": "test"},
            "enterprise": None,
            "is_enterprise_install": False,
            "view": {"id": "VHOME", "type": "home", "blocks": []},
            "actions": [
                {
                    "action_id": action_id,
                    "block_id": f"home:{value}",
                    "value": value,
                    "type": "button",
                    "text": {"type": "plain_text", "text": action_id},
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
    )
    assert response.status_code == 200


def publishes(served: BotUnderTest, user: str) -> list[Call]:
    return [c for c in served.slack.calls_to("views.publish") if c.params["user_id"] == user]


def wait_publish(served: BotUnderTest, user: str, after: int, check: Any = lambda view: True) -> dict[str, Any]:
    """The first view published for `user` after the first `after` ones that passes `check`."""
    found: list[dict[str, Any]] = []

    def seen(calls: list[Call]) -> bool:
        views = [c.params["view"] for c in calls if c.method == "views.publish" and c.params["user_id"] == user]
        found[:] = [v for v in views[after:] if check(v)]
        return bool(found)

    served.slack.wait_for(seen, timeout=20)
    return found[0]


def buttons(view: dict[str, Any]) -> list[tuple[str, str]]:
    return [(e["action_id"], e["value"]) for b in view["blocks"] if b["type"] == "actions" for e in b["elements"]]


def posted(served: BotUnderTest, image_id: str) -> Any:
    """The event recording where the image was posted (written just after its message)."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [e for e in served.records.events("slack.image_posted") if e.subject_id == image_id]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError(f"image {image_id} was never recorded as posted")


def seed(served: BotUnderTest, add_image: Any, **kw: Any) -> str:
    with served.records.sessions.begin() as session:
        return str(add_image(session, **kw).id)


def test_home_opened_publishes_the_waiting_images_with_their_buttons(served: BotUnderTest, add_image: Any) -> None:
    request_id, views = _queue_and_finish(served, ["pass", "flag"])
    now = datetime.now(UTC)
    older = seed(
        served,
        add_image,
        verdict="unverified",
        requested_by="cli:ops",
        created_at=now - timedelta(hours=30),
        checks=[("BG401", "unverified", "flag"), ("BG101", "pass", "flag")],
    )
    seed(served, add_image, kit="nordwind", verdict="flag", created_at=now - timedelta(hours=40))
    seed(served, add_image, verdict="pass", created_at=now - timedelta(hours=50))
    post = posted(served, views[1].image_id)
    open_home(served, ANNA)
    view = wait_publish(served, ANNA, 0)
    assert view["type"] == "home" and view["blocks"][0]["text"]["text"] == "Review desk"
    # acme's two waiting images, oldest first; nordwind is not Anna's, the passed image waits for nobody
    assert buttons(view) == [
        (home.HOME_APPROVE, older),
        (home.HOME_REJECT, older),
        (home.HOME_APPROVE, views[1].image_id),
        (home.HOME_REJECT, views[1].image_id),
    ]
    sections = [b for b in view["blocks"] if b["type"] == "section"]
    text = "\n".join(b["text"]["text"] for b in sections)
    assert "2 images wait in acme" in str(view["blocks"])
    assert "*Objects and people: could not be checked* (BG401)" in text and "waited 30 h" in text
    assert "*The headline isn't in the image exactly as written* (BG101)" in text and f"<@{MARK}>" in text
    assert "asked by cli:ops" in text
    # the Slack-made image shows the file uploaded into its thread; the CLI-made one has none to show
    assert sections[-1]["accessory"]["slack_file"] == {"id": post.payload["file_id"]}
    assert "accessory" not in sections[0] and "made outside Slack" not in str(view["blocks"][-3:])
    assert request_id in str(view["blocks"])


def test_approve_from_home_records_it_and_refreshes_home_and_thread(served: BotUnderTest) -> None:
    _, views = _queue_and_finish(served, ["flag"])
    image_id = views[0].image_id
    post = posted(served, image_id)
    open_home(served, ANNA)
    wait_publish(served, ANNA, 0, lambda v: (home.HOME_APPROVE, image_id) in buttons(v))
    seen = len(publishes(served, ANNA))
    home_click(served, home.HOME_APPROVE, image_id, ANNA)
    refreshed = wait_publish(served, ANNA, seen)
    assert (home.HOME_APPROVE, image_id) not in buttons(refreshed)
    assert "Nothing waits for a decision in acme" in str(refreshed["blocks"])
    assert served.records.decisions()[image_id] == ("approved", f"slack:{TEAM_ID}:{ANNA}", None)
    # the image's message in the thread is edited: approved by Anna, Export HQ instead of the decision buttons
    calls = served.slack.wait_for(
        lambda calls: any(c.method == "chat.update" and c.params["ts"] == post.payload["message_ts"] for c in calls)
    )
    edit = next(c for c in calls if c.method == "chat.update" and c.params["ts"] == post.payload["message_ts"])
    shown = str(edit.params["blocks"])
    assert f"Approved* by <@{ANNA}>" in shown and messages.APPROVE not in shown and messages.EXPORT in shown
    # and the requester is told in the thread, by name, so Slack notifies them
    told = served.slack.wait_for(
        lambda calls: any(f"<@{MARK}> image 1 of 1" in str(c.params.get("text")) for c in calls)
    )
    reply = next(c for c in told if f"<@{MARK}> image 1 of 1" in str(c.params.get("text")))
    assert reply.params["thread_ts"] == post.payload["thread_ts"] and f"approved by <@{ANNA}>" in reply.params["text"]


def test_home_and_thread_decided_at_once_the_first_wins_and_the_other_is_told(served: BotUnderTest) -> None:
    _, views = _queue_and_finish(served, ["flag"])
    image_id = views[0].image_id
    open_home(served, ANNA)
    wait_publish(served, ANNA, 0)
    seen = len(publishes(served, ANNA))
    flagged = _image_messages(served)[0]
    clicks = [
        threading.Thread(target=home_click, args=(served, home.HOME_APPROVE, image_id, ANNA)),
        threading.Thread(target=served.bot.click, args=(messages.APPROVE, image_id, GROUP_MANAGER, _message(flagged))),
    ]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join()
    served.slack.wait_for(lambda calls: len(served.records.decisions()) == 1)
    _, winner, _ = served.records.decisions()[image_id]
    if winner == f"slack:{TEAM_ID}:{ANNA}":
        told = served.slack.wait_for(
            lambda calls: any(c.method == "chat.postEphemeral" and c.params["user"] == GROUP_MANAGER for c in calls)
        )
        text = next(c for c in told if c.method == "chat.postEphemeral" and c.params["user"] == GROUP_MANAGER)
        assert "Not done" in text.params["text"] and f"<@{ANNA}>" in text.params["text"]
    else:
        assert winner == f"slack:{TEAM_ID}:{GROUP_MANAGER}"
        view = wait_publish(served, ANNA, seen, lambda v: "Not done" in str(v["blocks"]))
        assert f"<@{GROUP_MANAGER}>" in str(view["blocks"][1]) and image_id in str(view["blocks"][1])
    assert len(served.records.events("image.approved")) == 1


def test_someone_who_manages_no_kit_sees_their_requests_without_decision_buttons(
    served: BotUnderTest, add_image: Any
) -> None:
    _, views = _queue_and_finish(served, ["flag", "unverified"])
    decide(served.records.sessions, views[1].image_id, "rejected", "cli:ops", "the count is wrong")
    open_home(served, MARK)
    view = wait_publish(served, MARK, 0)
    assert view["blocks"][0]["text"]["text"] == "Your requests"
    assert buttons(view) == [], "a marketer gets no Approve or Reject"
    shown = str(view["blocks"])
    assert "Waiting for a brand manager (1)" in shown and views[0].image_id in shown
    assert f"`{views[1].image_id}` (acme) rejected by cli:ops: the count is wrong" in shown


def test_a_decision_from_the_cli_edits_the_thread_and_tells_the_requester(served: BotUnderTest) -> None:
    _, views = _queue_and_finish(served, ["flag"])
    post = posted(served, views[0].image_id)
    decide(served.records.sessions, views[0].image_id, "rejected", "cli:ops", "logo is stretched")
    calls = served.slack.wait_for(
        lambda calls: (
            any(c.method == "chat.update" and c.params["ts"] == post.payload["message_ts"] for c in calls)
            and any("logo is stretched" in str(c.params.get("text")) for c in calls if c.method == "chat.postMessage")
        )
    )
    edit = next(c for c in calls if c.method == "chat.update" and c.params["ts"] == post.payload["message_ts"])
    assert "Rejected* by cli:ops: logo is stretched" in str(edit.params["blocks"])
    reply = next(c for c in calls if c.method == "chat.postMessage" and "logo is stretched" in str(c.params["text"]))
    assert reply.params["text"].startswith(f":no_entry_sign: <@{MARK}> image 1 of 1")


def test_managers_are_told_once_per_request_not_per_image(served: BotUnderTest) -> None:
    _queue_and_finish(served, ["flag", "unverified", "pass"])
    told = served.slack.wait_for(lambda calls: any(f"<!subteam^{GROUP}>" in str(c.params.get("text")) for c in calls))
    time.sleep(0.5)  # anything that would come per image has come by now
    mentions = [
        c for c in served.slack.calls_to("chat.postMessage") if f"<!subteam^{GROUP}>" in str(c.params.get("text"))
    ]
    assert len(mentions) == 1
    assert "2 of 3 images from kit *acme* need a brand manager's decision" in mentions[0].params["text"]
    assert mentions[0].params["thread_ts"] == _image_messages(served)[0].params["thread_ts"]
    assert told


def test_managers_get_a_dm_where_the_kit_says_so(served: BotUnderTest, real_settings: Settings) -> None:
    path = real_settings.kits_dir / "acme" / "kit.yaml"
    data = yaml.safe_load(path.read_text())
    data["slack"]["review_notify"] = "dm"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    _queue_and_finish(served, ["flag", "flag"])
    served.slack.wait_for(
        lambda calls: (
            sum(c.method == "chat.postMessage" and str(c.params["channel"]).startswith("D") for c in calls) >= 2
        )
    )
    opened = {c.params["users"] for c in served.slack.calls_to("conversations.open")}
    assert opened == {ANNA, GROUP_MANAGER}
    dms = [c for c in served.slack.calls_to("chat.postMessage") if str(c.params["channel"]).startswith("D")]
    assert len(dms) == 2 and all("2 of 2 images from kit *acme*" in c.params["text"] for c in dms)


def test_slash_review_lists_the_channel_kits_queue(served: BotUnderTest, add_image: Any) -> None:
    now = datetime.now(UTC)
    first = seed(served, add_image, verdict="flag", created_at=now - timedelta(hours=5))
    second = seed(served, add_image, kit="nordwind", verdict="unverified", created_at=now - timedelta(hours=2))
    served.bot.command("review", user=MARK, channel=MARKETING)
    [told] = served.slack.wait_calls("chat.postEphemeral")
    text = told.params["text"]
    assert text.startswith("*2 images wait for a decision* in acme, nordwind")
    assert text.index(first) < text.index(second) and "waited 5 h" in text and "(BG101)" in text


def test_a_manager_clears_fifty_waiting_images_from_the_home_tab(served: BotUnderTest, add_image: Any) -> None:
    now = datetime.now(UTC)
    waiting = [
        seed(
            served,
            add_image,
            verdict="flag" if i % 3 else "unverified",
            requested_by="cli:ops",
            created_at=now - timedelta(minutes=200 - i),
            checks=[("BG101", "fail", "flag"), ("BG401", "unverified", "flag")],
        )
        for i in range(50)
    ]
    open_home(served, ANNA)
    view = wait_publish(served, ANNA, 0)
    assert "50 images wait in acme" in str(view["blocks"]) and "Show more (30 older)" in str(view["blocks"])
    decided: list[str] = []
    while True:
        targets = [value for action, value in buttons(view) if action == home.HOME_APPROVE]
        if not targets:
            break
        assert targets == waiting[len(decided) : len(decided) + len(targets)], "oldest first, page by page"
        seen = len(publishes(served, ANNA))
        for image_id in targets:
            home_click(served, home.HOME_APPROVE, image_id, ANNA)
        decided += targets
        left = 50 - len(decided)
        view = wait_publish(
            served,
            ANNA,
            seen,
            lambda v, left=left: (
                (f"{left} images wait" in str(v["blocks"])) if left else "Nothing waits" in str(v["blocks"])
            ),
        )
    assert decided == waiting
    records = served.records.decisions()
    assert {i: records[i][:2] for i in waiting} == {i: ("approved", f"slack:{TEAM_ID}:{ANNA}") for i in waiting}
    assert all(len(c.params["view"]["blocks"]) <= 100 for c in publishes(served, ANNA))
    # no thread was opened, posted to or edited: every decision was made in the Home tab
    assert served.slack.calls_to("chat.update") == [] and served.slack.calls_to("chat.postMessage") == []


def test_a_request_made_outside_slack_tells_its_managers_once(served: BotUnderTest, front: QueueFront) -> None:
    brief = brief_from_mapping({"kit": "acme", "prompt": "five red apples", "n": 3}, "brief")
    accepted = front.submit(Submission(brief=brief, requested_by="cli:ops", source="cli"))
    served.worker.finish(accepted.request_id, ["flag", "pass", "unverified"], {0: [HEADLINE_MISS]})
    # no thread to mention the group in: each manager gets a DM, once
    calls = served.slack.wait_for(
        lambda calls: (
            sum(c.method == "chat.postMessage" and str(c.params["channel"]).startswith("D") for c in calls) >= 2
        )
    )
    time.sleep(1.0)  # several rounds of the loop that follows the trail
    dms = [c for c in served.slack.calls_to("chat.postMessage") if str(c.params["channel"]).startswith("D")]
    assert sorted(c.params["channel"] for c in dms) == [f"D{ANNA}", f"D{GROUP_MANAGER}"]
    assert all(f"2 of 3 images from kit *acme* need a brand manager's decision (request `{accepted.request_id}`)"
               in c.params["text"] for c in dms)  # fmt: skip
    assert not [c for c in calls if c.method == "chat.postMessage" and c.params.get("thread_ts")]


def test_reject_from_home_asks_why_then_tells_the_thread_and_the_requester(served: BotUnderTest) -> None:
    _, views = _queue_and_finish(served, ["flag"])
    image_id = views[0].image_id
    post = posted(served, image_id)
    open_home(served, ANNA)
    wait_publish(served, ANNA, 0, lambda v: (home.HOME_REJECT, image_id) in buttons(v))
    home_click(served, home.HOME_REJECT, image_id, ANNA)
    [opened_call] = served.slack.wait_calls("views.open")
    opened = opened_call.params["view"]
    assert (
        opened["callback_id"] == messages.REJECT_MODAL and json.loads(opened["private_metadata"])["image"] == image_id
    )
    seen = len(publishes(served, ANNA))
    reason = {"reason": {"value": {"type": "plain_text_input", "value": "the logo is stretched"}}}
    assert served.bot.submit_view(opened, reason, user=ANNA).status_code == 200
    refreshed = wait_publish(served, ANNA, seen)
    assert (home.HOME_REJECT, image_id) not in buttons(refreshed)
    assert served.records.decisions()[image_id] == ("rejected", f"slack:{TEAM_ID}:{ANNA}", "the logo is stretched")
    calls = served.slack.wait_for(
        lambda calls: (
            any(c.method == "chat.update" and c.params["ts"] == post.payload["message_ts"] for c in calls)
            and any(
                "the logo is stretched" in str(c.params.get("text")) for c in calls if c.method == "chat.postMessage"
            )
        )
    )
    edit = next(c for c in calls if c.method == "chat.update" and c.params["ts"] == post.payload["message_ts"])
    assert f"Rejected* by <@{ANNA}>: the logo is stretched" in str(edit.params["blocks"])
    reply = next(
        c for c in calls if c.method == "chat.postMessage" and "the logo is stretched" in str(c.params["text"])
    )
    assert reply.params["text"].startswith(f":no_entry_sign: <@{MARK}> image 1 of 1")
    assert reply.params["thread_ts"] == post.payload["thread_ts"]


def test_two_bot_processes_tell_of_a_decision_once(
    served: BotUnderTest, real_settings: Settings, front: QueueFront
) -> None:
    _, views = _queue_and_finish(served, ["flag"])
    post = posted(served, views[0].image_id)
    second = ServedBot(real_settings, BrandgateServices(real_settings, queue=front), served.slack)
    try:
        decide(served.records.sessions, views[0].image_id, "approved", "cli:ops", "fine")
        served.slack.wait_for(lambda calls: any("approved by cli:ops" in str(c.params.get("text")) for c in calls))
        time.sleep(1.5)  # both processes have followed the trail several times by now
    finally:
        second.close()
    told = [c for c in served.slack.calls_to("chat.postMessage") if "approved by cli:ops" in str(c.params.get("text"))]
    edits = [c for c in served.slack.calls_to("chat.update") if c.params["ts"] == post.payload["message_ts"]]
    assert len(told) == 1 and len(edits) == 1

"""The bot on the real audit database: clicks decide through approvals.decide, refusals and pulls are chained events."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from bot import messages
from bot.brandgate_services import BrandgateServices
from bot.services import DecisionTaken
from bot.slash import AuditQuery
from brandgate.db.audit import verify_chain
from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.models import Approval, AuditEvent
from brandgate.settings import Settings
from tests.bot.conftest import ANNA, GROUP_MANAGER, MARK, ServedBot
from tests.fake_slack import TEAM_ID, FakeSlack


@pytest.fixture
def audited(db_settings: Settings, bot_settings: Settings) -> Settings:
    """The bot's settings on a migrated database (SQLite, and PostgreSQL where it runs)."""
    return bot_settings.model_copy(update={"database_url": db_settings.database_url})


@pytest.fixture
def flagged_image(audited: Settings, add_image: Any) -> str:
    sessions = make_sessionmaker(make_engine(audited))
    with sessions.begin() as session:
        image = add_image(session, verdict="flag", requested_by=f"slack:{TEAM_ID}:{MARK}")
        return str(image.id)


@pytest.fixture
def real_bot(audited: Settings, slack: FakeSlack) -> Iterator[ServedBot]:
    bot = ServedBot(audited, BrandgateServices(audited), slack)
    try:
        yield bot
    finally:
        bot.close()


def _events(settings: Settings) -> list[AuditEvent]:
    with make_sessionmaker(make_engine(settings))() as session:
        return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))


def test_a_manager_s_click_is_one_approval_and_one_chained_event(
    real_bot: ServedBot, audited: Settings, flagged_image: str, slack: FakeSlack
) -> None:
    message = {
        "type": "message",
        "ts": "1700000001.000300",
        "blocks": messages.image_blocks(_view(flagged_image), "r", 1),
    }
    real_bot.click(messages.APPROVE, flagged_image, ANNA, message)
    # Clicks are handled after their ack, on a pool: the second is sent once the first has decided,
    # so which one is first is the test's choice, not a race between two handler threads.
    slack.wait_for(
        lambda calls: any(c.method == "chat.update" and "Approved" in str(c.params.get("blocks")) for c in calls)
    )
    real_bot.click(messages.APPROVE, flagged_image, GROUP_MANAGER, message)  # the double click, by someone else
    refused = slack.wait_calls("chat.postEphemeral")[0]
    assert refused.params["user"] == GROUP_MANAGER and "approved" in refused.params["text"]
    with make_sessionmaker(make_engine(audited))() as session:
        [approval] = session.scalars(select(Approval)).all()
    assert (approval.image_id, approval.decision, approval.decided_by) == (
        flagged_image,
        "approved",
        f"slack:{TEAM_ID}:{ANNA}",
    )
    kinds = [(e.kind, e.actor) for e in _events(audited)]
    assert ("image.approved", f"slack:{TEAM_ID}:{ANNA}") in kinds
    assert sum(k == "image.approved" for k, _ in kinds) == 1
    assert verify_chain(make_engine(audited)).intact


def test_a_refused_click_is_an_audit_event(
    real_bot: ServedBot, audited: Settings, flagged_image: str, slack: FakeSlack
) -> None:
    real_bot.click(messages.APPROVE, flagged_image, MARK)
    slack.wait_calls("chat.postEphemeral")
    slack.wait_for(lambda _: any(e.kind == "slack.click_refused" for e in _events(audited)))
    [event] = [e for e in _events(audited) if e.kind == "slack.click_refused"]
    assert event.actor == f"slack:{TEAM_ID}:{MARK}" and event.subject_id == flagged_image
    assert event.payload["action"] == messages.APPROVE and "brand managers" in event.payload["reason"]


def test_decide_twice_says_who_decided_first(audited: Settings, flagged_image: str) -> None:
    services = BrandgateServices(audited)
    services.decide(flagged_image, "rejected", "slack:T:UA", "off-brand colours")
    with pytest.raises(DecisionTaken) as taken:
        services.decide(flagged_image, "approved", "slack:T:UB", None)
    assert (taken.value.decision, taken.value.decided_by) == ("rejected", "slack:T:UA")
    record = services.image(flagged_image)
    assert (record.verdict, record.decided_by, record.workspace, record.requester) == (
        "rejected",
        "slack:T:UA",
        TEAM_ID,
        MARK,
    )
    services.close()


def test_the_trail_is_written_as_jsonl_and_csv(audited: Settings, flagged_image: str) -> None:
    services = BrandgateServices(audited)
    record = services.image(flagged_image)
    out = io.BytesIO()
    assert services.export_trail(AuditQuery(kit="acme", format="jsonl"), out) == 1
    row = json.loads(out.getvalue())
    assert (row["image_id"], row["request_id"], row["kit"]) == (flagged_image, record.request_id, "acme")
    out = io.BytesIO()
    assert services.export_trail(AuditQuery(request_id="nosuchrequest", format="csv"), out) == 0
    assert out.getvalue().startswith(b"image_id,")
    services.close()


def _view(image_id: str) -> Any:
    from brandgate.requests.images import ImageView

    return ImageView(
        image_id=image_id, request_id="r", index=0, verdict="flag", seed=1, kit="acme",
        requested_by="slack:T1:U1", channel="C1", artifact_path="/x.png", manifest_path=None, cost_usd=0.0
    )


def test_verify_runs_the_real_verification_on_a_file_without_credentials(audited: Settings, tmp_path: Path) -> None:
    from PIL import Image

    path = tmp_path / "screenshot.png"
    Image.new("RGB", (64, 64), (10, 120, 200)).save(path)
    services = BrandgateServices(audited)
    summary = services.verify(path.read_bytes(), path.name)
    assert summary["state"] == "no_credentials" and summary["exit_code"] == 5
    assert "No content credentials" in messages.verify_blocks(path.name, summary)[0]["text"]["text"]
    services.close()

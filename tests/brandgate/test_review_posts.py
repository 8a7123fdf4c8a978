"""The scheduler's review desk posts against the fake Slack: reminders once per period per kit, the weekly report."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from sqlalchemy import Engine

from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.schema import upgrade
from brandgate.review import decide
from brandgate.review_posts import period_start, post_governance_report, send_review_reminders
from brandgate.scheduler import REMINDER_JOB_ID, REPORT_JOB_ID, build_scheduler, stop_scheduler
from brandgate.settings import Settings
from tests.conftest import KITS
from tests.fake_slack import FakeSlack, fake_token

ANNA, GROUP_MEMBER, GROUP = "UANNA", "UGROUPIE", "SMANAGERS"


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        fake.groups[GROUP] = [GROUP_MEMBER]
        yield fake


@pytest.fixture
def posting(settings: Settings, tmp_path: Path, slack: FakeSlack) -> Iterator[tuple[Settings, Engine]]:
    kits = tmp_path / "kits"
    shutil.copytree(KITS, kits, ignore=shutil.ignore_patterns("*.py"))
    rules = {
        "acme": {"managers": [ANNA], "manager_group": GROUP},  # reminders by DM, after the default 24 h
        "nordwind": {"review_channel": "CREVIEW", "review_sla_hours": 2},
    }
    for name, slack_rules in rules.items():
        path = kits / name / "kit.yaml"
        data = yaml.safe_load(path.read_text())
        data["slack"] = slack_rules
        path.write_text(yaml.safe_dump(data, sort_keys=False))
    configured = settings.model_copy(
        update={"kits_dir": kits, "slack_bot_token": SecretStr(fake_token()), "slack_api_url": slack.api_url,
                "slack_governance_channel": "CGOVERN", "review_cost_usd": 2.0}
    )  # fmt: skip
    upgrade(configured)
    engine = make_engine(configured)
    yield configured, engine
    engine.dispose()


def _seed(engine: Engine, add_image: Any, now: datetime) -> dict[str, str]:
    with make_sessionmaker(engine).begin() as session:
        return {
            "acme_old": add_image(session, verdict="flag", created_at=now - timedelta(hours=30)).id,
            "acme_new": add_image(session, verdict="unverified", created_at=now - timedelta(hours=10)).id,
            "nordwind": add_image(session, kit="nordwind", verdict="flag", created_at=now - timedelta(hours=3)).id,
            "passed": add_image(session, kit="nordwind", verdict="pass", created_at=now - timedelta(hours=50)).id,
        }


def test_reminders_go_once_per_period_per_kit_and_never_when_nothing_waits_too_long(
    posting: tuple[Settings, Engine], slack: FakeSlack, add_image: Any
) -> None:
    settings, engine = posting
    now = datetime(2026, 12, 7, 10, 30, tzinfo=UTC)
    ids = _seed(engine, add_image, now)
    sent = send_review_reminders(settings, engine, now)
    assert [(r.kit, r.overdue, r.oldest_image) for r in sent] == [("acme", 1, ids["acme_old"]),
                                                                  ("nordwind", 1, ids["nordwind"])]  # fmt: skip
    # acme's managers by DM (named and through the group); nordwind's in its review channel
    assert sent[0].sent_to == (ANNA, GROUP_MEMBER) and sent[1].sent_to == ("CREVIEW",)
    posts = slack.calls_to("chat.postMessage")
    assert [p.params["channel"] for p in posts] == [f"D{ANNA}", f"D{GROUP_MEMBER}", "CREVIEW"]
    assert (
        posts[0]
        .params["text"]
        .startswith(
            ":hourglass: 1 image from kit *acme* has waited longer than 24 h for a brand manager's decision;"
            f" the oldest, `{ids['acme_old']}`, for 30 h."
        )
    )
    assert "<slack://app?team=T0TESTTEAM&id=ABRANDGATE&tab=home|" in posts[0].params["text"]

    # the same period again, a minute later: nothing more
    assert send_review_reminders(settings, engine, now + timedelta(minutes=1)) == []
    assert len(slack.calls_to("chat.postMessage")) == 3

    # nordwind's next 2-hour period: its image still waits; acme's 24-hour period is not over yet
    later = period_start(now, 2) + timedelta(hours=2, minutes=5)
    again = send_review_reminders(settings, engine, later)
    assert [(r.kit, r.overdue) for r in again] == [("nordwind", 1)]

    # decided: nothing waits in nordwind, so its next period sends nothing at all
    decide(make_sessionmaker(engine), ids["nordwind"], "approved", "cli:anna", None)
    assert send_review_reminders(settings, engine, later + timedelta(hours=2)) == []
    assert len(slack.calls_to("chat.postMessage")) == 4


def test_the_scheduler_keeps_the_reminder_and_weekly_report_jobs(posting: tuple[Settings, Engine]) -> None:
    settings, engine = posting
    scheduler = build_scheduler(settings, engine)
    try:
        assert {REMINDER_JOB_ID, REPORT_JOB_ID} <= {job.id for job in scheduler.get_jobs()}
        report = scheduler.get_job(REPORT_JOB_ID)
        assert report.next_run_time.weekday() == 0 and report.next_run_time.hour == 8  # Mondays 08:00 UTC
    finally:
        stop_scheduler(scheduler, wait=False)


def test_the_weekly_report_posts_its_figures_and_charts(
    posting: tuple[Settings, Engine], slack: FakeSlack, add_image: Any
) -> None:
    settings, engine = posting
    now = datetime.now(UTC)
    ids = _seed(engine, add_image, now)
    decide(make_sessionmaker(engine), ids["acme_old"], "rejected", "cli:anna", "logo too small")
    text = post_governance_report(settings, engine, now)
    [upload] = slack.calls_to("files.completeUploadExternal")
    assert upload.params["channel_id"] == "CGOVERN" and upload.params["initial_comment"] == text
    assert [f["title"] for f in upload.params["files"]] == [
        "Auto-pass rate by week",
        "Governance report with weekly trends",
    ]
    # four images in the week: one passed, one rejected by a manager, two waiting; one decision at $2
    assert "images 4: 1 passed without review, 0 approved, 1 rejected by a brand manager, 2 waiting" in text
    assert "auto-pass rate 25.0%" in text and "review $2.00" in text
    uploaded = list(slack.uploads.values())
    assert uploaded[0].startswith(b"\x89PNG") and b'<img class="chart"' in uploaded[1]

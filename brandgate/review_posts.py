"""What the scheduler posts for the review desk: reminders of decisions waiting too long, and the weekly report.

A reminder goes at most once per SLA period per kit (the period's claim is a row in
`scheduler_locks`, so two schedulers, or a restart, never send it twice), and never when
nothing in the kit has waited past its `review_sla_hours`.
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from brandgate.db.engine import make_sessionmaker
from brandgate.errors import ConfigError
from brandgate.kits import list_kits, resolve_kit
from brandgate.report import governance_figures, image_facts, summary_lines, weekly
from brandgate.review import claim_once, waiting_images
from brandgate.settings import Settings
from brandgate.slack_client import web_client
from policies.kit import Kit

if TYPE_CHECKING:
    from slack_sdk import WebClient

log = logging.getLogger(__name__)
EPOCH = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday: SLA periods are counted from here
TREND_WEEKS = 8


@dataclass(frozen=True)
class Reminder:
    """One reminder sent: the kit, how many waited too long, the oldest wait, and where it went."""

    kit: str
    overdue: int
    oldest_s: float
    oldest_image: str
    sent_to: tuple[str, ...]
    text: str


def period_start(now: datetime, hours: float) -> datetime:
    """The start of the SLA period `now` falls in; one reminder per kit per period."""
    length = timedelta(hours=hours)
    return EPOCH + length * ((now - EPOCH) // length)


def _home_link(client: WebClient) -> str:
    """A link that opens the app's Home tab, where Slack tells us the app and workspace."""
    try:
        who = client.auth_test()
    except Exception:  # the reminder still says where to look
        return "the brandgate app's Home tab"
    app, team = who.get("app_id"), who.get("team_id")
    if app and team:
        return f"<slack://app?team={team}&id={app}&tab=home|brandgate's Home tab>"
    return "the brandgate app's Home tab"


def _managers(client: WebClient, kit: Kit, settings: Settings) -> list[str]:
    named = [*kit.spec.slack.managers, *settings.slack_managers]
    group = kit.spec.slack.manager_group
    members: list[str] = []
    if group:
        try:
            members = [str(u) for u in client.usergroups_users_list(usergroup=group).get("users") or []]
        except Exception as exc:
            log.warning("members of %s for the %s reminder: %s", group, kit.name, exc)
    return list(dict.fromkeys([*named, *members]))


def send_review_reminders(settings: Settings, engine: Engine, now: datetime) -> list[Reminder]:
    """Tell each kit's managers about images waiting past the kit's SLA; returns the reminders sent."""
    sessions = make_sessionmaker(engine)
    client: WebClient | None = None
    sent: list[Reminder] = []
    for name in list_kits(settings):
        try:
            kit = resolve_kit(name, settings)
        except Exception as exc:  # one broken kit must not stop the others' reminders
            log.warning("kit %s cannot be loaded for reminders: %s", name, exc)
            continue
        sla = kit.spec.slack.review_sla_hours
        overdue = [w for w in waiting_images(sessions, [kit.name]) if w.waiting_s(now) > sla * 3600]
        if not overdue:
            continue
        period = f"review-reminder:{kit.name}@{period_start(now, sla).isoformat()}"
        if not claim_once(sessions, period, f"{socket.gethostname()}:{os.getpid()}"):
            continue  # this period's reminder for the kit went already
        client = client or web_client(settings, "review reminders")
        oldest = overdue[0]
        text = (
            f":hourglass: {len(overdue)} image{'s' if len(overdue) != 1 else ''} from kit *{kit.name}* "
            f"{'have' if len(overdue) != 1 else 'has'} waited longer than {sla:g} h for a brand manager's decision;"
            f" the oldest, `{oldest.image_id}`, for {oldest.waiting_s(now) / 3600:.0f} h."
            f" Decide in {_home_link(client)}, or with `brandgate review`."
        )
        targets: list[str] = []
        if kit.spec.slack.review_channel:
            client.chat_postMessage(channel=kit.spec.slack.review_channel, text=text)
            targets.append(kit.spec.slack.review_channel)
        else:
            for user in _managers(client, kit, settings):
                opened = client.conversations_open(users=user)
                client.chat_postMessage(channel=str(opened["channel"]["id"]), text=text)
                targets.append(user)
        if not targets:
            log.warning("kit %s has images waiting past its SLA and no one to remind", kit.name)
        sent.append(Reminder(kit.name, len(overdue), oldest.waiting_s(now), oldest.image_id, tuple(targets), text))
    return sent


def post_governance_report(settings: Settings, engine: Engine, now: datetime) -> str:
    """The last seven days' figures and the weekly trend charts, posted to the governance channel."""
    # Lazy: matplotlib loads only when a report is drawn.
    from brandgate.report_page import chart_pngs, report_html

    channel = settings.slack_governance_channel
    if not channel:
        raise ConfigError("the weekly report needs BRANDGATE_SLACK_GOVERNANCE_CHANNEL (a channel ID)")
    sessions = make_sessionmaker(engine)
    week = governance_figures(image_facts(sessions, now - timedelta(days=7), now, None), settings.review_cost_usd)
    trend_facts = image_facts(sessions, now - timedelta(weeks=TREND_WEEKS), now, None)
    weeks = weekly(trend_facts, settings.review_cost_usd, now)
    text = "\n".join([f"*brandgate governance report, the 7 days to {now:%Y-%m-%d}*", *summary_lines(week)])
    client = web_client(settings, "the weekly report")
    with tempfile.TemporaryDirectory(prefix="brandgate-report-") as folder:
        page = Path(folder) / f"governance-{now:%Y-%m-%d}.html"
        page.write_text(
            report_html(governance_figures(trend_facts, settings.review_cost_usd), weeks,
                        f"every kit, the {TREND_WEEKS} weeks to {now:%Y-%m-%d}", now),
            encoding="utf-8",
        )  # fmt: skip
        uploads = [{"file": str(page), "filename": page.name, "title": "Governance report with weekly trends"}]
        if weeks:
            chart = Path(folder) / "auto-pass-and-overrides.png"
            charts = chart_pngs(weeks)
            chart.write_bytes(charts["auto_pass_rate"])
            uploads.insert(0, {"file": str(chart), "filename": chart.name, "title": "Auto-pass rate by week"})
        client.files_upload_v2(channel=channel, file_uploads=uploads, initial_comment=text)
    log.info("posted the weekly governance report", extra={"event": "report.posted", "channel": channel})
    return text

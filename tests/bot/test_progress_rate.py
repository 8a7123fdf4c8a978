"""Progress edits stay inside Slack's chat.update limit (Tier 3, about 50 a minute per workspace) with 10
requests in flight: the real tracker, queue front, database and Slack client against the fake Slack,
driven by a clock the test moves, and chat.update calls counted per simulated minute."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from slack_sdk import WebClient
from sqlalchemy import update

from bot.progress import Followed, ProgressTracker
from brandgate.db.models import Request
from brandgate.jobs.contract import Submission
from policies.brief import Brief
from tests.bot.conftest import MARK, MARKETING, BotUnderTest
from tests.fake_slack import TEAM_ID, fake_token

IN_FLIGHT = 10
SLACK_TIER_3_PER_MINUTE = 50


def _edits_per_minute(served: BotUnderTest, edits_per_minute: int, seconds: int, finish_at: int) -> tuple[
    Counter[int], set[str]
]:
    """Run 10 requests whose step changes every second; returns chat.update calls by minute, and the
    requests whose parent post ended on its verdict line."""
    clock = [0.0]
    client = WebClient(token=fake_token(), base_url=served.slack.api_url)
    tracker = ProgressTracker(
        client, served.services, ThreadPoolExecutor(2), interval=1.0, clock=lambda: clock[0],
        edits_per_minute=edits_per_minute,
    )
    ids = []
    for i in range(IN_FLIGHT):
        accepted = served.services.queue.submit(
            Submission(Brief(kit="acme", prompt=f"red apples {i}"), requested_by=f"slack:{TEAM_ID}:{MARK}",
                       source="slack", channel=MARKETING)
        )
        served.worker.start(accepted.request_id)
        ids.append(accepted.request_id)
        tracker._followed[accepted.request_id] = Followed(accepted.request_id, TEAM_ID, MARK, MARKETING, "brief")
    before = len(served.slack.calls_to("chat.update"))
    per_minute: Counter[int] = Counter()
    for second in range(seconds):
        clock[0] = float(second)
        if second < finish_at:
            with served.worker.sessions.begin() as session:  # every request moves one denoising step a second
                session.execute(update(Request).where(Request.id.in_(ids)).values(progress_step=second + 2,
                                                                                   progress_steps=1000))
        elif second == finish_at:
            for request_id in ids:
                served.worker.finish(request_id, ["pass"])
        tracker.poll_once()
        now = len(served.slack.calls_to("chat.update"))
        per_minute[second // 60] += now - before
        before = now
    tracker.close()
    finished = {
        str(c.params["ts"]) for c in served.slack.calls_to("chat.update") if "1 image: 1 passed" in str(c.params)
    }
    return per_minute, finished


def test_ten_requests_in_flight_stay_inside_the_chat_update_limit(served: BotUnderTest) -> None:
    per_minute, finished = _edits_per_minute(served, edits_per_minute=40, seconds=150, finish_at=120)
    print(f"chat.update per minute, 10 requests in flight, budget 40: {dict(per_minute)}")
    assert all(count <= 40 for count in per_minute.values()), per_minute
    assert max(per_minute.values()) < SLACK_TIER_3_PER_MINUTE
    assert per_minute[0] > 10  # progress is still shown, about every 20 s per request
    # Every request's parent post ended on its verdicts, however busy the minute was.
    assert len(finished) == IN_FLIGHT


def test_without_a_budget_the_same_load_would_break_the_limit(served: BotUnderTest) -> None:
    per_minute, _ = _edits_per_minute(served, edits_per_minute=100_000, seconds=60, finish_at=60)
    print(f"chat.update in the first minute without a budget: {per_minute[0]}")
    assert per_minute[0] > SLACK_TIER_3_PER_MINUTE  # once a second per request, as before: ~600 a minute

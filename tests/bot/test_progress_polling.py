"""How often the progress tracker asks about a request: a waiting one seldom, the one next up
and a running one at the progress rate (real tracker, real Slack client, the fake Slack API)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_sdk import WebClient

from bot.progress import QUEUED_POLL_S, Followed, ProgressTracker
from brandgate.jobs.contract import RequestStatus
from tests.fake_slack import FakeSlack, fake_token


class _Queue:
    """The queue as the tracker reads it: each request's current status."""

    def __init__(self) -> None:
        self.now: dict[str, RequestStatus] = {}

    def status(self, request_id: str) -> RequestStatus:
        return self.now[request_id]


class _Services:
    def __init__(self) -> None:
        self.queue = _Queue()


def _tracker(slack: FakeSlack, services: Any, clock: list[float]) -> ProgressTracker:
    client = WebClient(token=fake_token(), base_url=slack.api_url)
    return ProgressTracker(client, services, ThreadPoolExecutor(1), interval=1.0, clock=lambda: clock[0])


def test_the_request_next_up_is_followed_at_the_running_rate(slack: FakeSlack) -> None:
    services, clock = _Services(), [100.0]
    tracker = _tracker(slack, services, clock)
    services.queue.now["next"] = RequestStatus("next", "queued", 2, position=0)
    services.queue.now["later"] = RequestStatus("later", "queued", 2, position=3)
    next_up = Followed("next", "T1", "U1", "C1", "brief")
    later = Followed("later", "T1", "U1", "C1", "brief")
    tracker._poll(next_up)
    tracker._poll(later)
    assert next_up.next_poll == 100.5  # half the progress interval
    assert later.next_poll == 100.0 + QUEUED_POLL_S

    # The worker takes it at once and is generating before a waiting request's next look: the
    # progress message shows it.
    services.queue.now["next"] = RequestStatus("next", "running", 2, stage="generating", image_index=1, step=3, steps=8)
    clock[0] = 102.0  # one request alone may be edited every 2 s: 30 of the workspace's 40 edits a minute
    tracker._poll(next_up)
    shown = [c for c in slack.calls if c.method == "chat.update"]
    assert shown and "generating 1/2" in shown[-1].params["text"]

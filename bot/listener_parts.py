"""What the listeners share: settings, the door into brandgate, access rules, progress, metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Counter, Histogram
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from bot.access import Access
from bot.middleware.retries import DeliveryLog
from bot.people import DisplayNames
from bot.progress import ProgressTracker
from bot.review_desk import ReviewDesk
from bot.services import Services
from brandgate.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class BotMetrics:
    """The bot's own Prometheus series, in a registry of its own so several apps can live in one process."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.requests = Counter(
            "brandgate_slack_requests_total", "Slack requests handled, by kind", ["kind"], registry=self.registry
        )
        self.ack_seconds = Histogram(
            "brandgate_slack_ack_seconds",
            "Time from receiving a Slack request to answering it",
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0),
            registry=self.registry,
        )
        self.repeats_dropped = Counter(
            "brandgate_slack_repeats_dropped_total",
            "Slack retries and replays acked and dropped",
            registry=self.registry,
        )
        self.refused_clicks = Counter(
            "brandgate_slack_refused_clicks_total",
            "Button clicks refused, by action",
            ["action"],
            registry=self.registry,
        )
        self.submitted = Counter(
            "brandgate_slack_jobs_submitted_total",
            "Requests queued from Slack, by kind",
            ["kind"],
            registry=self.registry,
        )


@dataclass
class Runtime:
    """What every listener is handed: built once by `build_app`, shared by all its threads."""

    settings: Settings
    client: WebClient
    services: Services
    access: Access
    tracker: ProgressTracker
    executor: ThreadPoolExecutor
    deliveries: DeliveryLog
    metrics: BotMetrics
    desk: ReviewDesk
    people: DisplayNames

    def tell(self, channel: str, user: str, text: str, response_url: str | None = None) -> None:
        """An ephemeral answer; through the response URL where the bot may not post (private channels, DMs)."""
        try:
            self.client.chat_postEphemeral(channel=channel, user=user, text=text)
            return
        except SlackApiError as exc:
            if not response_url:
                raise
            log.info(
                "chat.postEphemeral in %s failed (%s); answering via response_url", channel, exc.response.get("error")
            )
        WebhookClient(response_url).send(text=text, response_type="ephemeral")

    def hand_off(self, work: Callable[..., object], *args: object) -> None:
        """Run `work` on the executor after the ack; its failure is logged, never lost in a future."""

        def logged() -> None:
            try:
                work(*args)
            except Exception:
                log.exception("background work %s failed", getattr(work, "__name__", work))

        self.executor.submit(logged)

    def close(self) -> None:
        self.tracker.close()
        self.desk.close()
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.services.close()

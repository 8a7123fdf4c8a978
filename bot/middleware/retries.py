"""Slack redelivers when an ack is late or lost (X-Slack-Retry-Num); a redelivery is acked and dropped.

The in-process log stops repeats cheaply; the durable guarantee is the idempotency key every
job and export carries, so a redelivery to another bot process still queues nothing new.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any

from slack_bolt.middleware import Middleware
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse

log = logging.getLogger(__name__)


def delivery_key(body: Mapping[str, Any], raw: str) -> str:
    """What identifies one thing Slack sent, the same on every retry of it."""
    event_id = body.get("event_id")
    if event_id:
        return f"event:{event_id}"
    trigger_id = body.get("trigger_id")
    if trigger_id:
        return f"trigger:{trigger_id}"
    return "body:" + hashlib.sha256(raw.encode()).hexdigest()


class DeliveryLog:
    """Keys seen in the last `ttl` seconds, at most `capacity` of them."""

    def __init__(self, ttl: float = 600.0, capacity: int = 50_000, clock: Callable[[], float] = time.monotonic):
        self._ttl = ttl
        self._capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, key: str) -> bool:
        """Records the key; True when it was not seen within the window."""
        now = self._clock()
        with self._lock:
            while self._seen:
                _, at = next(iter(self._seen.items()))
                if now - at < self._ttl and len(self._seen) < self._capacity:
                    break
                self._seen.popitem(last=False)
            if key in self._seen:
                return False
            self._seen[key] = now
            return True


class DropRetries(Middleware):
    """Acks a Slack retry of something already received, without running any listener."""

    def __init__(self, deliveries: DeliveryLog, on_drop: Callable[[], None] | None = None) -> None:
        self._deliveries = deliveries
        self._on_drop = on_drop

    def process(self, *, req: BoltRequest, resp: BoltResponse, next: Callable[[], BoltResponse]) -> BoltResponse:
        key = delivery_key(req.body, req.raw_body)
        if not self._deliveries.first_time(key):
            # Slack only repeats a trigger or event as a retry; a repeat without the header is a replay.
            retry = req.headers.get("x-slack-retry-num") or ["none"]
            log.info(
                "dropping repeat of %s (retry %s, reason %s)", key, retry[0], req.headers.get("x-slack-retry-reason")
            )
            if self._on_drop is not None:
                self._on_drop()
            return BoltResponse(status=200, body="")
        return next()

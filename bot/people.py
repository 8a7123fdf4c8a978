"""Slack users' display names from `users.info`, cached: what exports and titles show beside a user ID."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from policies.characters import printable

log = logging.getLogger(__name__)
MAX_NAME_CHARS = 80


class DisplayNames:
    """`users.info` once per user per `ttl` seconds; a failed lookup answers None and is not cached."""

    def __init__(self, client: WebClient, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, str | None]] = {}

    def name(self, user_id: str) -> str | None:
        """The name people know the user by (display name, else real name, else handle); None if unknown."""
        now = self._clock()
        with self._lock:
            hit = self._cache.get(user_id)
            if hit is not None and now - hit[0] < self._ttl:
                return hit[1]
        try:
            user = self._client.users_info(user=user_id).get("user") or {}
        except SlackApiError as exc:
            log.warning("users.info %s failed: %s", user_id, exc.response.get("error"))
            return None
        profile = user.get("profile") or {}
        chosen = next(
            (str(v).strip() for v in (profile.get("display_name"), profile.get("real_name"), user.get("real_name"),
                                      user.get("name")) if isinstance(v, str) and v.strip()),
            None,
        )
        # The name is whatever the user typed: escaped like any other text we show or store.
        shown = printable(chosen, MAX_NAME_CHARS) if chosen else None
        with self._lock:
            self._cache[user_id] = (now, shown)
        return shown

    def label(self, user_id: str) -> str:
        """"Anna Lind (U0789ANNA)", or the ID alone when the name is unknown."""
        found = self.name(user_id)
        return f"{found} ({user_id})" if found else user_id

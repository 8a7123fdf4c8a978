"""Who may do what in Slack: brand managers of a kit, compliance, and which kits a channel may use."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from brandgate.errors import UserError
from brandgate.kits import list_kits, resolve_kit
from brandgate.settings import Settings
from policies.brief import KIT_NAME_PATTERN
from policies.kit import Kit

log = logging.getLogger(__name__)
_KIT_NAME = re.compile(KIT_NAME_PATTERN)


class GroupMembers:
    """Members of Slack user groups from `usergroups.users.list`, cached for `ttl` seconds.

    A failed lookup answers "no members" and is not cached, so a Slack hiccup refuses a click
    (safe) rather than granting one, and the next click asks again.
    """

    def __init__(self, client: WebClient, ttl: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}

    def members(self, group_id: str) -> frozenset[str]:
        now = self._clock()
        with self._lock:
            hit = self._cache.get(group_id)
            if hit is not None and now - hit[0] < self._ttl:
                return hit[1]
        try:
            response = self._client.usergroups_users_list(usergroup=group_id)
        except SlackApiError as exc:
            log.warning("usergroups.users.list %s failed: %s", group_id, exc.response.get("error"))
            return frozenset()
        users = frozenset(str(u) for u in response.get("users") or [])
        with self._lock:
            self._cache[group_id] = (now, users)
        return users


class Access:
    """The rules of who may decide, pull the trail, and use which kit where."""

    def __init__(
        self,
        settings: Settings,
        groups: GroupMembers,
        kit_ttl: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._groups = groups
        self._kit_ttl = kit_ttl
        self._clock = clock
        self._kits: dict[str, tuple[float, Kit]] = {}
        self._lock = threading.Lock()

    def kit(self, name: str) -> Kit:
        """The kit by name; loaded kits are kept briefly, since every click and form asks for one."""
        if not _KIT_NAME.match(name):
            # Slack text is never a path: a kit from Slack is a name under the kits folder.
            raise UserError(f"{name!r} is not a kit name; kits are named like acme")
        now = self._clock()
        with self._lock:
            hit = self._kits.get(name)
        if hit is not None and now - hit[0] < self._kit_ttl:
            return hit[1]
        kit = resolve_kit(name, self._settings)
        with self._lock:
            self._kits[name] = (now, kit)
        return kit

    def kits_for_channel(self, channel_id: str) -> list[Kit]:
        """Kits whose kit.yaml `slack.channels` lists this channel, or lists none (allowed everywhere)."""
        kits = []
        for name in list_kits(self._settings):
            try:
                kit = self.kit(name)
            except Exception as exc:  # one broken kit must not hide the others from the form
                log.warning("kit %s cannot be loaded: %s", name, exc)
                continue
            if not kit.spec.slack.channels or channel_id in kit.spec.slack.channels:
                kits.append(kit)
        return kits

    def is_manager(self, user_id: str, kit: Kit) -> bool:
        if user_id in self._settings.slack_managers or user_id in kit.spec.slack.managers:
            return True
        group = kit.spec.slack.manager_group
        return bool(group) and user_id in self._groups.members(str(group))

    def may_decide(self, user_id: str, kit: Kit, requester: str | None) -> str | None:
        """None when the user may approve or reject this kit's image; else the reason, in their words."""
        if not self.is_manager(user_id, kit):
            return f"only brand managers of *{kit.name}* can approve or reject its images"
        if requester == user_id and not self._settings.slack_allow_self_approval:
            return "you asked for this image, so another brand manager has to decide on it"
        return None

    def group_members(self, group_id: str) -> frozenset[str]:
        return self._groups.members(group_id)

    def is_compliance(self, user_id: str) -> bool:
        if user_id in self._settings.slack_compliance_users:
            return True
        group = self._settings.slack_compliance_group
        return bool(group) and user_id in self._groups.members(str(group))

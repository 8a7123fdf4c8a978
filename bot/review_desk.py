"""The review desk in Slack: Home tabs published, and every decision, from any door, shown everywhere it matters.

Decisions are read back from the audit trail (one loop, by event sequence), so an approval from
the Home tab, from a thread or from `brandgate review approve` on another machine is told the
same way: the image's thread message is edited, the requester hears of it in a way Slack
notifies (a reply naming them, or a DM), and open Home tabs are republished.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import home, messages
from bot.access import Access
from bot.services import Services
from brandgate import clock
from brandgate.kits import list_kits
from brandgate.requests.actors import parse_actor, slack_actor
from brandgate.review import NOT_REVIEWED_SOURCES, DecisionMade, SlackPost
from brandgate.settings import Settings
from policies.kit import Kit

log = logging.getLogger(__name__)
VIEWER_TTL_S = 12 * 3600  # a Home tab opened longer ago than this is not republished on changes


class ReviewDesk:
    """Publishes Home tabs and follows decisions; `start` begins the loop, `close` ends it."""

    def __init__(
        self,
        settings: Settings,
        client: WebClient,
        services: Services,
        access: Access,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._settings = settings
        self._client = client
        self._services = services
        self._access = access
        self._interval = interval
        self._clock = clock
        self._lock = threading.Lock()
        # Called with the request of each decision told: the parent post re-counts its verdicts.
        self.after_decision: Callable[[str], None] | None = None
        self._viewers: dict[str, tuple[float, int]] = {}  # user -> (when opened, page offset)
        self._edited: set[str] = set()
        self._publishing: dict[str, threading.Lock] = {}  # images whose thread message a click here already edited
        self._seq: int | None = None
        self._done_seq: int | None = None  # requests finished outside Slack are followed from here
        self._team_id: str | None = None  # the workspace, learnt from the first Home tab opened
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # --- who manages what --------------------------------------------------------------------

    def _kits(self) -> list[Kit]:
        kits = []
        for name in list_kits(self._settings):
            try:
                kits.append(self._access.kit(name))
            except Exception as exc:  # one broken kit must not hide the others' queues
                log.warning("kit %s cannot be loaded: %s", name, exc)
        return kits

    def kits_managed(self, user: str) -> list[str]:
        return [kit.name for kit in self._kits() if self._access.is_manager(user, kit)]

    # --- the Home tab --------------------------------------------------------------------------

    def publish(self, user: str, team: str | None, notice: str | None = None, offset: int | None = None) -> None:
        """Build and publish one person's Home tab; they are republished on later decisions."""
        with self._lock:
            serial = self._publishing.setdefault(user, threading.Lock())
        # One publish per person at a time: a view read before a decision must not land after one read later.
        with serial:
            self._publish(user, team, notice, offset)

    def _publish(self, user: str, team: str | None, notice: str | None, offset: int | None) -> None:
        with self._lock:
            _, last_offset = self._viewers.get(user, (0.0, 0))
            page = last_offset if offset is None else max(0, offset)
            self._viewers[user] = (self._clock(), page)
            self._team_id = team or self._team_id
        now = clock.now()
        managed = self.kits_managed(user)
        if managed:
            total = self._services.count_waiting(managed)
            if page >= total:
                page = max(0, (total - 1) // home.PAGE_SIZE * home.PAGE_SIZE) if total else 0
            items = self._services.waiting(managed, limit=home.PAGE_SIZE, offset=page)
            posts = self._services.slack_posts([i.image_id for i in items])
            thumbnails = {i: p.file_id for i, p in posts.items() if p.file_id}
            decide = {i.image_id: self._may_decide(user, team, i.requested_by) for i in items}
            view = home.manager_view(items, total, page, managed, now, thumbnails, decide, notice)
        else:
            asked = slack_actor(str(team), user)
            total = self._services.count_waiting(None, requested_by=asked)
            items = self._services.waiting(None, requested_by=asked, limit=home.PAGE_SIZE)
            view = home.requester_view(items, total, self._services.recent_decisions(asked), now, notice)
        try:
            self._client.views_publish(user_id=user, view=view)
        except SlackApiError as exc:
            if exc.response.get("error") != "invalid_blocks" or not managed:
                raise
            # A thumbnail the viewer may not see (a private channel's file) fails the whole view: show it without.
            log.info("Home tab for %s refused with thumbnails; publishing without", user)
            plain = home.manager_view(items, total, page, managed, now, {}, decide, notice)
            self._client.views_publish(user_id=user, view=plain)

    def _may_decide(self, user: str, team: str | None, requested_by: str) -> bool:
        asked = parse_actor(requested_by)
        own = asked is not None and asked[1] == user and (team is None or asked[0] == team)
        return not own or self._settings.slack_allow_self_approval

    def edited_here(self, image_id: str) -> None:
        """A click here already edited the image's thread message; the loop leaves it alone."""
        with self._lock:
            self._edited.add(image_id)

    # --- following decisions -------------------------------------------------------------------

    def start(self) -> None:
        with self._lock:
            if self._thread is not None:
                return
            try:
                self._seq = self._services.last_decision_seq()
                self._done_seq = self._services.last_event_seq()
            except Exception as exc:  # no database yet: the loop learns where the trail stands later
                log.warning("the review desk cannot read the trail yet: %s", exc)
            self._thread = threading.Thread(target=self._run, name="brandgate-review-desk", daemon=True)
            self._thread.start()

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.follow_once()
            except Exception:  # a database or Slack hiccup must not end the loop
                log.exception("following decisions failed")

    def follow_once(self) -> list[DecisionMade]:
        """Tell everyone of the decisions made since the last look; returns them."""
        if self._seq is None or self._done_seq is None:
            self._seq = self._services.last_decision_seq()
            self._done_seq = self._services.last_event_seq()
            return []
        self._tell_managers_of_unthreaded()
        decisions = self._services.decisions_after(self._seq)
        if not decisions:
            return []
        self._seq = decisions[-1].seq
        posts = self._services.slack_posts([d.image_id for d in decisions])
        for decision in decisions:
            try:
                # Several bot processes follow the same trail; one of them edits the thread and tells the requester.
                if self._services.claim_once(f"decision-told:{decision.image_id}"):
                    self._tell(decision, posts.get(decision.image_id))
            except Exception:
                log.exception("telling of the decision on %s failed", decision.image_id)
        self._republish({d.kit for d in decisions}, {d.requested_by for d in decisions})
        return decisions

    def _tell_managers_of_unthreaded(self) -> None:
        """Requests made outside Slack have no thread: their kit's managers hear of them here, once."""
        finished = self._services.finished_after(self._done_seq or 0)
        if not finished:
            return
        self._done_seq = finished[-1].seq
        for request in finished:
            if request.waiting and request.source not in ("slack", "export", *NOT_REVIEWED_SOURCES):
                try:
                    self.request_needs_decisions(
                        request.kit, None, None, request.request_id, request.waiting, request.n_images
                    )
                except Exception:
                    log.exception("telling the managers about request %s failed", request.request_id)

    def _tell(self, decision: DecisionMade, post: SlackPost | None) -> None:
        with self._lock:
            edited = decision.image_id in self._edited
            self._edited.discard(decision.image_id)
        if not edited and self.after_decision is not None:
            self.after_decision(decision.request_id)  # a decision from the Home tab or the CLI
        if post is not None and post.channel and post.message_ts and not edited:
            status = self._services.queue.status(decision.request_id)
            shown = [v for v in status.images if v.image_id == decision.image_id]
            if shown:
                blocks = messages.image_message_blocks(shown[0], decision.request_id, status.n_images, post.file_id)
                self._client.chat_update(
                    channel=post.channel,
                    ts=post.message_ts,
                    text=f"Image {decision.decision}",
                    blocks=messages.decided_blocks(
                        blocks, decision.image_id, decision.decision, decision.decided_by, decision.reason
                    ),
                )
        asked = parse_actor(decision.requested_by)
        if asked is None:
            return  # asked for from the CLI or a script: nobody in Slack to tell
        text = decision_text(decision, asked[1])
        if post is not None and post.channel and post.thread_ts:
            self._client.chat_postMessage(channel=post.channel, thread_ts=post.thread_ts, text=text)
        else:
            self.direct_message(asked[1], text)

    def _republish(self, kits: set[str], requesters: set[str]) -> None:
        with self._lock:
            now = self._clock()
            viewers = [u for u, (at, _) in self._viewers.items() if now - at < VIEWER_TTL_S]
        team = self._team()
        for user in viewers:
            managed = set(self.kits_managed(user))
            if managed & kits or slack_actor(str(team), user) in requesters:
                try:
                    self.publish(user, team)
                except Exception:
                    log.exception("republishing the Home tab of %s failed", user)

    def _team(self) -> str | None:
        return self._team_id

    def direct_message(self, user: str, text: str) -> None:
        opened = self._client.conversations_open(users=user)
        self._client.chat_postMessage(channel=str(opened["channel"]["id"]), text=text)

    # --- telling managers that something waits ---------------------------------------------------

    def managers_of(self, kit: Kit) -> list[str]:
        """The managers a DM reaches: those named in the kit and settings, and the group's members."""
        named = [*kit.spec.slack.managers, *self._settings.slack_managers]
        group = kit.spec.slack.manager_group
        members = sorted(self._access.group_members(str(group))) if group else []
        return list(dict.fromkeys([*named, *members]))

    def request_needs_decisions(
        self, kit_name: str, channel: str | None, thread_ts: str | None, request_id: str, waiting: int, n_images: int
    ) -> None:
        """Once per request: the kit's managers hear that its images wait (the thread, or DMs)."""
        try:
            kit = self._access.kit(kit_name)
        except Exception as exc:
            log.warning("cannot tell the managers of %s: %s", kit_name, exc)
            return
        if not self._services.claim_once(f"review-notify:{request_id}"):
            return  # told already (by this process before a restart, or by another bot process)
        what = (
            f"{waiting} of {n_images} image{'s' if n_images != 1 else ''} from kit *{kit.name}* "
            f"need{'s' if waiting == 1 else ''} a brand manager's decision (request `{request_id}`)"
        )
        if not channel and kit.spec.slack.review_channel:
            channel, thread_ts = kit.spec.slack.review_channel, None  # no thread: the kit's review channel
        if kit.spec.slack.review_notify == "dm" or not channel:
            for user in self.managers_of(kit):
                self.direct_message(user, f":inbox_tray: {what}. Decide in the thread or in the app's Home tab.")
            return
        group = kit.spec.slack.manager_group
        who = [f"<!subteam^{group}>"] if group else [f"<@{u}>" for u in self.managers_of(kit)]
        self._client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=f":inbox_tray: {' '.join(who) or 'Brand managers'}: {what}. Approve or reject them here,"
            " or in the app's Home tab.",
        )


def decision_text(decision: DecisionMade, requester: str) -> str:
    """What the requester is told: which image, what, by whom and why; naming them makes Slack notify."""
    icon, words = messages.VERDICT_WORDS[decision.decision]
    why = f": {decision.reason}" if decision.reason else ""
    return (
        f"{icon} <@{requester}> image {decision.index + 1} of {decision.n_images} (`{decision.image_id}`) was"
        f" {words.lower()} by {messages.mention(decision.decided_by)}{why}"
    )

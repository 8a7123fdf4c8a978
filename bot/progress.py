"""Following queued requests: one thread message edited with progress, then the images with their verdicts."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.services import Services
from brandgate.jobs.contract import RequestStatus
from brandgate.logs import in_request
from brandgate.requests.decisions import needs_a_person
from brandgate.requests.images import ImageView
from brandgate.requests.states import TERMINAL_STATES
from brandgate.review import SlackPost

log = logging.getLogger(__name__)
QUEUED_POLL_S = 2.0
DELIVERED_KEPT = 2000  # finished requests whose parent post a decision may re-count


def progress_key(status: RequestStatus) -> tuple[object, ...]:
    """What makes the thread's progress line worth editing.

    The place in the queue is left out: every finished job moves everyone behind it, and editing
    hundreds of waiting threads for that would spend Slack's chat.update rate limit (about 50 a
    minute) on nothing. The ephemeral answer and `/brandgate status` give the place.
    """
    return (status.state, status.stage, status.image_index, status.step)


@dataclass
class Followed:
    """One request being shown in one Slack thread."""

    request_id: str
    team_id: str
    user_id: str
    channel: str
    heading: str  # the text above the progress line: the brief, or what was clicked
    thread_ts: str | None = None  # the thread replies go to; None: the progress message starts one
    message_ts: str | None = None  # the progress message, once posted
    kind: str = "preview"  # preview or export
    # (kit, headline, prompt): what uploaded files are named after, like acme-fresh-deals-1234-1.png
    naming: tuple[str, str | None, str] = ("brandgate", None, "image")
    approval: str | None = None  # an export's: the decision that let it be made ("approved by Anna (U…)")
    last_shown: tuple[object, ...] = ()
    last_edit: float = field(default=0.0)
    next_poll: float = field(default=0.0)


class EditBudget:
    """Progress edits per workspace in any 60 s window, under Slack's `chat.update` limit (Tier 3, ~50/min).

    Edits of a finished request (its last line: the verdicts) may use the whole budget; edits of
    progress only `PROGRESS_SHARE` of it, so a finished request is never kept waiting behind steps.
    """

    WINDOW_S = 60.0
    PROGRESS_SHARE = 0.75

    def __init__(self, per_minute: int) -> None:
        self.per_minute = per_minute
        self._edits: dict[str, deque[float]] = {}

    def _window(self, team: str, now: float) -> deque[float]:
        edits = self._edits.setdefault(team, deque())
        while edits and now - edits[0] >= self.WINDOW_S:
            edits.popleft()
        return edits

    def take(self, team: str, now: float, final: bool) -> bool:
        """Count one edit now if the budget allows it; False: wait and show a newer state later."""
        edits = self._window(team, now)
        allowed = self.per_minute if final else max(1, int(self.per_minute * self.PROGRESS_SHARE))
        if len(edits) >= allowed:
            return False
        edits.append(now)
        return True

    def spacing(self, followed: int, interval: float) -> float:
        """Least time between one request's progress edits when `followed` requests share the budget."""
        return max(interval, self.WINDOW_S * followed / max(1, int(self.per_minute * self.PROGRESS_SHARE)))


class ProgressTracker:
    """One loop thread polls every followed request and edits each thread's progress line.

    Edits are batched to stay inside Slack's `chat.update` limit: each workspace has an
    `EditBudget` of edits per minute, shared by its followed requests, so with many requests in
    flight each one's line is edited less often (10 requests at 40 a minute: every 20 s or so),
    and only its newest state is shown. One loop for all requests keeps a busy bot at one poller,
    not a thread per request; the slow part (uploading images) runs on the executor.
    """

    def __init__(
        self,
        client: WebClient,
        services: Services,
        executor: Executor,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        edits_per_minute: int = 40,
    ) -> None:
        self._client = client
        self._services = services
        self._executor = executor
        self._interval = interval
        self._clock = clock
        self._budget = EditBudget(edits_per_minute)
        self._followed: dict[str, Followed] = {}
        # Told once per request when images wait for a brand manager: (kit, channel, thread, request, waiting, n).
        self.needs_decisions: Callable[[str, str | None, str | None, str, int, int], None] | None = None
        # Finished requests' parent posts, newest last: a decision re-counts the verdicts there.
        self._delivered: OrderedDict[str, Followed] = OrderedDict()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def follow(self, followed: Followed) -> None:
        with self._lock:
            self._followed.setdefault(followed.request_id, followed)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="brandgate-progress", daemon=True)
                self._thread.start()

    def followed_by(self, user_id: str) -> list[Followed]:
        with self._lock:
            return [f for f in self._followed.values() if f.user_id == user_id]

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        tick = min(0.25, self._interval / 4)
        while not self._stop.is_set():
            self.poll_once()
            self._stop.wait(tick)

    def poll_once(self) -> None:
        """One round over every followed request (the loop's body; tests drive it with their own clock)."""
        with self._lock:
            current = list(self._followed.values())
        teams: dict[str, int] = {}
        for followed in current:
            teams[followed.team_id] = teams.get(followed.team_id, 0) + 1
        for followed in current:
            try:
                with in_request(followed.request_id):
                    self._poll(followed, teams[followed.team_id])
            except Exception:  # one request's trouble must not stop the others' progress
                log.exception("following request %s failed", followed.request_id)

    def _poll(self, followed: Followed, sharing: int = 1) -> None:
        now = self._clock()
        if now < followed.next_poll:
            return
        status = self._services.queue.status(followed.request_id)
        # Waiting requests are asked about less often: with a long queue, polling every one of
        # them at the running rate would load the database for nothing. The one next up is asked
        # at the running rate, or its first seconds of work (a short run's whole generation)
        # would pass unseen behind "queued".
        waiting = status.state == "queued" and (status.position or 0) > 0
        followed.next_poll = now + (QUEUED_POLL_S if waiting else self._interval / 2)
        shown = progress_key(status)
        final = status.state in TERMINAL_STATES
        spacing = self._interval if final else self._budget.spacing(sharing, self._interval)
        first = followed.message_ts is None  # the thread starts at once, whatever the spacing
        due = shown != followed.last_shown and (first or now - followed.last_edit >= spacing)
        if due and self._may_show(followed, now, final):
            self._show(followed, status)
            followed.last_shown = shown
            followed.last_edit = now
        if status.state in TERMINAL_STATES and followed.last_shown == shown:
            with self._lock:
                self._followed.pop(followed.request_id, None)
                if followed.kind == "preview" and followed.message_ts is not None:
                    self._delivered[followed.request_id] = followed
                    while len(self._delivered) > DELIVERED_KEPT:
                        self._delivered.popitem(last=False)
            self._executor.submit(self._deliver_safely, followed, status)

    def _may_show(self, followed: Followed, now: float, final: bool) -> bool:
        # The first post starts the thread (chat.postMessage, limited per channel, not per workspace).
        if followed.message_ts is None:
            return True
        with self._lock:  # decisions re-count parent posts from listener threads
            return self._budget.take(followed.team_id, now, final)

    def _show(self, followed: Followed, status: RequestStatus) -> None:
        blocks = messages.progress_blocks(followed.heading, status)
        said = messages.verdict_summary(status.images)[1] if status.state == "done" else status.describe()
        text = f"brandgate: {said}"
        if followed.message_ts is None:
            posted = self._client.chat_postMessage(
                channel=followed.channel, thread_ts=followed.thread_ts, text=text, blocks=blocks
            )
            followed.message_ts = str(posted["ts"])
            followed.channel = str(posted.get("channel") or followed.channel)
            if followed.thread_ts is None:
                followed.thread_ts = followed.message_ts
        else:
            self._client.chat_update(channel=followed.channel, ts=followed.message_ts, text=text, blocks=blocks)

    def recount(self, request_id: str) -> None:
        """After a decision: the request's parent post counts its verdicts again ("1 passed, 1 approved").

        Only posts this process made and still remembers; the edit spends the workspace's budget
        like a finished request's last line, and waits for nothing when the budget is spent
        (the image's own message already shows the decision).
        """
        with self._lock:
            followed = self._delivered.get(request_id)
        if followed is None or followed.message_ts is None:
            return
        status = self._services.queue.status(request_id)
        with self._lock:
            allowed = self._budget.take(followed.team_id, self._clock(), final=True)
        if allowed:
            self._show(followed, status)

    def _deliver_safely(self, followed: Followed, status: RequestStatus) -> None:
        try:
            with in_request(followed.request_id):
                self.deliver(followed, status)
        except Exception:
            log.exception("delivering request %s to Slack failed", followed.request_id)

    def deliver(self, followed: Followed, status: RequestStatus) -> None:
        """The images into the thread, each with its verdict and buttons, or why there are none."""
        if followed.message_ts is None:
            self._show(followed, status)
        thread = followed.thread_ts
        if status.state == "failed":
            self._client.chat_postMessage(
                channel=followed.channel,
                thread_ts=thread,
                text=messages.error_text(f"<@{followed.user_id}> the request failed: {status.failure_reason}"),
            )
            return
        for image in status.images:
            if followed.kind == "export":
                self._upload_export(followed, image, thread)
            else:
                self._post_image(followed, image, status, thread)
        self._tell_managers(followed, status, thread)

    def _file_name(self, followed: Followed, image: ImageView, path: Path) -> str:
        kit, headline, prompt = followed.naming
        return messages.upload_name(
            kit, headline, prompt, image.seed, image.index, path.suffix.lower(), followed.kind == "export"
        )

    def _upload_export(self, followed: Followed, image: ImageView, thread: str | None) -> None:
        path = Path(image.artifact_path)
        title = messages.export_title(image, followed.approval)
        try:
            self._client.files_upload_v2(
                channel=followed.channel, thread_ts=thread, file=str(path),
                filename=self._file_name(followed, image, path), title=title,
            )
        except (SlackApiError, OSError) as exc:
            self._not_uploaded(followed, image, thread, exc)

    def _post_image(self, followed: Followed, image: ImageView, status: RequestStatus, thread: str | None) -> None:
        """The image, its verdict and its buttons as one message: the file is uploaded unshared, then
        shown in the message by an image block (Block Kit's slack_file), so a click edits the one
        message that shows the picture."""
        path = Path(image.artifact_path)
        title = messages.upload_title(image, status.n_images)
        blocks = messages.image_blocks(image, status.request_id, status.n_images)
        try:
            uploaded = self._client.files_upload_v2(
                file=str(path), filename=self._file_name(followed, image, path), title=title
            )
            file_id = str(uploaded["file"]["id"])
        except (SlackApiError, OSError, KeyError, TypeError) as exc:
            self._not_uploaded(followed, image, thread, exc)
            posted = self._client.chat_postMessage(
                channel=followed.channel, thread_ts=thread, text=title, blocks=blocks
            )
            self._remember(image.image_id, SlackPost(followed.channel, thread, str(posted.get("ts")), None))
            return
        try:
            posted = self._client.chat_postMessage(
                channel=followed.channel, thread_ts=thread, text=title,
                blocks=[messages.image_block(file_id, title), *blocks],
            )
        except SlackApiError as exc:
            # A workspace or client that will not show the file inline: share it in the thread,
            # then the verdict and buttons below it, as two messages.
            log.warning("showing image %s inline failed (%s); sharing it instead", image.image_id,
                        exc.response.get("error"))
            self._client.files_completeUploadExternal(
                files=[{"id": file_id, "title": title}], channel_id=followed.channel, thread_ts=thread
            )
            posted = self._client.chat_postMessage(
                channel=followed.channel, thread_ts=thread, text=title, blocks=blocks
            )
        self._remember(image.image_id, SlackPost(followed.channel, thread, str(posted.get("ts")), file_id))

    def _tell_managers(self, followed: Followed, status: RequestStatus, thread: str | None) -> None:
        waiting = [i for i in status.images if needs_a_person(i.verdict)]
        if followed.kind == "preview" and waiting and self.needs_decisions is not None:
            try:
                kit = str(self._services.image(waiting[0].image_id).kit)
                self.needs_decisions(kit, followed.channel, thread, status.request_id, len(waiting), status.n_images)
            except Exception:
                log.exception("telling the managers about request %s failed", status.request_id)

    def _remember(self, image_id: str, post: SlackPost) -> None:
        # Where the image is shown, so a decision made elsewhere (Home tab, CLI) can edit it and reply.
        try:
            self._services.record_post(image_id, post)
        except Exception:
            log.exception("recording where image %s was posted failed", image_id)

    def _not_uploaded(self, followed: Followed, image: ImageView, thread: str | None, exc: Exception) -> None:
        # The server path stays in the log; the thread is told the image ID, which `status` resolves.
        log.warning("uploading %s failed: %s", image.artifact_path, exc)
        self._client.chat_postMessage(
            channel=followed.channel,
            thread_ts=thread,
            text=messages.error_text(
                f"image {image.image_id} could not be uploaded; it is kept, and"
                f" `brandgate status {followed.request_id}` shows where"
            ),
        )

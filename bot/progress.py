"""Following queued requests: one thread message edited with progress, then the images with their verdicts."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot import messages
from bot.services import Services
from brandgate.jobs.api import JobStatus
from brandgate.logs import in_request

log = logging.getLogger(__name__)
TERMINAL = ("done", "failed", "cancelled")
QUEUED_POLL_S = 2.0


def progress_key(status: JobStatus) -> tuple[object, ...]:
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
    last_shown: tuple[object, ...] = ()
    last_edit: float = field(default=0.0)
    next_poll: float = field(default=0.0)


class ProgressTracker:
    """One loop thread polls every followed request; edits happen at most once per interval per thread.

    One loop for all requests keeps a busy bot at one poller, not a thread per request; the slow
    part (uploading images) runs on the executor.
    """

    def __init__(
        self,
        client: WebClient,
        services: Services,
        executor: Executor,
        interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._services = services
        self._executor = executor
        self._interval = interval
        self._clock = clock
        self._followed: dict[str, Followed] = {}
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
            with self._lock:
                current = list(self._followed.values())
            for followed in current:
                try:
                    with in_request(followed.request_id):
                        self._poll(followed)
                except Exception:  # one request's trouble must not stop the others' progress
                    log.exception("following request %s failed", followed.request_id)
            self._stop.wait(tick)

    def _poll(self, followed: Followed) -> None:
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
        if shown != followed.last_shown and now - followed.last_edit >= self._interval:
            self._show(followed, status)
            followed.last_shown = shown
            followed.last_edit = now
        if status.state in TERMINAL and followed.last_shown == shown:
            with self._lock:
                self._followed.pop(followed.request_id, None)
            self._executor.submit(self._deliver_safely, followed, status)

    def _show(self, followed: Followed, status: JobStatus) -> None:
        blocks = messages.progress_blocks(followed.heading, status)
        text = f"brandgate: {status.describe()}"
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

    def _deliver_safely(self, followed: Followed, status: JobStatus) -> None:
        try:
            with in_request(followed.request_id):
                self.deliver(followed, status)
        except Exception:
            log.exception("delivering request %s to Slack failed", followed.request_id)

    def deliver(self, followed: Followed, status: JobStatus) -> None:
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
            path = Path(image.artifact_path)
            title = messages.upload_title(image, status.n_images)
            if followed.kind == "export":
                title = f"HQ export: {title}"
            try:
                self._client.files_upload_v2(
                    channel=followed.channel,
                    thread_ts=thread,
                    file=str(path),
                    filename=path.name,
                    title=title,
                )
            except (SlackApiError, OSError) as exc:
                log.warning("uploading %s failed: %s", path, exc)
                self._client.chat_postMessage(
                    channel=followed.channel,
                    thread_ts=thread,
                    text=messages.error_text(f"image {image.image_id} could not be uploaded; it is kept at {path}"),
                )
            if followed.kind == "preview":
                self._client.chat_postMessage(
                    channel=followed.channel,
                    thread_ts=thread,
                    text=title,
                    blocks=messages.image_blocks(image, status.request_id, status.n_images),
                )

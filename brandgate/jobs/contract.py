"""The job queue's contract: the `JobQueue` protocol the CLI, the bot and the regression suite program against,
what it takes and answers, and its errors.

Backends (`local` thread pool, `celery`) implement `JobQueue`; `open_queue(settings)`
(in brandgate.jobs.queues) picks one from settings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Protocol

from brandgate.errors import BrandgateError, UserError
from brandgate.requests.images import ImageView
from brandgate.requests.states import State
from policies.brief import Brief

QueueName = Literal["preview", "export"]


class LimitExceeded(UserError):
    """A quota or budget from settings would be broken; nothing was queued."""


class BriefRefused(UserError):
    """The kit's policy refuses the brief itself (BG501: a banned or unsafe term): an outcome, not a failure.

    Found at intake, from the brief and kit alone, so nothing is recorded, queued or charged.
    """

    outcome = "refused"

    def __init__(self, reason: str, check_ids: tuple[str, ...]) -> None:
        self.reason = reason
        self.check_ids = check_ids
        super().__init__(f"refused by the brand policy: {reason}")


class QueueUnavailable(BrandgateError):
    """The broker or database cannot take the request; nothing was queued."""


class UnknownRequest(UserError):
    """No request or image with that ID."""


@dataclass(frozen=True)
class Submission:
    brief: Brief
    requested_by: str
    source: str = "cli"  # cli, slack, regress
    channel: str | None = None
    idempotency_key: str | None = None  # Slack retry / button click that made it
    profile: str = "preview"
    # False: a request for the preview profile runs on the profile the model gate made active.
    # The regression suite pins its profile, since it measures one profile against another.
    pin_profile: bool = False


@dataclass(frozen=True)
class Accepted:
    request_id: str
    duplicate: bool  # the idempotency key was seen before: nothing new was queued
    position: int  # requests ahead of this one in its queue; 0 = next


@dataclass(frozen=True)
class RequestStatus:
    request_id: str
    state: State
    n_images: int
    position: int | None = None  # while queued
    stage: str | None = None  # screening, generating, composing, checking, signing, storing
    image_index: int | None = None  # 1-based, while generating
    step: int | None = None
    steps: int | None = None
    failure_reason: str | None = None
    cost_usd: float = 0.0
    images: tuple[ImageView, ...] = field(default=())

    def describe(self) -> str:
        """The words a person sees: 'queued, 3 ahead of you', 'generating 2/4, step 14/25'."""
        if self.state == "queued":
            ahead = self.position or 0
            return "queued, next up" if ahead == 0 else f"queued, {ahead} ahead of you"
        if self.state == "running":
            if self.stage == "generating" and self.image_index is not None:
                text = f"generating {self.image_index}/{self.n_images}"
                if self.step is not None and self.steps:
                    text += f", step {self.step}/{self.steps}"
                return text
            return self.stage or "running"
        if self.state == "failed":
            return f"failed: {self.failure_reason or 'unknown reason'}"
        if self.state == "cancelled":
            return "cancelled"
        return f"done: {len(self.images)} image(s)"


class JobQueue(Protocol):
    def submit(self, submission: Submission) -> Accepted:
        """Check limits, record the request and queue it once per idempotency key."""
        ...

    def export(self, image_id: str, requested_by: str, idempotency_key: str | None = None) -> Accepted:
        """Queue the HQ export of a preview image on the export queue."""
        ...

    def status(self, request_id: str) -> RequestStatus: ...

    def cancel(self, request_id: str, by: str) -> RequestStatus:
        """Remove a queued request, or stop a running one at its next denoising step."""
        ...

    def wait(self, request_id: str, timeout: float) -> RequestStatus:
        """Block until the request is done, failed or cancelled, or the timeout passes."""
        ...

    def close(self) -> None: ...

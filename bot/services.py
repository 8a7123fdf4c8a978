"""What the bot asks of brandgate: the `Services` protocol the listeners program against.

`bot.brandgate_services.BrandgateServices` wires it to the queue, the database and verification;
tests can hand the app the same real wiring.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Protocol

from bot.slash import AuditQuery
from brandgate import review
from brandgate.errors import UserError
from brandgate.jobs.contract import JobQueue
from brandgate.requests.images import ImageView
from policies.check import Decision


class DecisionTaken(UserError):
    """Someone decided this image already; nothing changed."""

    def __init__(self, decision: str, decided_by: str) -> None:
        self.decision = decision
        self.decided_by = decided_by
        super().__init__(f"already {decision} by {decided_by}")


class Services(Protocol):
    """Everything the bot asks of brandgate; `BrandgateServices` wires it to the real modules."""

    @property
    def queue(self) -> JobQueue: ...

    def image(self, image_id: str) -> ImageView:
        """The image and its request; UnknownRequest when there is none."""
        ...

    def requester(self, request_id: str) -> str:
        """Who asked for the request (an actor name); UnknownRequest when there is none."""
        ...

    def decide(
        self, image_id: str, decision: Decision, decided_by: str, reason: str | None, decided_by_name: str | None = None
    ) -> None:
        """Record one decision per image (with the decider's display name as Slack gave it then);
        DecisionTaken when one exists."""
        ...

    def record(self, actor: str, kind: str, subject_id: str | None, payload: Mapping[str, Any]) -> None:
        """Append an audit event (refused clicks, audit pulls)."""
        ...

    def export_trail(self, query: AuditQuery, out: IO[bytes]) -> int:
        """Write the trail as JSONL or CSV to `out`; returns the number of rows."""
        ...

    def verify(self, data: bytes, name: str) -> Mapping[str, Any]:
        """The credentials summary of a file's bytes, as `brandgate verify --json` prints it."""
        ...

    def waiting(
        self, kits: list[str] | None, requested_by: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[review.WaitingImage]:
        """Undecided images, oldest first (brandgate.review.waiting_images)."""
        ...

    def count_waiting(self, kits: list[str] | None, requested_by: str | None = None) -> int: ...

    def recent_decisions(self, requested_by: str, limit: int = 10) -> list[review.DecisionMade]: ...

    def last_decision_seq(self) -> int: ...

    def decisions_after(self, seq: int) -> list[review.DecisionMade]: ...

    def slack_posts(self, image_ids: list[str]) -> dict[str, review.SlackPost]: ...

    def last_event_seq(self) -> int: ...

    def finished_after(self, seq: int) -> list[review.FinishedRequest]:
        """Requests finished after event `seq`, with how many of their images wait for a decision."""
        ...

    def claim_once(self, name: str) -> bool:
        """True for the one caller, in any process, that claims `name` (telling managers once per request)."""
        ...

    def record_post(self, image_id: str, post: review.SlackPost) -> None:
        """Remember where an image was shown in Slack (an audit event), so a decision elsewhere can edit it."""
        ...

    def image_file(self, sha256: str, media_type: str) -> Path:
        """The stored image file."""
        ...

    def close(self) -> None: ...

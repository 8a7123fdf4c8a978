"""The review desk: images waiting for a brand manager's decision, and decisions on them from any door.

The Slack buttons (thread and Home tab), `/brandgate review` and `brandgate review approve|reject`
all decide through `decide` here, so the rules are the same everywhere: only a flagged or
unverified image waits for a decision, the first decision wins, and a rejection says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from brandgate.clock import as_utc, now
from brandgate.db import approvals
from brandgate.db.models import Approval, AuditEvent, CheckResultRow, Image, Request, SchedulerLock
from brandgate.errors import UserError
from brandgate.requests.decisions import NEEDS_A_PERSON
from policies.engine import accepted_by_policy

# Verdicts a brand manager decides; every other verdict is final without one.
# Check results that put an image in front of a person: failed, could not run, could not decide.
NEEDS_A_LOOK = ("fail", "error", "unverified")
# The regression suite's images are test cases of the checks, flagged on purpose; they never wait.
NOT_REVIEWED_SOURCES = ("regress",)
MIN_REASON_CHARS = 3


@dataclass(frozen=True)
class CheckToReview:
    """One check that failed or could not decide, as a reviewer reads it."""

    id: str
    status: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"id": self.id, "status": self.status, "message": self.message}


@dataclass(frozen=True)
class WaitingImage:
    """An image no one has decided on yet, with what a reviewer needs to decide."""

    image_id: str
    request_id: str
    kit: str
    verdict: str
    checks: tuple[CheckToReview, ...]
    requested_by: str
    channel: str | None
    index: int
    n_images: int
    sha256: str
    media_type: str
    created_at: datetime

    def waiting_s(self, now: datetime) -> float:
        return max(0.0, (now - self.created_at).total_seconds())

    def to_json(self, now: datetime) -> dict[str, Any]:
        return {
            "image_id": self.image_id,
            "request_id": self.request_id,
            "kit": self.kit,
            "verdict": self.verdict,
            "checks": [c.to_json() for c in self.checks],
            "requested_by": self.requested_by,
            "waiting_s": round(self.waiting_s(now), 1),
        }


def _waiting_query(kits: Sequence[str] | None, requested_by: str | None) -> Any:
    # Only the columns a reviewer is shown: whole rows would decode every brief and generation config.
    query = (
        select(
            Image.id,
            Image.verdict,
            Image.index.label("image_index"),
            Image.sha256,
            Image.media_type,
            Image.created_at,
            Request.id.label("request_id"),
            Request.kit_name,
            Request.requested_by,
            Request.channel,
            Request.n_images,
        )
        .join(Request, Request.id == Image.request_id)
        .outerjoin(Approval, Approval.image_id == Image.id)
        .where(
            Approval.id.is_(None),
            Image.verdict.in_(NEEDS_A_PERSON),
            Image.kind == "preview",
            Request.source.not_in(NOT_REVIEWED_SOURCES),
        )
    )
    if kits is not None:
        query = query.where(Request.kit_name.in_(list(kits)))
    if requested_by is not None:
        query = query.where(Request.requested_by == requested_by)
    return query


def waiting_images(
    sessions: sessionmaker[Session],
    kits: Sequence[str] | None = None,
    requested_by: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> list[WaitingImage]:
    """Undecided images, oldest first; `kits` None means every kit."""
    query = _waiting_query(kits, requested_by).order_by(Image.created_at, Image.id).offset(offset)
    if limit is not None:
        query = query.limit(limit)
    with sessions() as session:
        rows = session.execute(query).all()
        ids = [row.id for row in rows]
        checks: dict[str, list[CheckToReview]] = {}
        if ids:
            found = session.scalars(
                select(CheckResultRow)
                .where(CheckResultRow.image_id.in_(ids), CheckResultRow.status.in_(NEEDS_A_LOOK))
                .order_by(CheckResultRow.image_id, CheckResultRow.check_id)
            ).all()
            for check in found:
                if not accepted_by_policy(check.status, check.message):
                    checks.setdefault(check.image_id, []).append(
                        CheckToReview(check.check_id, check.status, check.message)
                    )
        return [
            WaitingImage(
                image_id=row.id,
                request_id=row.request_id,
                kit=row.kit_name,
                verdict=row.verdict,
                checks=tuple(checks.get(row.id, ())),
                requested_by=row.requested_by,
                channel=row.channel,
                index=row.image_index,
                n_images=row.n_images,
                sha256=row.sha256,
                media_type=row.media_type,
                created_at=as_utc(row.created_at),
            )
            for row in rows
        ]


def count_waiting(
    sessions: sessionmaker[Session], kits: Sequence[str] | None = None, requested_by: str | None = None
) -> int:
    query = _waiting_query(kits, requested_by).with_only_columns(func.count(Image.id))
    with sessions() as session:
        return int(session.scalar(query) or 0)


def decide(
    sessions: sessionmaker[Session], image_id: str, decision: str, decided_by: str, reason: str | None,
    *, decided_by_name: str | None = None,
) -> Approval:
    """Record a brand manager's decision under the review rules; approvals.AlreadyDecided when one exists.

    The image's verdict never changes after it is recorded, so reading it before the decision's
    own transaction (which takes the chain lock and finds any earlier decision) is safe.
    """
    if decision not in ("approved", "rejected"):
        raise UserError(f"decision must be approved or rejected, not {decision!r}")
    why = (reason or "").strip()
    if decision == "rejected" and len(why) < MIN_REASON_CHARS:
        raise UserError("a rejection needs a reason (--reason TEXT, a few words the requester will read)")
    with sessions() as session:
        verdict = session.scalar(select(Image.verdict).where(Image.id == image_id))
    if verdict is None:
        raise UserError(f"there is no image {image_id!r}")
    if verdict not in NEEDS_A_PERSON:
        raise UserError(
            f"image {image_id} is {verdict}: only flagged or unverified images wait for a brand manager's decision"
        )
    return approvals.decide(sessions, image_id, decision, decided_by, why or None, decided_by_name=decided_by_name)


@dataclass(frozen=True)
class DecisionMade:
    """A decision as the audit trail recorded it, with what telling people about it needs."""

    seq: int
    image_id: str
    decision: str
    decided_by: str
    reason: str | None
    request_id: str
    kit: str
    requested_by: str
    channel: str | None
    index: int
    n_images: int


@dataclass(frozen=True)
class SlackPost:
    """Where an image was shown in Slack: its message in a thread, and the file it was uploaded as."""

    channel: str | None
    thread_ts: str | None
    message_ts: str | None
    file_id: str | None


POSTED = "slack.image_posted"


def last_decision_seq(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        seq = session.scalar(
            select(func.max(AuditEvent.seq)).where(AuditEvent.kind.in_(("image.approved", "image.rejected")))
        )
        return int(seq or 0)


def decisions_after(sessions: sessionmaker[Session], seq: int, limit: int = 200) -> list[DecisionMade]:
    """Decisions recorded after event `seq`, in the order they were made, from any door."""
    with sessions() as session:
        rows = session.execute(
            select(AuditEvent.seq, Approval, Image, Request)
            .join(Approval, Approval.image_id == AuditEvent.subject_id)
            .join(Image, Image.id == Approval.image_id)
            .join(Request, Request.id == Image.request_id)
            .where(AuditEvent.seq > seq, AuditEvent.kind.in_(("image.approved", "image.rejected")))
            .order_by(AuditEvent.seq)
            .limit(limit)
        ).all()
        return [
            DecisionMade(
                seq=int(event_seq),
                image_id=image.id,
                decision=approval.decision,
                decided_by=approval.decided_by,
                reason=approval.reason,
                request_id=request.id,
                kit=request.kit_name,
                requested_by=request.requested_by,
                channel=request.channel,
                index=image.index,
                n_images=request.n_images,
            )
            for event_seq, approval, image, request in rows
        ]


def recent_decisions(sessions: sessionmaker[Session], requested_by: str, limit: int = 10) -> list[DecisionMade]:
    """The latest decisions on one person's images, newest first."""
    with sessions() as session:
        rows = session.execute(
            select(Approval, Image, Request)
            .join(Image, Image.id == Approval.image_id)
            .join(Request, Request.id == Image.request_id)
            .where(Request.requested_by == requested_by)
            .order_by(Approval.decided_at.desc(), Approval.id.desc())
            .limit(limit)
        ).all()
        return [
            DecisionMade(0, image.id, approval.decision, approval.decided_by, approval.reason, request.id,
                         request.kit_name, request.requested_by, request.channel, image.index, request.n_images)
            for approval, image, request in rows
        ]  # fmt: skip


def slack_posts(sessions: sessionmaker[Session], image_ids: Sequence[str]) -> dict[str, SlackPost]:
    """Where each image was last shown in Slack, as the bot recorded it (POSTED events)."""
    if not image_ids:
        return {}
    with sessions() as session:
        events = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.kind == POSTED, AuditEvent.subject_id.in_(list(image_ids)))
            .order_by(AuditEvent.seq)
        ).all()
    posts: dict[str, SlackPost] = {}
    for event in events:
        p = event.payload or {}
        earlier = posts.get(str(event.subject_id))
        posts[str(event.subject_id)] = SlackPost(
            channel=p.get("channel") or (earlier.channel if earlier else None),
            thread_ts=p.get("thread_ts") or (earlier.thread_ts if earlier else None),
            message_ts=p.get("message_ts") or (earlier.message_ts if earlier else None),
            file_id=p.get("file_id") or (earlier.file_id if earlier else None),
        )
    return posts


@dataclass(frozen=True)
class FinishedRequest:
    """A request that finished with images waiting for a decision."""

    seq: int
    request_id: str
    kit: str
    source: str
    requested_by: str
    n_images: int
    waiting: int


def last_event_seq(sessions: sessionmaker[Session]) -> int:
    with sessions() as session:
        return int(session.scalar(select(func.max(AuditEvent.seq))) or 0)


def finished_after(sessions: sessionmaker[Session], seq: int, limit: int = 200) -> list[FinishedRequest]:
    """Requests finished after event `seq` (a `request.done` event), with how many of their images wait."""
    with sessions() as session:
        rows = session.execute(
            select(AuditEvent.seq, Request)
            .join(Request, Request.id == AuditEvent.subject_id)
            .where(AuditEvent.seq > seq, AuditEvent.kind == "request.done")
            .order_by(AuditEvent.seq)
            .limit(limit)
        ).all()
        found = []
        for event_seq, request in rows:
            waiting = session.scalar(
                select(func.count(Image.id))
                .outerjoin(Approval, Approval.image_id == Image.id)
                .where(Image.request_id == request.id, Image.verdict.in_(NEEDS_A_PERSON), Image.kind == "preview",
                       Approval.id.is_(None))
            )  # fmt: skip
            found.append(FinishedRequest(int(event_seq), request.id, request.kit_name, request.source,
                                         request.requested_by, request.n_images, int(waiting or 0)))  # fmt: skip
        return found


def claim_once(sessions: sessionmaker[Session], name: str, holder: str) -> bool:
    """True for the one caller that claims `name`, in this process or any other (a row in scheduler_locks)."""
    try:
        with sessions.begin() as session:
            session.add(
                SchedulerLock(name=name[:100], holder=holder[:200], acquired_at=now(),
                              expires_at=datetime.max.replace(tzinfo=UTC))
            )  # fmt: skip
    except IntegrityError:
        return False
    return True

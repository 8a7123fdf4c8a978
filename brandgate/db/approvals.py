"""A brand manager's decision on an image: at most one per image, the first click wins, always audited."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from brandgate.db.audit import append_event, lock_chain
from brandgate.db.evidence import approval_payload
from brandgate.db.models import Approval, Image
from brandgate.errors import UserError
from policies.check import Decision

MAX_REASON_CHARS = 2000


class AlreadyDecided(UserError):
    """Someone decided first; carries who, what and when so the bot can say so."""

    def __init__(self, image_id: str, decision: str, decided_by: str, decided_at: datetime) -> None:
        self.image_id = image_id
        self.decision = decision
        self.decided_by = decided_by
        self.decided_at = decided_at
        when = decided_at.replace(tzinfo=decided_at.tzinfo or UTC).astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        super().__init__(f"image {image_id} was already decided by {decided_by}: {decision} at {when}")


def decide(
    sessions: sessionmaker[Session] | Session,
    image_id: str,
    decision: str,
    decided_by: str,
    reason: str | None = None,
    *,
    decided_by_name: str | None = None,
) -> Approval:
    """Record `decision` on the image, with its audit event, or raise AlreadyDecided.

    `decided_by_name` is the decider's display name at the time (Slack's `users.info`), kept in
    the hash-chained event beside the ID: names change, the record of who it was then does not.

    Given a sessionmaker, decide commits its own transaction. Given a Session, it works inside
    the caller's transaction and the caller commits (the decision holds the audit chain lock
    until then, so commit promptly).
    """
    if isinstance(sessions, Session):
        return _decide(sessions, image_id, decision, decided_by, reason, decided_by_name)
    with sessions.begin() as session:
        return _decide(session, image_id, decision, decided_by, reason, decided_by_name)


def _checked(image_id: str, decision: str, decided_by: str, reason: str | None) -> tuple[Decision, str, str | None]:
    if decision not in get_args(Decision):
        raise UserError(f"decision must be 'approved' or 'rejected', not {decision!r}")
    if not isinstance(image_id, str) or not image_id.strip() or len(image_id) > 32:
        raise UserError(f"image id {image_id!r} is not an image id")
    who = (decided_by or "").strip()
    if not who or len(who) > 100:
        raise UserError("decided_by must name the person deciding (1 to 100 characters)")
    why = reason.strip() if reason else None
    if why is not None and len(why) > MAX_REASON_CHARS:
        raise UserError(f"reason is {len(why)} characters; keep it under {MAX_REASON_CHARS}")
    return decision, who, why or None  # type: ignore[return-value]


def _decide(
    session: Session, image_id: str, decision: str, decided_by: str, reason: str | None, decided_by_name: str | None
) -> Approval:
    verdict_decision, who, why = _checked(image_id, decision, decided_by, reason)
    # Every decision takes the chain lock first, so two managers clicking together are served one
    # after the other: the second reads the first's committed approval and is told who won.
    lock_chain(session)
    image = session.execute(select(Image).where(Image.id == image_id)).scalar_one_or_none()
    if image is None:
        raise UserError(f"no image {image_id!r} in the audit database")
    _raise_if_decided(session, image_id)
    if verdict_decision == "approved" and image.verdict == "reject":
        raise UserError(f"image {image_id} was rejected by the checks (verdict reject); it cannot be approved")
    approval = Approval(
        image_id=image_id,
        decision=verdict_decision,
        decided_by=who,
        reason=why,
        decided_at=datetime.now(UTC),
        version=1,
    )
    try:
        with session.begin_nested():
            session.add(approval)
    except IntegrityError:
        # Only a writer that skipped the lock gets here; the unique image_id still picks one winner.
        _raise_if_decided(session, image_id)
        raise
    append_event(
        session,
        actor=who,
        kind=f"image.{verdict_decision}",
        subject_type="image",
        subject_id=image_id,
        payload={
            "request_id": image.request_id,
            "verdict": image.verdict,
            "approval_id": approval.id,
            **approval_payload(approval),
            **({"decided_by_name": decided_by_name[:100]} if decided_by_name else {}),
        },
    )
    return approval


def _raise_if_decided(session: Session, image_id: str) -> None:
    existing = session.execute(
        select(Approval).where(Approval.image_id == image_id).execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if existing is not None:
        raise AlreadyDecided(image_id, existing.decision, existing.decided_by, existing.decided_at)


__all__ = ["AlreadyDecided", "Decision", "decide"]

"""Quotas and budgets from settings, checked inside the submitting transaction before anything is queued."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from brandgate.db.models import Image, Request
from brandgate.jobs.contract import LimitExceeded
from brandgate.settings import Settings

ACTIVE_STATES = ("queued", "running")
# Recent images of a kit used to estimate what the next request will cost.
COST_SAMPLE = 50


def start_of_day(now: datetime | None = None) -> datetime:
    now = now or datetime.now(UTC)
    return now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def check_limits(
    session: Session, settings: Settings, *, user: str, kit_name: str, n_images: int, queue: str
) -> None:
    """Raise LimitExceeded with what to do about it; the caller holds the intake lock."""
    day = start_of_day()

    active = session.scalar(
        select(func.count()).select_from(Request).where(
            Request.requested_by == user, Request.state.in_(ACTIVE_STATES)
        )
    ) or 0
    if active >= settings.max_jobs_per_user:
        raise LimitExceeded(
            f"you already have {active} request(s) queued or running; the limit is "
            f"{settings.max_jobs_per_user} at a time per person. Wait for one to finish or cancel one "
            "(`brandgate cancel REQUEST_ID`)."
        )

    used = images_used_today(session, user, day)
    if used + n_images > settings.max_daily_images_per_user:
        left = max(0, settings.max_daily_images_per_user - used)
        raise LimitExceeded(
            f"this asks for {n_images} image(s) but you have {left} left of your "
            f"{settings.max_daily_images_per_user} images today (UTC); ask for fewer or wait until 00:00 UTC."
        )

    waiting = session.scalar(
        select(func.count()).select_from(Request).where(Request.state == "queued", Request.queue == queue)
    ) or 0
    if waiting >= settings.max_queue_length:
        raise LimitExceeded(
            f"the {queue} queue is full ({waiting} requests waiting, cap {settings.max_queue_length}); "
            "try again in a few minutes."
        )

    spent = kit_spend_today(session, kit_name, day)
    estimate = n_images * recent_cost_per_image(session, kit_name)
    budget = settings.kit_daily_budget_usd
    if spent >= budget or spent + estimate > budget:
        raise LimitExceeded(
            f"kit {kit_name!r} has spent ${spent:.2f} of its ${budget:.2f} daily GPU budget and this "
            f"request would cost about ${estimate:.2f}; wait until 00:00 UTC or raise "
            "BRANDGATE_KIT_DAILY_BUDGET_USD."
        )


def images_used_today(session: Session, user: str, day: datetime) -> int:
    """Images made today by finished requests, plus every image a live request may still make."""
    made = session.scalar(
        select(func.count()).select_from(Image).join(Request, Image.request_id == Request.id).where(
            Request.requested_by == user,
            Request.state.not_in(ACTIVE_STATES),
            Image.created_at >= day,
        )
    ) or 0
    reserved = session.scalar(
        select(func.coalesce(func.sum(Request.n_images), 0)).where(
            Request.requested_by == user, Request.state.in_(ACTIVE_STATES)
        )
    ) or 0
    return int(made) + int(reserved)


def kit_spend_today(session: Session, kit_name: str, day: datetime) -> float:
    spent = session.scalar(
        select(func.coalesce(func.sum(Request.cost_usd), 0.0)).where(
            Request.kit_name == kit_name, Request.created_at >= day
        )
    )
    return float(spent or 0.0)


def recent_cost_per_image(session: Session, kit_name: str) -> float:
    recent = (
        select(Image.cost_usd)
        .join(Request, Image.request_id == Request.id)
        .where(Request.kit_name == kit_name)
        .order_by(Image.created_at.desc())
        .limit(COST_SAMPLE)
        .subquery()
    )
    average = session.scalar(select(func.avg(recent.c.cost_usd)))
    return float(average or 0.0)

"""Approvals: one decision per image, the first of two simultaneous clicks wins, every decision audited."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from brandgate.db.approvals import AlreadyDecided, decide
from brandgate.db.audit import verify_chain
from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.export import verify_evidence
from brandgate.db.models import Approval, AuditEvent
from brandgate.errors import UserError
from brandgate.settings import Settings

DECISIONS = ("image.approved", "image.rejected")


@pytest.fixture
def engine(db_settings: Settings) -> Engine:
    built = make_engine(db_settings, **({"pool_size": 10} if "postgresql" in db_settings.database_url else {}))
    yield built
    built.dispose()


def _image(engine: Engine, add_image: Any, verdict: str = "flag") -> str:
    with make_sessionmaker(engine).begin() as session:
        return add_image(session, verdict=verdict).id


def test_decision_is_recorded_with_its_audit_event(engine: Engine, add_image: Any) -> None:
    image_id = _image(engine, add_image)
    approval = decide(make_sessionmaker(engine), image_id, "approved", "U1MANAGER", "  headline reads fine  ")
    assert (approval.decision, approval.decided_by, approval.reason) == ("approved", "U1MANAGER", "headline reads fine")
    with make_sessionmaker(engine)() as session:
        event = session.execute(select(AuditEvent).where(AuditEvent.kind == "image.approved")).scalar_one()
        assert (event.actor, event.subject_type, event.subject_id) == ("U1MANAGER", "image", image_id)
        assert event.payload["reason"] == "headline reads fine" and event.payload["verdict"] == "flag"
    assert verify_chain(engine).intact


def test_second_decision_is_refused_naming_who_decided(engine: Engine, add_image: Any) -> None:
    image_id = _image(engine, add_image)
    sessions = make_sessionmaker(engine)
    decide(sessions, image_id, "rejected", "U1ALICE", "logo too small")
    with pytest.raises(AlreadyDecided, match=f"image {image_id} was already decided by U1ALICE: rejected") as caught:
        decide(sessions, image_id, "approved", "U2BOB", None)
    assert caught.value.decided_by == "U1ALICE" and isinstance(caught.value, UserError)
    with sessions() as session:
        assert session.query(Approval).count() == 1
        # the refused click wrote nothing
        assert session.query(AuditEvent).filter(AuditEvent.kind.in_(DECISIONS)).count() == 1


@pytest.mark.parametrize(
    ("image_id", "decision", "who", "reason", "message"),
    [
        (None, "approved", "U1", None, "no image"),
        (None, "maybe", "U1", None, "decision must be 'approved' or 'rejected'"),
        (None, "approved", "  ", None, "decided_by must name"),
        (None, "rejected", "U1", "x" * 5000, "reason is 5000 characters"),
        ("../../etc/passwd" * 4, "approved", "U1", None, "is not an image id"),
    ],
)
def test_bad_decisions_are_refused_and_change_nothing(
    engine: Engine, add_image: Any, image_id: str | None, decision: str, who: str, reason: str | None, message: str
) -> None:
    real = _image(engine, add_image)
    target = image_id or (real if message != "no image" else "0" * 32)
    with pytest.raises(UserError, match=message):
        decide(make_sessionmaker(engine), target, decision, who, reason)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM approvals")).scalar() == 0
        assert connection.execute(text(f"SELECT count(*) FROM audit_events WHERE kind IN {DECISIONS}")).scalar() == 0


def test_an_image_the_checks_rejected_cannot_be_approved(engine: Engine, add_image: Any) -> None:
    image_id = _image(engine, add_image, verdict="reject")
    with pytest.raises(UserError, match="cannot be approved"):
        decide(make_sessionmaker(engine), image_id, "approved", "U1", None)
    assert decide(make_sessionmaker(engine), image_id, "rejected", "U1", "agreed").decision == "rejected"


def test_decide_inside_the_callers_transaction_rolls_back_with_it(engine: Engine, add_image: Any) -> None:
    image_id = _image(engine, add_image)
    sessions = make_sessionmaker(engine)
    with pytest.raises(RuntimeError), sessions.begin() as session:
        decide(session, image_id, "approved", "U1", None)
        raise RuntimeError("the Slack update failed")
    assert decide(sessions, image_id, "rejected", "U2", "second look").decided_by == "U2"


def test_two_managers_at_once_exactly_one_wins(db_settings: Settings, add_image: Any) -> None:
    """Six clicks on one image at the same moment, on SQLite (BEGIN IMMEDIATE) and PostgreSQL (the chain lock)."""
    engine = make_engine(db_settings, pool_size=12)
    try:
        sessions = make_sessionmaker(engine)
        images = [_image(engine, add_image) for _ in range(10)]
        for image_id in images:
            outcomes: list[Any] = []
            start = threading.Barrier(6)

            def click(
                who: str, image_id: str = image_id, start: threading.Barrier = start, outcomes: list[Any] = outcomes
            ) -> None:
                start.wait()
                try:
                    outcomes.append(decide(sessions, image_id, "approved", who, None))
                except AlreadyDecided as exc:
                    outcomes.append(exc)
                except BaseException as exc:  # anything else is a failure the test must show
                    outcomes.append(exc)

            threads = [threading.Thread(target=click, args=(f"U{n}MANAGER",)) for n in range(6)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            winners = [o for o in outcomes if isinstance(o, Approval)]
            losers = [o for o in outcomes if isinstance(o, AlreadyDecided)]
            assert len(winners) == 1 and len(losers) == 5, outcomes
            assert all(loser.decided_by == winners[0].decided_by for loser in losers)
            assert all(f"already decided by {winners[0].decided_by}" in str(loser) for loser in losers)
        with engine.connect() as connection:
            assert connection.execute(text("SELECT count(*) FROM approvals")).scalar() == 10
            decisions = text(f"SELECT count(*) FROM audit_events WHERE kind IN {DECISIONS}")
            assert connection.execute(decisions).scalar() == 10
        assert verify_chain(engine).intact
        assert verify_evidence(engine).intact
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_unique_image_still_picks_one_winner_when_the_lock_is_skipped(
    pg_migrated_url: str, settings: Settings, add_image: Any
) -> None:
    """The database, not only our lock, refuses a second approval row for an image."""
    engine = make_engine(settings.model_copy(update={"database_url": pg_migrated_url}))
    try:
        image_id = _image(engine, add_image)
        decide(make_sessionmaker(engine), image_id, "approved", "U1", None)
        with pytest.raises(Exception, match="uq_approvals_image_id"), engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO approvals (image_id, decision, decided_by, decided_at, version) "
                    "VALUES (:i, 'rejected', 'U2', now(), 1)"
                ),
                {"i": image_id},
            )
    finally:
        engine.dispose()

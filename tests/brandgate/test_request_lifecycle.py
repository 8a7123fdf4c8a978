"""The request state machine: every transition moves the row and writes its one event shape."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from brandgate.db.audit import verify_chain
from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.models import AuditEvent, Request
from brandgate.db.schema import upgrade
from brandgate.requests import lifecycle
from brandgate.requests.states import STATES
from brandgate.settings import Settings

STOP_PAYLOAD = {"from", "stage", "reason", "attempts", "images_kept", "unrecorded_gpu_seconds",
                "unrecorded_cost_usd", "gpu_seconds", "cost_usd", "timings_s"}


@pytest.fixture
def sessions(settings: Settings) -> Iterator[sessionmaker[Session]]:
    upgrade(settings)
    engine = make_engine(settings)
    yield make_sessionmaker(engine)
    assert verify_chain(engine).intact
    engine.dispose()


def _queued(sessions: sessionmaker[Session], parent: str | None = None) -> str:
    request_id = uuid.uuid4().hex
    with sessions.begin() as session:
        row = Request(
            id=request_id, requested_by="U1MARKETER", source="cli", kit_name="acme", kit_hash="a" * 64,
            brief={"kit": "acme", "prompt": "five red apples"}, brief_hash="b" * 64, profile_name="tiny",
            seed=7, n_images=2, queue="preview", attempts=0, parent_image_id=parent, stage_timings={},
            gpu_seconds=0.0, cost_usd=0.0, created_at=lifecycle.now(),
        )
        session.add(row)
        session.flush()
        lifecycle.queue(session, row)
    return request_id


def _apply(sessions: sessionmaker[Session], request_id: str, change: Callable[[Session, Request], Any]) -> Any:
    with sessions.begin() as session:
        row = session.get(Request, request_id)
        assert row is not None
        return change(session, row)


def _row(sessions: sessionmaker[Session], request_id: str) -> Request:
    with sessions() as session:
        row = session.get(Request, request_id)
        assert row is not None
        session.expunge(row)
        return row


def _events(sessions: sessionmaker[Session], request_id: str) -> list[AuditEvent]:
    with sessions() as session:
        return list(session.scalars(
            select(AuditEvent).where(AuditEvent.subject_id == request_id).order_by(AuditEvent.seq)
        ).all())


def _running(sessions: sessionmaker[Session]) -> str:
    request_id = _queued(sessions)
    _apply(sessions, request_id, lambda s, r: lifecycle.start(s, r, "host:1:main"))
    return request_id


def test_queue_writes_request_queued_and_export_queued(sessions: sessionmaker[Session]) -> None:
    request_id = _queued(sessions)
    assert _row(sessions, request_id).state == "queued"
    (event,) = _events(sessions, request_id)
    assert event.kind == "request.queued" and event.actor == "U1MARKETER"
    assert event.payload["n_images"] == 2 and event.payload["parent_image_id"] is None
    export_id = _queued(sessions, parent="f" * 32)
    (event,) = _events(sessions, export_id)
    assert event.kind == "export.queued" and event.payload["parent_image_id"] == "f" * 32


def test_start_counts_the_attempt_without_an_event_and_redelivery_writes_one(
    sessions: sessionmaker[Session],
) -> None:
    request_id = _queued(sessions)
    assert _apply(sessions, request_id, lambda s, r: lifecycle.start(s, r, "host:1:a")) is False
    row = _row(sessions, request_id)
    assert (row.state, row.attempts, row.worker) == ("running", 1, "host:1:a")
    assert [e.kind for e in _events(sessions, request_id)] == ["request.queued"]
    assert _apply(sessions, request_id, lambda s, r: lifecycle.start(s, r, "host:2:b")) is True
    row = _row(sessions, request_id)
    assert (row.state, row.attempts, row.worker) == ("running", 2, "host:2:b")
    event = _events(sessions, request_id)[-1]
    assert event.kind == "request.redelivered" and event.payload == {"attempt": 2, "worker": "host:2:b"}


def test_release_hands_the_job_back_only_from_its_holder(sessions: sessionmaker[Session]) -> None:
    request_id = _running(sessions)
    with sessions.begin() as session:
        assert not lifecycle.release(session, request_id, "host:9:other", "database down")
    with sessions.begin() as session:
        assert lifecycle.release(session, request_id, "host:1:main", "database down")
    row = _row(sessions, request_id)
    assert (row.state, row.worker, row.failure_reason) == ("queued", None, "database down")
    assert [e.kind for e in _events(sessions, request_id)] == ["request.queued"]


def test_ask_cancel_writes_one_event_however_often_it_is_asked(sessions: sessionmaker[Session]) -> None:
    request_id = _running(sessions)
    _apply(sessions, request_id, lambda s, r: lifecycle.ask_cancel(s, r, "U2ANA"))
    _apply(sessions, request_id, lambda s, r: lifecycle.ask_cancel(s, r, "U3BOB"))
    row = _row(sessions, request_id)
    assert (row.state, row.cancel_requested_by) == ("running", "U2ANA")
    assert [e.kind for e in _events(sessions, request_id)] == ["request.queued", "request.cancel_requested"]


def test_finish_records_done_with_verdict_counts(sessions: sessionmaker[Session]) -> None:
    request_id = _running(sessions)
    assert _apply(sessions, request_id, lambda s, r: lifecycle.finish(s, r, {"total": 1.23456})) == 0
    row = _row(sessions, request_id)
    assert (row.state, row.worker, row.stage_timings) == ("done", None, {"total": 1.2346})
    event = _events(sessions, request_id)[-1]
    assert event.kind == "request.done"
    assert set(event.payload) == {"images", "verdicts", "gpu_seconds", "cost_usd", "timings_s", "attempts"}


@pytest.mark.parametrize("where", ["queued", "running"])
def test_fail_and_cancel_write_one_payload_shape_from_either_state(
    sessions: sessionmaker[Session], where: str,
) -> None:
    failing = _queued(sessions) if where == "queued" else _running(sessions)
    cancelling = _queued(sessions) if where == "queued" else _running(sessions)
    _apply(sessions, failing, lambda s, r: lifecycle.fail(
        s, r, "generating", "out of memory", unrecorded_gpu_seconds=2.0, unrecorded_cost_usd=0.5))
    _apply(sessions, cancelling, lambda s, r: lifecycle.cancel(s, r, "U2ANA"))
    failed, cancelled = _events(sessions, failing)[-1], _events(sessions, cancelling)[-1]
    assert failed.kind == "request.failed" and cancelled.kind == "request.cancelled"
    assert set(failed.payload) == set(cancelled.payload) == STOP_PAYLOAD
    assert failed.payload["from"] == cancelled.payload["from"] == where
    assert failed.payload["unrecorded_cost_usd"] == 0.5 and failed.payload["cost_usd"] == 0.5
    assert cancelled.actor == "U2ANA" and cancelled.payload["reason"] == "cancelled by U2ANA"
    row = _row(sessions, failing)
    assert (row.state, row.stage, row.failure_reason, row.worker) == ("failed", "generating", "out of memory", None)
    row = _row(sessions, cancelling)
    assert (row.state, row.failure_reason, row.cancel_requested_by) == ("cancelled", "cancelled by U2ANA", "U2ANA")


@pytest.mark.parametrize("ending", ["finish", "fail", "cancel", "ask_cancel", "redeliver"])
def test_a_finished_request_cannot_move_again(sessions: sessionmaker[Session], ending: str) -> None:
    request_id = _running(sessions)
    _apply(sessions, request_id, lambda s, r: lifecycle.finish(s, r, {}))
    moves: dict[str, Callable[[Session, Request], Any]] = {
        "finish": lambda s, r: lifecycle.finish(s, r, {}),
        "fail": lambda s, r: lifecycle.fail(s, r, None, "late"),
        "cancel": lambda s, r: lifecycle.cancel(s, r, "U2ANA"),
        "ask_cancel": lambda s, r: lifecycle.ask_cancel(s, r, "U2ANA"),
        "redeliver": lambda s, r: lifecycle.start(s, r, "host:2:b"),
    }
    with pytest.raises(lifecycle.IllegalTransition, match="from 'done'"):
        _apply(sessions, request_id, moves[ending])
    assert _row(sessions, request_id).state == "done"


WALKED_BY = {
    "queue": test_queue_writes_request_queued_and_export_queued,
    "queue_export": test_queue_writes_request_queued_and_export_queued,
    "start": test_start_counts_the_attempt_without_an_event_and_redelivery_writes_one,
    "redeliver": test_start_counts_the_attempt_without_an_event_and_redelivery_writes_one,
    "release": test_release_hands_the_job_back_only_from_its_holder,
    "ask_cancel": test_ask_cancel_writes_one_event_however_often_it_is_asked,
    "finish": test_finish_records_done_with_verdict_counts,
    "fail": test_fail_and_cancel_write_one_payload_shape_from_either_state,
    "cancel": test_fail_and_cancel_write_one_payload_shape_from_either_state,
}


def test_every_transition_has_a_test_and_says_what_it_records() -> None:
    """A transition added to the machine without a walk here fails; so does one silently event-less."""
    assert set(WALKED_BY) == set(lifecycle.TRANSITIONS)
    for transition in lifecycle.TRANSITIONS.values():
        assert transition.event or transition.no_event_because, transition.name
        assert transition.target in STATES

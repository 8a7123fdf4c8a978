"""The bot's one door into brandgate, wired: the job queue, images, approvals, the audit trail and verification."""

from __future__ import annotations

import importlib
import io
import logging
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from bot.services import DecisionTaken
from bot.slash import AuditQuery
from brandgate import review
from brandgate.artifacts import ArtifactStore
from brandgate.db import approvals
from brandgate.db.audit import append_event
from brandgate.db.engine import make_sessionmaker, process_engine
from brandgate.db.export import FORMATS, ExportFilter, export_records
from brandgate.db.models import Image, Request
from brandgate.jobs.contract import JobQueue, UnknownRequest
from brandgate.requests.image_formats import suffix_of
from brandgate.requests.images import ImageView, image_view
from brandgate.settings import Settings
from policies.check import Decision

log = logging.getLogger(__name__)


class BrandgateServices:
    """The real wiring: the queue from settings, the audit database, provenance verification.

    The queue and verification are imported on first use, so the bot starts (and answers help,
    status and parse errors) even on an install that lacks one of them.
    """

    def __init__(self, settings: Settings, queue: JobQueue | None = None) -> None:
        """`queue` defaults to the one the settings name, opened on first use (with its local workers)."""
        self._settings = settings
        self._queue: JobQueue | None = queue
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None
        # Many listener threads ask at once on a cold start; exactly one queue (and its workers) may open.
        self._opening = threading.Lock()

    @property
    def queue(self) -> JobQueue:
        with self._opening:
            if self._queue is None:
                queues = importlib.import_module("brandgate.jobs.queues")
                self._queue = queues.open_queue(self._settings)
            return self._queue

    def _database(self) -> tuple[Engine, sessionmaker[Session]]:
        with self._opening:
            if self._engine is None or self._sessions is None:
                self._engine = process_engine(self._settings)
                self._sessions = make_sessionmaker(self._engine)
            return self._engine, self._sessions

    def image(self, image_id: str) -> ImageView:
        _, sessions = self._database()
        store = ArtifactStore.from_settings(self._settings)
        with sessions() as session:
            row = session.get(Image, image_id)
            if row is None:
                raise UnknownRequest(f"no image {image_id!r}")
            return image_view(row, row.request, row.approval, lambda sha, suffix: str(store.path_for(sha, suffix)))

    def requester(self, request_id: str) -> str:
        _, sessions = self._database()
        with sessions() as session:
            row = session.get(Request, request_id)
            if row is None:
                raise UnknownRequest(f"no request {request_id!r}")
            return str(row.requested_by)

    def decide(
        self, image_id: str, decision: Decision, decided_by: str, reason: str | None, decided_by_name: str | None = None
    ) -> None:
        _, sessions = self._database()
        try:
            review.decide(sessions, image_id, decision, decided_by, reason, decided_by_name=decided_by_name)
        except approvals.AlreadyDecided as exc:
            raise DecisionTaken(exc.decision, exc.decided_by) from None

    def record(self, actor: str, kind: str, subject_id: str | None, payload: Mapping[str, Any]) -> None:
        _, sessions = self._database()
        with sessions.begin() as session:
            append_event(
                session,
                actor=actor,
                kind=kind,
                subject_type="image" if subject_id else None,
                subject_id=subject_id,
                payload=dict(payload),
            )

    def export_trail(self, query: AuditQuery, out: IO[bytes]) -> int:
        engine, _ = self._database()
        records = export_records(
            engine, ExportFilter(since=query.since, until=query.until, kit=query.kit, request_id=query.request_id)
        )
        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        try:
            rows = FORMATS[query.format](records, text)
            text.flush()
        finally:
            text.detach()  # the caller owns `out`
        return rows

    def verify(self, data: bytes, name: str) -> Mapping[str, Any]:
        # Imported here: only verification loads the C2PA library.
        from brandgate.verification import verify_bytes

        summary: Mapping[str, Any] = verify_bytes(data, self._settings, Path(name)).to_json()
        return summary

    def waiting(
        self, kits: list[str] | None, requested_by: str | None = None, limit: int | None = None, offset: int = 0
    ) -> list[review.WaitingImage]:
        _, sessions = self._database()
        return review.waiting_images(sessions, kits, requested_by, limit, offset)

    def count_waiting(self, kits: list[str] | None, requested_by: str | None = None) -> int:
        _, sessions = self._database()
        return review.count_waiting(sessions, kits, requested_by)

    def recent_decisions(self, requested_by: str, limit: int = 10) -> list[review.DecisionMade]:
        _, sessions = self._database()
        return review.recent_decisions(sessions, requested_by, limit)

    def last_decision_seq(self) -> int:
        _, sessions = self._database()
        return review.last_decision_seq(sessions)

    def decisions_after(self, seq: int) -> list[review.DecisionMade]:
        _, sessions = self._database()
        return review.decisions_after(sessions, seq)

    def slack_posts(self, image_ids: list[str]) -> dict[str, review.SlackPost]:
        _, sessions = self._database()
        return review.slack_posts(sessions, image_ids)

    def last_event_seq(self) -> int:
        _, sessions = self._database()
        return review.last_event_seq(sessions)

    def finished_after(self, seq: int) -> list[review.FinishedRequest]:
        _, sessions = self._database()
        return review.finished_after(sessions, seq)

    def claim_once(self, name: str) -> bool:
        _, sessions = self._database()
        return review.claim_once(sessions, name, f"bot:{os.getpid()}")

    def record_post(self, image_id: str, post: review.SlackPost) -> None:
        payload = {k: v for k, v in vars(post).items() if v}
        self.record("bot", review.POSTED, image_id, payload)

    def image_file(self, sha256: str, media_type: str) -> Path:
        return ArtifactStore.from_settings(self._settings).path_for(sha256, suffix_of(media_type))

    def close(self) -> None:
        if self._queue is not None:
            self._queue.close()

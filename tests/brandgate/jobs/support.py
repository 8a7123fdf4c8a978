"""Fixtures and helpers for the job-queue tests: a real tiny model, real keys, real databases."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.models import AuditEvent, Image, Request
from brandgate.jobs.contract import JobQueue, RequestStatus, Submission
from brandgate.settings import Settings
from policies.brief import Brief, brief_from_mapping

ROOT = Path(__file__).resolve().parents[3]

# Small and without brand text, so checks are quick; the composited path has its own test.
PLAIN_BRIEF = {"kit": "acme", "prompt": "five red apples on a wooden table", "size": [128, 128], "n": 1,
               "seed": 1234}
BRANDED_BRIEF = {"kit": "acme", "prompt": "five red apples on a wooden table", "headline": "Fresh Deals Friday",
                 "logo": "primary", "size": [256, 256], "n": 1, "seed": 77}


def make_settings(tmp_path: Path, models: Path, keys: Path, profiles: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": f"sqlite:///{tmp_path / 'brandgate.db'}",
        "artifacts_dir": tmp_path / "artifacts",
        "kits_dir": ROOT / "brand_kits",
        "models_dir": models,
        "keys_dir": keys,
        "profiles_dir": profiles,
        "metrics_port": 0,
        "job_retry_delay_s": 0.2,
    }
    values.update(overrides)
    return Settings(**values)


def brief(**changes: Any) -> Brief:
    return brief_from_mapping({**PLAIN_BRIEF, **changes})


def submission(user: str = "ana", key: str | None = None, profile: str = "preview", **changes: Any) -> Submission:
    return Submission(brief=brief(**changes), requested_by=user, idempotency_key=key, profile=profile)


def wait_for(queue: JobQueue, request_id: str, predicate: Any, timeout: float = 120.0) -> RequestStatus:
    """Poll until predicate(status) holds; fail with the last status seen."""
    deadline = time.monotonic() + timeout
    status = queue.status(request_id)
    while not predicate(status):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; last status: {status}")
        time.sleep(0.05)
        status = queue.status(request_id)
    return status


class Records:
    """Read-only view of what a run left in the database."""

    def __init__(self, settings: Settings) -> None:
        self.engine = make_engine(settings)
        self.sessions = make_sessionmaker(self.engine)

    def request(self, request_id: str) -> Request:
        with self.sessions() as session:
            row = session.get(Request, request_id)
            assert row is not None
            session.expunge(row)
            return row

    def requests(self) -> list[Request]:
        with self.sessions() as session:
            return list(session.scalars(select(Request)).all())

    def images(self, request_id: str) -> list[Image]:
        with self.sessions() as session:
            return list(session.scalars(
                select(Image).where(Image.request_id == request_id).order_by(Image.index)
            ).all())

    def events(self, subject_id: str | None = None) -> list[AuditEvent]:
        with self.sessions() as session:
            query = select(AuditEvent).order_by(AuditEvent.seq)
            rows = list(session.scalars(query).all())
        if subject_id is None:
            return rows
        return [e for e in rows if e.subject_id == subject_id or (e.payload or {}).get("request_id") == subject_id]

    def kinds(self, request_id: str) -> list[str]:
        return [e.kind for e in self.events(request_id)]

    def close(self) -> None:
        self.engine.dispose()

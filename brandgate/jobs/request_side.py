"""The request side every queue backend shares: intake, live profile, status, cancel, wait."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from brandgate.artifacts import ArtifactStore
from brandgate.db.engine import describe_url, make_sessionmaker, process_engine
from brandgate.db.schema import ensure_current
from brandgate.errors import DatabaseError
from brandgate.jobs.contract import Accepted, RequestStatus, Submission
from brandgate.jobs.intake import new_export, new_request
from brandgate.jobs.state import NewRequest, read_status, record_request, request_cancel
from brandgate.model_registry import active as active_profile
from brandgate.requests.states import TERMINAL_STATES
from brandgate.settings import Settings

log = logging.getLogger(__name__)

# How long status reads may keep losing their connection before `wait` gives up.
LOST_GRACE_S = 15.0


class QueueFront:
    """The request side of a queue: the database is the record, the backend only moves work."""

    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or process_engine(settings)
        ensure_current(self.engine)
        self.sessions: sessionmaker[Session] = make_sessionmaker(self.engine)

    # Backends override these two.
    def _send(self, request_id: str, queue: str) -> None:
        """Hand the request to the broker; runs inside the intake transaction."""

    def _queued(self, request_id: str) -> None:
        """After the commit: wake whoever runs the work."""

    def submit(self, submission: Submission) -> Accepted:
        return self._record(new_request(self.settings, self._live_profile(submission)))

    def _live_profile(self, submission: Submission) -> Submission:
        """Traffic for the preview profile runs on the profile the model gate made active, so a
        promotion or rollback takes effect for the next request without restarting anything."""
        if submission.pin_profile or submission.profile != self.settings.preview_profile:
            return submission
        active = self._active_profile_name()
        if active is None or active == submission.profile:
            return submission
        return replace(submission, profile=active)

    def _active_profile_name(self) -> str | None:
        # A read: asked once more when the connection was lost under it (a terminated backend).
        for attempt in (1, 2):
            try:
                with self.sessions() as session:
                    row = active_profile(session)
                    return row.name if row is not None else None
            except OperationalError as exc:
                if attempt == 2:
                    raise self._database_fault(exc, "could not read the active profile; nothing was queued") from None
        return None

    def export(self, image_id: str, requested_by: str, idempotency_key: str | None = None) -> Accepted:
        return self._record(new_export(self.sessions, self.settings, image_id, requested_by, idempotency_key))

    def _record(self, new: NewRequest) -> Accepted:
        try:
            accepted = record_request(self.sessions, self.settings, new, enqueue=self._send)
        except OperationalError as exc:
            # The intake transaction rolled back: nothing was recorded or queued.
            raise self._database_fault(exc, "could not record the request; nothing was queued") from None
        if not accepted.duplicate:
            self._queued(accepted.request_id)
        return accepted

    def status(self, request_id: str) -> RequestStatus:
        try:
            return read_status(self.sessions, request_id, self.artifact_path)
        except OperationalError as exc:
            raise self._database_fault(exc, f"could not read request {request_id}") from None

    def _database_fault(self, exc: OperationalError, what: str) -> DatabaseError:
        """A database that is full, locked, read-only or dropped our connection, as one line."""
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig is not None else type(exc).__name__
        return DatabaseError(
            f"the database ({describe_url(self.engine.url)}) {what}: {reason}; free disk space, release"
            " the lock or fix its permissions, then try again"
        )

    def cancel(self, request_id: str, by: str) -> RequestStatus:
        request_cancel(self.sessions, request_id, by)
        return self.status(request_id)

    def wait(self, request_id: str, timeout: float) -> RequestStatus:
        deadline = time.monotonic() + timeout
        delay = 0.05
        lost_since: float | None = None
        while True:
            try:
                status = self.status(request_id)
            except DatabaseError:
                # A poll that lost its connection (a restarted server, a terminated backend) is
                # asked again, past a short deadline too: the pool replaces the connection.
                lost_since = lost_since if lost_since is not None else time.monotonic()
                if time.monotonic() - lost_since >= LOST_GRACE_S and time.monotonic() >= deadline:
                    raise
                time.sleep(delay)
                delay = min(0.5, delay * 1.5)
                continue
            lost_since = None
            if status.state in TERMINAL_STATES or time.monotonic() >= deadline:
                return status
            time.sleep(min(delay, max(0.0, deadline - time.monotonic())))
            delay = min(0.5, delay * 1.5)

    def artifact_path(self, sha256: str, suffix: str) -> str:
        return str(artifact_file(self.settings.artifacts_dir, sha256, suffix))

    def close(self) -> None:
        """Nothing to release here: the engine is the process's (or the caller's)."""


def artifact_file(root: Path, sha256: str, suffix: str) -> Path:
    return ArtifactStore(root).path_for(sha256, suffix)

"""An in-memory stand-in for the queue and audit database, used until the real local queue is on main.

It keeps the contract of brandgate.jobs.api (idempotency keys, positions, states, ImageView) and of
approvals (one decision per image), so the bot under test is the real one; the end-to-end test in
test_end_to_end.py runs the same flows on the real local queue and tiny model once that has landed.
"""

from __future__ import annotations

import csv
import io
import json
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any

from PIL import Image

from bot.governance import Decision, DecisionTaken, ImageRecord
from bot.slash import AuditQuery
from brandgate.jobs.api import Accepted, ImageView, JobStatus, LimitExceeded, Submission, UnknownJob


@dataclass
class _Request:
    submission: Submission | None
    request_id: str
    state: str = "queued"
    stage: str | None = None
    images: list[ImageView] = field(default_factory=list)
    image_of: str | None = None  # exports: the preview image


class StandInQueue:
    def __init__(self, folder: Path, max_images: int = 16) -> None:
        self.folder = folder
        self.max_images = max_images
        self.requests: dict[str, _Request] = {}
        self.keys: dict[str, str] = {}
        self.submissions: list[Submission] = []
        self.exports: list[tuple[str, str, str | None]] = []
        self.cancelled: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def submit(self, submission: Submission) -> Accepted:
        with self._lock:
            if submission.idempotency_key and submission.idempotency_key in self.keys:
                return Accepted(self.keys[submission.idempotency_key], duplicate=True, position=0)
            if submission.brief.n > self.max_images:
                raise LimitExceeded(f"{submission.brief.n} images is over your limit of {self.max_images} per request")
            ahead = sum(r.state == "queued" for r in self.requests.values())
            request_id = uuid.uuid4().hex[:16]
            self.requests[request_id] = _Request(submission, request_id)
            self.submissions.append(submission)
            if submission.idempotency_key:
                self.keys[submission.idempotency_key] = request_id
            return Accepted(request_id, duplicate=False, position=ahead)

    def export(self, image_id: str, requested_by: str, idempotency_key: str | None = None) -> Accepted:
        with self._lock:
            if idempotency_key and idempotency_key in self.keys:
                return Accepted(self.keys[idempotency_key], duplicate=True, position=0)
            request_id = uuid.uuid4().hex[:16]
            self.requests[request_id] = _Request(None, request_id, image_of=image_id)
            self.exports.append((image_id, requested_by, idempotency_key))
            if idempotency_key:
                self.keys[idempotency_key] = request_id
            return Accepted(request_id, duplicate=False, position=0)

    def status(self, request_id: str) -> JobStatus:
        with self._lock:
            request = self.requests.get(request_id)
            if request is None:
                raise UnknownJob(f"no request {request_id!r}")
            n = request.submission.brief.n if request.submission else 1
            position = sum(
                r.state == "queued" for r in list(self.requests.values())[: list(self.requests).index(request_id)]
            )
            return JobStatus(
                request_id=request_id,
                state=request.state,  # type: ignore[arg-type]
                n_images=n,
                position=position if request.state == "queued" else None,
                stage=request.stage,
                image_index=1 if request.stage == "generating" else None,
                images=tuple(request.images),
            )

    def cancel(self, request_id: str, by: str) -> JobStatus:
        with self._lock:
            self.requests[request_id].state = "cancelled"
            self.cancelled.append((request_id, by))
        return self.status(request_id)

    def wait(self, request_id: str, timeout: float) -> JobStatus:
        return self.status(request_id)

    def close(self) -> None:
        pass

    # --- what a worker would do ----------------------------------------------------------------------

    def run(self, request_id: str, stage: str = "generating") -> None:
        with self._lock:
            self.requests[request_id].state = "running"
            self.requests[request_id].stage = stage

    def finish(
        self, request_id: str, verdicts: list[str], failed: Mapping[int, list[dict[str, Any]]] | None = None
    ) -> list[ImageView]:
        """Marks the request done with one small real PNG per verdict."""
        views = []
        for index, verdict in enumerate(verdicts):
            image_id = uuid.uuid4().hex[:16]
            path = self.folder / f"{image_id}.png"
            Image.new("RGB", (64, 64), (200, 40 * index % 255, 40)).save(path)
            views.append(
                ImageView(
                    image_id=image_id,
                    index=index,
                    verdict=verdict,
                    seed=1000 + index,
                    artifact_path=str(path),
                    manifest_path=None,
                    cost_usd=0.001,
                    failed_checks=tuple((failed or {}).get(index, [])),
                )
            )
        with self._lock:
            request = self.requests[request_id]
            request.images = views
            request.state = "done"
            request.stage = None
        return views

    def fail(self, request_id: str, reason: str) -> None:
        with self._lock:
            self.requests[request_id].state = "failed"


class StandInGovernance:
    """The Governance protocol over StandInQueue, with one-decision-per-image and an event list."""

    def __init__(self, folder: Path) -> None:
        self._queue = StandInQueue(folder)
        self.decisions: dict[str, tuple[str, str, str | None]] = {}
        self.events: list[dict[str, Any]] = []
        self.verified: list[bytes] = []
        self.foreign_images: dict[str, ImageRecord] = {}
        self._lock = threading.Lock()

    @property
    def queue(self) -> StandInQueue:
        return self._queue

    def image(self, image_id: str) -> ImageRecord:
        if image_id in self.foreign_images:
            return self.foreign_images[image_id]
        for request in self._queue.requests.values():
            for view in request.images:
                if view.image_id == image_id and request.submission is not None:
                    decided = self.decisions.get(image_id)
                    return ImageRecord(
                        image_id=image_id,
                        request_id=request.request_id,
                        kit=request.submission.brief.kit,
                        requested_by=request.submission.requested_by,
                        channel=request.submission.channel,
                        verdict=decided[0] if decided else view.verdict,
                        index=view.index,
                        brief=request.submission.brief.model_dump(mode="json"),
                        decided_by=decided[1] if decided else None,
                    )
        raise UnknownJob(f"no image {image_id!r}")

    def requester(self, request_id: str) -> str:
        request = self._queue.requests.get(request_id)
        if request is None or request.submission is None:
            raise UnknownJob(f"no request {request_id!r}")
        return request.submission.requested_by

    def decide(self, image_id: str, decision: Decision, decided_by: str, reason: str | None) -> None:
        with self._lock:
            if image_id in self.decisions:
                taken = self.decisions[image_id]
                raise DecisionTaken(taken[0], taken[1])
            self.decisions[image_id] = (decision, decided_by, reason)
            self.events.append(
                {"kind": f"image.{decision}", "actor": decided_by, "subject": image_id, "reason": reason}
            )
        for request in self._queue.requests.values():
            request.images = [
                replace(v, verdict=decision, decided_by=decided_by) if v.image_id == image_id else v
                for v in request.images
            ]

    def record(self, actor: str, kind: str, subject_id: str | None, payload: Mapping[str, Any]) -> None:
        with self._lock:
            self.events.append({"kind": kind, "actor": actor, "subject": subject_id, **payload})

    def export_trail(self, query: AuditQuery, out: IO[bytes]) -> int:
        rows = []
        for request in self._queue.requests.values():
            if request.submission is None or (query.kit and request.submission.brief.kit != query.kit):
                continue
            for view in request.images:
                decided = self.decisions.get(view.image_id)
                rows.append(
                    {
                        "request_id": request.request_id,
                        "image_id": view.image_id,
                        "kit": request.submission.brief.kit,
                        "verdict": view.verdict,
                        "decision": decided[0] if decided else None,
                        "decided_by": decided[1] if decided else None,
                    }
                )
        if query.format == "csv":
            text = io.StringIO()
            writer = csv.DictWriter(
                text, fieldnames=["request_id", "image_id", "kit", "verdict", "decision", "decided_by"]
            )
            writer.writeheader()
            writer.writerows(rows)
            out.write(text.getvalue().encode())
        else:
            for row in rows:
                out.write((json.dumps(row) + "\n").encode())
        return len(rows)

    def verify(self, data: bytes, name: str) -> Mapping[str, Any]:
        self.verified.append(data)
        return {"state": "no_credentials", "summary": "no credentials", "file": name}

    def close(self) -> None:
        pass

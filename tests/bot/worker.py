"""Plays the GPU worker for the bot's tests: requests go through the real lifecycle, images are signed and recorded.

The bot reads everything from the database (queue status, images, approvals, the trail) and the
artifact store, so this writes exactly what the pipeline writes there: the request's state changes
through `brandgate.requests.lifecycle`, one image row with its check rows and `image.created` event
per image, a C2PA-signed PNG in the content-addressed store. Only the diffusion model is left out:
the bot's tests are about Slack, and the end-to-end test runs the real generator.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from PIL import Image as PILImage
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from brandgate.artifacts import ArtifactStore
from brandgate.db.audit import append_event
from brandgate.db.models import CheckResultRow, Image, Request
from brandgate.jobs.request_side import QueueFront
from brandgate.requests import lifecycle
from brandgate.requests.images import ImageView
from brandgate.settings import Settings
from pipeline.provenance.governance import CheckRecord, GovernanceRecord, ModelIdentity
from pipeline.provenance.signer import Signer
from policies.perceptual import phash_hex

WORKER = "test-worker@bot-tests"
MODEL = ModelIdentity("brandgate/tiny-sd", "0123456789abcdef0123456789abcdef01234567")


def picture(index: int, size: int = 96) -> PILImage.Image:
    """A small picture that differs from image to image (so perceptual hashes do too)."""
    image = PILImage.new("RGB", (size, size), (200, (60 * index) % 255, 40))
    for x in range(0, size, 8):
        for y in range(0, size, 8):
            if (x // 8 + y // 8 + index) % 3 == 0:
                image.paste((20, 20 + 30 * index % 200, 180), (x, y, x + 8, y + 8))
    return image


class TestWorker:
    """`start` takes a queued request; `finish` records one signed image per verdict and ends it."""

    __test__ = False  # not a pytest class

    def __init__(self, settings: Settings, queue: QueueFront) -> None:
        self.settings = settings
        self.queue = queue
        self.sessions: sessionmaker[Session] = queue.sessions
        self.store = ArtifactStore.from_settings(settings)
        self.signer = Signer.from_settings(settings)

    def start(self, request_id: str, stage: str = "generating") -> None:
        with self.sessions.begin() as session:
            row = session.get_one(Request, request_id)
            lifecycle.start(session, row, WORKER)
            row.stage = stage
            row.progress_image = 1
            row.progress_step = 1
            row.progress_steps = 4

    def finish(
        self,
        request_id: str,
        verdicts: Sequence[str],
        failed: Mapping[int, Sequence[Mapping[str, Any]]] | None = None,
    ) -> list[ImageView]:
        """Record an image per verdict (with `failed[index]` as its failing checks), then finish the request."""
        with self.sessions.begin() as session:
            row = session.get_one(Request, request_id)
            if row.state == "queued":
                lifecycle.start(session, row, WORKER)
            first = session.scalar(select(Image.index).where(Image.request_id == row.id).order_by(Image.index.desc()))
            start = 0 if first is None else first + 1
            for offset, verdict in enumerate(verdicts):
                self._record(session, row, start + offset, verdict, list((failed or {}).get(offset, [])))
            lifecycle.finish(session, row, {"total": 0.1})
        return list(self.queue.status(request_id).images)

    def _record(
        self, session: Session, row: Request, index: int, verdict: str, failed: list[Mapping[str, Any]]
    ) -> None:
        image_id = uuid.uuid4().hex[:16]
        seed = row.seed + index
        pixels = picture(index + len(row.id) % 7)
        checks = [
            CheckResultRow(
                image_id=image_id,
                check_id=str(c["id"]),
                name=str(c["name"]),
                status=str(c["status"]),
                severity=str(c["severity"]),
                confidence=float(c["confidence"]),
                message=str(c["message"]),
                evidence=dict(c.get("evidence") or {}),
            )
            for c in failed
        ] or [
            CheckResultRow(
                image_id=image_id,
                check_id="BG601",
                name="blank-image",
                status="pass",
                severity="reject",
                confidence=1.0,
                message="not blank",
            )
        ]
        encoded = io.BytesIO()
        pixels.save(encoded, "PNG")
        signed = self.signer.sign(
            encoded.getvalue(),
            "image/png",
            GovernanceRecord(
                request_id=row.id,
                image_id=image_id,
                verdict=verdict,  # type: ignore[arg-type]
                checks=tuple(CheckRecord(c.check_id, c.status, c.confidence) for c in checks),  # type: ignore[arg-type]
                kit_name=row.kit_name,
                kit_hash=row.kit_hash,
                brief_hash=row.brief_hash,
                seed=seed,
                profile_name=row.profile_name,
                profile_hash=row.profile_hash or "0" * 64,
                model=MODEL,
            ),
        )
        artifact = self.store.put(signed.image, ".png")
        manifest = self.store.put(signed.manifest_store, ".c2pa")
        session.add(
            Image(
                id=image_id,
                request_id=row.id,
                index=index,
                kind="export" if row.parent_image_id else "preview",
                parent_image_id=row.parent_image_id,
                sha256=artifact.sha256,
                phash=phash_hex(_rgb(pixels)),
                media_type="image/png",
                width=pixels.width,
                height=pixels.height,
                model_id=MODEL.name,
                model_revision=MODEL.revision,
                generation_config={"steps": 4},
                seed=seed,
                cost_usd=0.001,
                verdict=verdict,
                manifest_sha256=manifest.sha256,
                created_at=datetime.now(UTC),
            )
        )
        session.flush()
        session.add_all(checks)
        append_event(
            session,
            actor="worker",
            kind="image.exported" if row.parent_image_id else "image.created",
            subject_type="image",
            subject_id=image_id,
            payload={"request_id": row.id, "index": index, "sha256": artifact.sha256, "verdict": verdict},
        )


def _rgb(image: PILImage.Image) -> Any:
    import numpy as np

    return np.asarray(image.convert("RGB"))

"""SQLAlchemy 2 typed models of the data that lasts (docs/audit.md); every change ships a migration."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    return datetime.now(UTC)


# The perceptual hash split into four 16-bit bands, each an indexed column: see
# brandgate/db/visual_index.py for why this finds every image within a distance.
PHASH_BAND_COUNT = 4
PHASH_BAND_COLUMNS = tuple(f"phash_band{i}" for i in range(PHASH_BAND_COUNT))


def phash_bands(phash: str) -> tuple[int, ...]:
    """The bands of a 16-hex-digit hash, most significant first."""
    width = len(phash) // PHASH_BAND_COUNT
    return tuple(int(phash[i * width : (i + 1) * width], 16) for i in range(PHASH_BAND_COUNT))


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class Request(Base):
    """One brief submitted once (idempotency key), run as one job."""

    __tablename__ = "requests"
    __table_args__ = (
        # the queue: oldest queued first, per queue; and the per-user limits
        Index("ix_requests_queue_state_created", "queue", "state", "created_at"),
        Index("ix_requests_requested_by_state", "requested_by", "state"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    requested_by: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(20), default="cli")  # cli, slack, regress, export
    channel: Mapped[str | None] = mapped_column(String(100))
    kit_name: Mapped[str] = mapped_column(String(64), index=True)
    kit_hash: Mapped[str] = mapped_column(String(64))
    brief: Mapped[dict[str, Any]] = mapped_column(JSON)
    brief_hash: Mapped[str] = mapped_column(String(64))
    profile_name: Mapped[str] = mapped_column(String(64))
    profile_hash: Mapped[str | None] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(BigInteger)
    n_images: Mapped[int] = mapped_column(Integer)
    queue: Mapped[str] = mapped_column(String(20), default="preview")
    state: Mapped[str] = mapped_column(String(20), default="queued", index=True)
    stage: Mapped[str | None] = mapped_column(String(40))
    failure_reason: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    parent_image_id: Mapped[str | None] = mapped_column(String(32))
    stage_timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    gpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Live progress and the worker's lease, written by the worker so any process can read them.
    progress_image: Mapped[int | None] = mapped_column(Integer)
    progress_step: Mapped[int | None] = mapped_column(Integer)
    progress_steps: Mapped[int | None] = mapped_column(Integer)
    cancel_requested_by: Mapped[str | None] = mapped_column(String(100))
    worker: Mapped[str | None] = mapped_column(String(200))
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    images: Mapped[list[Image]] = relationship(back_populates="request", order_by="Image.index")


class Image(Base):
    """One produced image: where its bytes are, what made it, what it cost, what the checks said."""

    __tablename__ = "images"
    __table_args__ = (
        UniqueConstraint("request_id", "index", name="uq_images_request_index"),
        # the export walks images in (created_at, id) order, a batch at a time
        Index("ix_images_created_at_id", "created_at", "id"),
        # each band's index carries the whole hash, so a lookup never reads the table itself
        *(Index(f"ix_images_{column}", column, "phash") for column in PHASH_BAND_COLUMNS),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    request_id: Mapped[str] = mapped_column(ForeignKey("requests.id"), index=True)
    index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20), default="preview")  # preview, export
    parent_image_id: Mapped[str | None] = mapped_column(ForeignKey("images.id"))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    phash: Mapped[str | None] = mapped_column(String(16), index=True)
    # derived from phash whenever it is set (see _bands_follow_phash); never written by hand
    phash_band0: Mapped[int | None] = mapped_column(Integer)
    phash_band1: Mapped[int | None] = mapped_column(Integer)
    phash_band2: Mapped[int | None] = mapped_column(Integer)
    phash_band3: Mapped[int | None] = mapped_column(Integer)
    media_type: Mapped[str] = mapped_column(String(40), default="image/png")
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    model_id: Mapped[str] = mapped_column(String(200))
    model_revision: Mapped[str] = mapped_column(String(64))
    generation_config: Mapped[dict[str, Any]] = mapped_column(JSON)
    seed: Mapped[int] = mapped_column(BigInteger)
    timings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    gpu_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    peak_memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    memory_kind: Mapped[str | None] = mapped_column(String(10))  # cuda, rss
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    verdict: Mapped[str] = mapped_column(String(10), index=True)
    manifest_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    request: Mapped[Request] = relationship(back_populates="images")
    checks: Mapped[list[CheckResultRow]] = relationship(back_populates="image", order_by="CheckResultRow.check_id")
    approval: Mapped[Approval | None] = relationship(back_populates="image")

    @validates("phash")
    def _bands_follow_phash(self, _key: str, phash: str | None) -> str | None:
        bands = phash_bands(phash) if phash is not None else (None,) * PHASH_BAND_COUNT
        for column, band in zip(PHASH_BAND_COLUMNS, bands, strict=True):
            setattr(self, column, band)
        return phash


class CheckResultRow(Base):
    __tablename__ = "check_results"
    __table_args__ = (UniqueConstraint("image_id", "check_id", name="uq_check_results_image_check"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id"), index=True)
    check_id: Mapped[str] = mapped_column(String(10), index=True)
    name: Mapped[str] = mapped_column(String(60))
    status: Mapped[str] = mapped_column(String(10))
    severity: Mapped[str] = mapped_column(String(10))
    confidence: Mapped[float] = mapped_column(Float)
    message: Mapped[str] = mapped_column(Text)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)

    image: Mapped[Image] = relationship(back_populates="checks")


class Approval(Base):
    """At most one human decision per image; `version` guards concurrent decisions."""

    __tablename__ = "approvals"
    __table_args__ = (CheckConstraint("decision IN ('approved', 'rejected')", name="decision"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    image_id: Mapped[str] = mapped_column(ForeignKey("images.id"), unique=True)
    decision: Mapped[str] = mapped_column(String(10))  # approved, rejected
    decided_by: Mapped[str] = mapped_column(String(100))
    reason: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    version: Mapped[int] = mapped_column(Integer, default=1)

    image: Mapped[Image] = relationship(back_populates="approval")


class ModelProfileRow(Base):
    """The model registry: a profile and its status (candidate, active, retired)."""

    __tablename__ = "model_profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(12), index=True, default="candidate")
    profile: Mapped[dict[str, Any]] = mapped_column(JSON)
    profile_hash: Mapped[str] = mapped_column(String(64))
    model_path: Mapped[str] = mapped_column(Text)
    model_revision: Mapped[str | None] = mapped_column(String(64))
    previous_active_id: Mapped[int | None] = mapped_column(ForeignKey("model_profiles.id"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    promoted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class GoldenOutput(Base):
    __tablename__ = "golden_outputs"
    __table_args__ = (UniqueConstraint("profile_id", "brief_id", "seed", name="uq_golden_outputs_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile_id: Mapped[int] = mapped_column(ForeignKey("model_profiles.id"), index=True)
    brief_id: Mapped[str] = mapped_column(String(100))
    seed: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # where the golden pixels are, so drift (MAD, SSIM) can be measured without a store lookup
    artifact_path: Mapped[str | None] = mapped_column(Text)
    regression_run_id: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class RegressionRun(Base):
    __tablename__ = "regression_runs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    suite: Mapped[str] = mapped_column(String(200))
    suite_hash: Mapped[str] = mapped_column(String(64))
    profile_name: Mapped[str] = mapped_column(String(64))
    baseline_run_id: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(12), default="running")  # running, complete, incomplete, failed
    seeds: Mapped[int] = mapped_column(Integer, default=1)
    concurrency: Mapped[int] = mapped_column(Integer, default=1)
    summary: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    profile_hash: Mapped[str | None] = mapped_column(String(64))
    # what the run was asked for (seed list, watchdog tolerance, slice), so it can be resumed as it was
    plan: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    triggered_by: Mapped[str | None] = mapped_column(String(100))

    outputs: Mapped[list[RegressionOutput]] = relationship(
        back_populates="run", order_by="RegressionOutput.position"
    )


class RegressionOutput(Base):
    """One render of one suite brief at one seed within a run; written as each render finishes."""

    __tablename__ = "regression_outputs"
    __table_args__ = (
        UniqueConstraint("run_id", "brief_id", "seed_index", "repeat", name="uq_regression_outputs_render"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("regression_runs.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)  # order in the suite: the contact sheet keeps it
    brief_id: Mapped[str] = mapped_column(String(100))
    family: Mapped[str] = mapped_column(String(30))
    expect: Mapped[str] = mapped_column(String(10), default="pass")
    seed_index: Mapped[int] = mapped_column(Integer)
    repeat: Mapped[int] = mapped_column(Integer, default=0)
    seed: Mapped[int] = mapped_column(BigInteger)
    request_id: Mapped[str | None] = mapped_column(String(32))
    image_id: Mapped[str | None] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(12))  # done, failed, cancelled, missing
    verdict: Mapped[str | None] = mapped_column(String(10))
    artifact_path: Mapped[str | None] = mapped_column(Text)
    latency_s: Mapped[float | None] = mapped_column(Float)
    cost_usd: Mapped[float] = mapped_column(Float, default=0.0)
    peak_memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    memory_kind: Mapped[str | None] = mapped_column(String(10))
    checks: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [[check id, family, status], ...]
    failure_reason: Mapped[str | None] = mapped_column(Text)
    stability: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    drift_mad: Mapped[float | None] = mapped_column(Float)
    drift_ssim: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    run: Mapped[RegressionRun] = relationship(back_populates="outputs")


class SchedulerLock(Base):
    """Who runs a scheduled job right now, on databases without advisory locks (SQLite)."""

    __tablename__ = "scheduler_locks"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditEvent(Base):
    """Append-only, hash-chained trail. The database refuses UPDATE and DELETE (triggers)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_subject", "subject_type", "subject_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(BigInteger, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(60), index=True)
    subject_type: Mapped[str | None] = mapped_column(String(30))
    subject_id: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditTreeNode(Base):
    """A complete subtree of the Merkle tree over audit_events (brandgate/db/tree.py).

    Level 0 is not stored: leaf `i` is event seq `i + 1`, hashed from its chain hash. A node at
    `level` and `position` covers leaves [position * 2**level, (position + 1) * 2**level).
    """

    __tablename__ = "audit_tree_nodes"

    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True, autoincrement=False)
    position: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditTreeHead(Base):
    """A signed tree head: the trail's first `size` events had Merkle root `root` at `created_at`."""

    __tablename__ = "audit_tree_heads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    size: Mapped[int] = mapped_column(BigInteger, unique=True)
    root: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))

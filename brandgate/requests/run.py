"""Running one request end to end: screen, generate, compose, check, sign, store, record.

`RequestRun(parts)(request_id)` is the one entry point. Generation of image k+1 runs while a
finishing thread composes, checks, signs, stores and records image k, so the model is never
waiting on the CPU-side work. Every image is recorded in its own transaction (its row, its
check rows, its charge and its audit event together), so a failure or a crash leaves no
half-written image and a redelivered job skips what is already recorded.
"""

from __future__ import annotations

import contextvars
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image as PILImage
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from brandgate.artifacts import ArtifactStore
from brandgate.clock import as_utc
from brandgate.db.audit import chain_head
from brandgate.db.evidence import record_image, seal_image
from brandgate.db.merkle import EMPTY_ROOT
from brandgate.db.models import Approval, Image, Request
from brandgate.db.tree import latest_head, read_only
from brandgate.kits import resolve_kit
from brandgate.requests import lifecycle
from brandgate.requests.failures import (
    Cancelled,
    DatabaseUnavailable,
    StageFailed,
    describe,
    first_line,
    is_database_outage,
    stage_errors,
)
from brandgate.requests.image_formats import MEDIA_TYPES, SUFFIXES, encode, suffix_of
from brandgate.requests.records import (
    check_rows,
    generation_record,
    ingredient_list,
    jsonable,
    memory_kind,
    model_revision,
    peak_memory,
)
from pipeline.compose import compose
from pipeline.generation import GenerationCancelled, Generator, derive_seeds
from pipeline.generation import Progress as StepProgress
from pipeline.profiles import load_profile
from pipeline.provenance.governance import ApprovalRecord, CheckRecord, GovernanceRecord, ModelIdentity, TrailAnchor
from pipeline.provenance.signer import Ingredient, Signer
from policies.brief import Brief, brief_from_mapping
from policies.checks.bg603_degenerate_output import background_copy
from policies.creative import Creative
from policies.engine import ImageReport, run_checks, screen_brief
from policies.errors import InvalidInput
from policies.kit import Kit
from policies.perceptual import phash_hex

if TYPE_CHECKING:
    from brandgate.settings import Settings
    from pipeline.profiles import Profile

log = logging.getLogger(__name__)



class RunHooks:
    """What the queue layer learns while a request runs; the defaults do nothing."""

    def progress(self, stage: str, image: int | None = None, step: int | None = None,
                 steps: int | None = None) -> None:
        """Where the request is: stage, 1-based image, denoising step."""

    def cancelled_by(self) -> str | None:
        """Who asked to stop, or None; polled at every denoising step, so it must be cheap."""
        return None

    def stage_timed(self, stage: str, seconds: float) -> None:
        """One stage of one image (or the request) took this long."""

    def image_recorded(self, verdict: str, report: ImageReport, kit: str, gpu_seconds: float,
                       cost_usd: float) -> None:
        """An image and its charge are in the database."""

    def spent(self, kit: str, gpu_seconds: float, cost_usd: float) -> None:
        """GPU time spent that no image row carries (a failed or cancelled request)."""


@dataclass(frozen=True)
class RunResult:
    request_id: str
    state: str  # done, failed, cancelled
    stage: str | None = None
    reason: str | None = None
    image_ids: tuple[str, ...] = ()
    cost_usd: float = 0.0


@dataclass
class WorkerParts:
    """What a worker builds once and reuses for every request: models, signer, store, pools.

    `generators` caches one loaded model per profile hash; `device_lock` lets only one thread
    at a time run the model, so several runs in one process overlap their CPU-side work with
    each other's generation.
    """

    settings: Settings
    sessions: sessionmaker[Session]
    store: ArtifactStore
    signer_factory: Callable[[], Signer]
    device_lock: threading.Lock = field(default_factory=threading.Lock)
    _signer: Signer | None = None
    _generators: dict[str, Any] = field(default_factory=dict)
    _guard: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def from_settings(cls, settings: Settings, sessions: sessionmaker[Session]) -> WorkerParts:
        return cls(
            settings=settings,
            sessions=sessions,
            store=ArtifactStore(settings.artifacts_dir),
            signer_factory=lambda: Signer.from_settings(settings),
        )

    def signer(self) -> Signer:
        with self._guard:
            if self._signer is None:
                self._signer = self.signer_factory()
            return self._signer

    def generator(self, profile: Profile) -> Any:
        """The loaded, warmed model for `profile`: the first call's one-time costs are paid here, by no image."""
        key = profile.content_hash()
        with self._guard:
            if key not in self._generators:
                generator = Generator(profile, self.settings)
                with self.device_lock:
                    seconds = generator.warm_up()
                log.info("model for profile %s warmed up in %.2f s (billed to no image)", profile.name, seconds,
                         extra={"event": "model.warmed_up", "profile": profile.name,
                                "warm_up_seconds": round(seconds, 4)})
                self._generators[key] = generator
            return self._generators[key]

    def close(self) -> None:
        """Nothing to release yet: models and the check pool live as long as the process."""


@dataclass
class Job:
    """One request as the run sees it after preparing."""

    request: Request
    brief: Brief
    kit: Kit
    profile: Profile
    seeds: list[int]
    pending: list[int]  # image indexes not yet recorded
    parent: Image | None = None
    parent_bytes: bytes | None = None
    approval: Approval | None = None
    # Small copies of the backgrounds generated so far, by index: BG603 tells a near-copy of one.
    backgrounds: dict[int, Any] = field(default_factory=dict)


@dataclass
class Produced:
    """An image the model made, waiting to be finished (composed, checked, signed, stored, recorded)."""

    index: int
    seed: int
    image: PILImage.Image
    generation: Any  # pipeline.generation.GeneratedImage
    generation_s: float
    gpu_seconds: float
    cost_usd: float
    lock_wait_s: float = 0.0  # the wait for the device lock before its model call (not in generation_s)


@dataclass
class Spend:
    """GPU time spent on images not yet recorded (charged to the request if they never are)."""

    gpu_seconds: float = 0.0
    cost_usd: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, gpu_seconds: float, cost_usd: float) -> None:
        with self.lock:
            self.gpu_seconds += gpu_seconds
            self.cost_usd += cost_usd


class RequestRun:
    """Runs requests with a worker's parts; call it with a request ID."""

    def __init__(self, parts: WorkerParts, hooks: RunHooks | None = None) -> None:
        self.parts = parts
        self.hooks = hooks or RunHooks()

    def __call__(self, request_id: str) -> RunResult:
        timings: dict[str, float] = {}
        spend = Spend()
        started = time.perf_counter()
        job: Job | None = None
        try:
            with self._stage("preparing", timings):
                job = self._prepare(request_id)
            self._check_cancel()
            with self._stage("screening", timings):
                self._screen(job)
            image_ids = self._produce(job, timings, spend)
            timings["total"] = time.perf_counter() - started
            return self._finish_done(job, timings, image_ids)
        except Cancelled as exc:
            timings["total"] = time.perf_counter() - started
            return self._finish_stopped(request_id, job, "cancelled", None, exc.by, timings, spend)
        except StageFailed as exc:
            timings["total"] = time.perf_counter() - started
            # Screening refusing the brief (the kit changed after intake) is the policy working: INFO.
            level = logging.INFO if exc.stage == "screening" else logging.ERROR
            log.log(
                level, "request failed at %s: %s", exc.stage, exc.reason,
                extra={"event": "request.failed", "request_id": request_id, "stage": exc.stage},
            )
            return self._finish_stopped(request_id, job, "failed", exc.stage, exc.reason, timings, spend)

    # ------------------------------------------------------------------ stages

    @contextmanager
    def _stage(self, stage: str, timings: dict[str, float], *, image: bool = False) -> Iterator[None]:
        """Time a stage and turn its errors into StageFailed (outages pass through).

        A request-level stage publishes progress and adds up in the request's timings; an image's
        stage (on the finishing thread) is timed in that image's own timings, and counts towards
        its `finishing` total.
        """
        if not image:
            self.hooks.progress(stage)
        began = time.perf_counter()
        try:
            with stage_errors(stage):
                yield
        finally:
            elapsed = time.perf_counter() - began
            if image:
                timings[stage] = round(elapsed, 4)
                timings["finishing"] = round(timings.get("finishing", 0.0) + elapsed, 4)
            else:
                timings[stage] = timings.get(stage, 0.0) + elapsed
            self.hooks.stage_timed(stage, elapsed)

    def _check_cancel(self) -> None:
        by = self.hooks.cancelled_by()
        if by:
            raise Cancelled(by)

    def _prepare(self, request_id: str) -> Job:
        settings = self.parts.settings
        with self.parts.sessions() as session:
            request = session.get(Request, request_id)
            if request is None:
                raise StageFailed("preparing", f"no request {request_id!r} in the database")
            done = set(session.scalars(select(Image.index).where(Image.request_id == request_id)).all())
            parent = approval = None
            if request.parent_image_id:
                parent = session.get(Image, request.parent_image_id)
                if parent is None:
                    raise StageFailed("preparing", f"the preview {request.parent_image_id} to export is gone")
                approval = session.scalars(
                    select(Approval).where(Approval.image_id == parent.id)
                ).first()
            session.expunge_all()
        try:
            brief = brief_from_mapping(request.brief, f"request {request_id} brief")
        except InvalidInput as exc:
            raise StageFailed("preparing", str(exc)) from None
        kit = resolve_kit(request.kit_name, settings)
        if kit.content_hash != request.kit_hash:
            log.warning(
                "kit %s changed since the request was queued; using the kit as it is now",
                kit.name, extra={"event": "request.kit_changed", "request_id": request_id,
                                 "queued_hash": request.kit_hash, "current_hash": kit.content_hash},
            )
        profile = load_profile(request.profile_name, settings)
        self._check_artifacts_writable()
        self.parts.signer()  # a bad key fails here, before any GPU time is spent
        if parent is not None:
            seeds = [parent.seed]
            parent_bytes = self.parts.store.read(parent.sha256, suffix_of(parent.media_type))
        else:
            seeds = list(derive_seeds(request.seed, request.n_images))
            parent_bytes = None
        pending = [i for i in range(request.n_images) if i not in done]
        if done:
            log.info(
                "resuming: %d of %d image(s) already recorded", len(done), request.n_images,
                extra={"event": "request.resumed", "request_id": request_id},
            )
        return Job(request, brief, kit, profile, seeds, pending, parent, parent_bytes, approval)

    def _check_artifacts_writable(self) -> None:
        root = Path(self.parts.settings.artifacts_dir)
        try:
            root.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(dir=root, prefix=".probe-"):
                pass
        except OSError as exc:
            raise StageFailed(
                "preparing",
                f"cannot write to the artifacts folder {root} ({exc.strerror or exc}); "
                "fix its permissions or point BRANDGATE_ARTIFACTS_DIR elsewhere",
            ) from None

    def _screen(self, job: Job) -> None:
        result = screen_brief(job.brief, job.kit)
        results = result if isinstance(result, Sequence) else [result]
        for check in results:
            if check.status == "fail" and check.severity == "reject":
                raise StageFailed("screening", f"{check.id} {check.name} rejected the prompt: {check.message}")

    def _produce(self, job: Job, timings: dict[str, float], spend: Spend) -> list[str]:
        """Generate in chunks; finishing one chunk overlaps the generation of the next.

        Chunks are `generation_chunk` images (1 by default, never more than the profile's
        batch size): small chunks keep the model busy while the CPU checks what it made.
        """
        if not job.pending:
            return self._recorded_ids(job.request.id)
        generator = self.parts.generator(job.profile)
        abort = threading.Event()
        futures: list[Future[str]] = []
        batch = max(1, min(self.parts.settings.generation_chunk, job.profile.max_batch_size))
        with ThreadPoolExecutor(1, thread_name_prefix=f"finish-{job.request.id[:8]}") as finishing:
            try:
                for start in range(0, len(job.pending), batch):
                    indexes = job.pending[start:start + batch]
                    self._fail_fast(futures)
                    produced = self._generate(job, generator, indexes, abort, timings, spend)
                    for item in produced:
                        # in this thread's context: the finishing thread's log lines name the request
                        finish = contextvars.copy_context().run
                        futures.append(finishing.submit(finish, self._finish_image, job, item, spend, abort))
                for future in futures:
                    future.result()
            except BaseException:
                abort.set()
                for future in futures:
                    future.cancel()
                raise
        self._collect_finishing_timings(job, timings)
        return self._recorded_ids(job.request.id)

    def _fail_fast(self, futures: Sequence[Future[str]]) -> None:
        for future in futures:
            if future.done():
                future.result()  # re-raises the finishing failure of an earlier image

    def _generate(self, job: Job, generator: Any, indexes: list[int], abort: threading.Event,
                  timings: dict[str, float], spend: Spend) -> list[Produced]:
        seeds = [job.seeds[i] for i in indexes]

        def on_step(progress: StepProgress) -> None:
            self.hooks.progress("generating", indexes[progress.batch[0]] + 1, progress.step, progress.steps)

        stop = StopSignal(lambda: abort.is_set() or bool(self.hooks.cancelled_by()))
        self.hooks.progress("generating", indexes[0] + 1, 0, job.profile.steps)
        began = time.perf_counter()
        entered = began
        try:
            with self.parts.device_lock:
                entered = time.perf_counter()
                images = generator.generate(
                    job.brief.prompt, job.brief.negative_prompt, seeds, job.brief.size,
                    on_step=on_step, cancel=stop,
                )
        except Exception as exc:
            # The device time of a batch that never finished is still spent: meter it the way
            # the generator meters a finished one (wall time held, at the configured rate).
            held = time.perf_counter() - entered
            spend.add(held, held * self.parts.settings.gpu_hourly_usd / 3600)
            by = self.hooks.cancelled_by()
            if by and isinstance(exc, GenerationCancelled):
                raise Cancelled(by) from None
            if abort.is_set() and isinstance(exc, GenerationCancelled):
                raise StageFailed("generating", "stopped because an earlier image failed") from None
            if is_database_outage(exc):
                raise DatabaseUnavailable(f"database unavailable during generating: {first_line(exc)}") from exc
            raise StageFailed("generating", describe(exc)) from exc
        finally:
            elapsed = time.perf_counter() - began
            timings["generating"] = timings.get("generating", 0.0) + elapsed
            self.hooks.stage_timed("generating", elapsed)
        # An image's share of the model call itself, not of the wait for the device lock.
        share = (time.perf_counter() - entered) / max(1, len(images))
        produced = []
        for index, generated in zip(indexes, images, strict=True):
            gpu_seconds = float(generated.gpu_seconds)
            cost = float(generated.cost_usd)
            spend.add(gpu_seconds, cost)
            produced.append(Produced(index, int(generated.seed), generated.image, generated, share,
                                     gpu_seconds, cost, lock_wait_s=entered - began))
            job.backgrounds[index] = background_copy(generated.image)
        return produced



    def _finish_image(self, job: Job, item: Produced, spend: Spend, abort: threading.Event) -> str:
        """Compose, check, sign, store and record one image (on the finishing thread)."""
        if abort.is_set():
            raise StageFailed("checking", "stopped because an earlier image failed")
        timings: dict[str, float] = {"generating": round(item.generation_s, 4),
                                     "generating_lock_wait": round(item.lock_wait_s, 4)}
        image_id = os.urandom(16).hex()
        request = job.request

        with self._stage("composing", timings, image=True):
            final, ingredients, composition = self._compose(job, item)
        # The file is encoded while the checks run (hundreds of ms for a 1024² PNG): Pillow's
        # encoder releases the GIL, and tesseract leaves this thread waiting on its process.
        # A copy, so the two threads never read one PIL image at once.
        encoder = ThreadPoolExecutor(1, thread_name_prefix="encode")
        encoding = encoder.submit(encode, final.copy(), job.brief.format)
        encoder.shutdown(wait=False)
        with self._stage("checking", timings, image=True):
            # The checks judge the file we are about to write, format included.
            # What compositing placed (text lines, fonts, logo box) lets the checks read the
            # placed boxes and compare the placed text glyph by glyph.
            placed = (composition or {}).get("placements") or ()
            creative = Creative.from_pil(final, name=f"{request.id}-{item.index}", source_format=job.brief.format,
                                         placements=placed)
            creative.earlier = [job.backgrounds[i] for i in sorted(job.backgrounds) if i < item.index]
            report = run_checks(creative, job.brief, job.kit)
        with self._stage("signing", timings, image=True):
            waited = time.perf_counter()
            encoded = encoding.result()
            # Part of signing, but not its work: benchmarks/throughput.py shows it beside the stage.
            timings["signing_encode_wait"] = round(time.perf_counter() - waited, 4)
            signed = self._sign(job, item, image_id, report, encoded, ingredients)
        with self._stage("storing", timings, image=True):
            suffix = SUFFIXES[job.brief.format]
            stored = self.parts.store.put(signed.image, suffix)
            manifest = self.parts.store.put(signed.manifest_store, ".c2pa")
        try:
            with self._stage("recording", timings, image=True):
                recorded = self._record_image(
                    job, item, image_id, report, final, stored.sha256, manifest.sha256, timings, composition
                )
        except BaseException:
            # The recording failed (a locked, full or lost database): take the files back when the
            # database can say that no row names them; a commit that may have landed keeps them.
            if self._unrecorded(image_id):
                self._discard(stored, manifest)
            raise
        if not recorded:  # another delivery recorded this image first: its files are the ones named
            self._discard(stored, manifest)
        if recorded:
            spend.add(-item.gpu_seconds, -item.cost_usd)
            self.hooks.image_recorded(report.verdict, report, job.kit.name, item.gpu_seconds, item.cost_usd)
        log.info(
            "image %d/%d %s", item.index + 1, request.n_images, report.verdict,
            extra={"event": "image.recorded", "request_id": request.id, "image_id": image_id,
                   "index": item.index, "verdict": report.verdict, "sha256": stored.sha256,
                   "cost_usd": item.cost_usd, "finishing_s": timings.get("finishing")},
        )
        return image_id

    def _unrecorded(self, image_id: str) -> bool:
        try:
            with self.parts.sessions() as session:
                return session.scalar(select(Image.id).where(Image.id == image_id)) is None
        except Exception:  # cannot tell (the database is still away): keep the files
            log.warning("image %s: could not tell whether it was recorded; its files are kept", image_id)
            return False

    def _discard(self, *stored: Any) -> None:
        for artifact in stored:
            try:
                self.parts.store.discard(artifact)
            except OSError as exc:
                log.warning("could not take back %s, which no row names: %s", artifact.path, exc)

    def _compose(
        self, job: Job, item: Produced
    ) -> tuple[PILImage.Image, list[Any], dict[str, Any] | None]:
        """Brand text and logo placed by us when the brief asks; ingredients for the credentials."""
        if job.parent is not None and job.parent_bytes is not None:
            parent = Ingredient.preview(job.parent_bytes, job.parent.media_type)
        else:
            parent = None
        if not job.brief.wants_composition:
            return item.image, [parent] if parent else [], None

        composition = compose(item.image, job.brief, job.kit)
        ingredients: list[Any] = [parent] if parent else []
        ingredients.extend(ingredient_list(composition, item.image))
        return composition.image, ingredients, jsonable(composition.to_json())

    def _sign(self, job: Job, item: Produced, image_id: str, report: ImageReport, encoded: bytes,
              ingredients: list[Any]) -> Any:
        record = generation_record(item.generation)
        approval = None
        if job.approval is not None:
            approval = ApprovalRecord(
                decision=job.approval.decision,  # type: ignore[arg-type]
                decided_by=job.approval.decided_by,
                decided_at=as_utc(job.approval.decided_at),
                reason=job.approval.reason,
            )
        governance = GovernanceRecord(
            request_id=job.request.id,
            image_id=image_id,
            verdict=report.verdict,
            checks=tuple(CheckRecord.from_result(c) for c in report.checks),
            kit_name=job.kit.name,
            kit_hash=job.kit.content_hash,
            brief_hash=job.request.brief_hash,
            seed=item.seed,
            profile_hash=job.profile.content_hash(),
            profile_name=job.profile.name,
            model=ModelIdentity(name=job.profile.model, revision=model_revision(record)),
            approval=approval,
            trail=self._trail_anchor(),
        )
        return self.parts.signer().sign(encoded, MEDIA_TYPES[job.brief.format], governance, ingredients)

    def _trail_anchor(self) -> Any:
        """The chain head now, carried in the credential: a later rewrite of the trail under it shows."""
        engine = self.parts.sessions.kw["bind"]
        seq, digest = chain_head(engine)
        if seq == 0:
            return None
        with read_only(engine) as connection, connection.begin():
            head = latest_head(connection)
        # and the signed tree head it was signed under: `verify` proves the image's record from it
        return TrailAnchor(seq, digest, tree_size=head.size if head else 0,
                           tree_root=(head.root if head else EMPTY_ROOT).hex())

    def _record_image(self, job: Job, item: Produced, image_id: str, report: ImageReport,
                      final: PILImage.Image, sha256: str, manifest_sha256: str,
                      timings: dict[str, float], composition_record: dict[str, Any] | None) -> bool:
        """The image row, its checks, its charge and its audit event in one transaction.

        Returns False when this index was already recorded (a redelivered job): no second row,
        no second charge.
        """
        request = job.request
        record = generation_record(item.generation)
        rgb = Creative.from_pil(final).rgb
        # Built and sealed (digested) before the transaction: no hashing under the write lock.
        image = Image(
            id=image_id,
            request_id=request.id,
            index=item.index,
            kind="export" if job.parent is not None else "preview",
            parent_image_id=job.parent.id if job.parent is not None else None,
            sha256=sha256,
            phash=phash_hex(rgb),
            media_type=MEDIA_TYPES[job.brief.format],
            width=final.width,
            height=final.height,
            model_id=job.profile.model[:200],
            model_revision=model_revision(record)[:64],
            generation_config=jsonable({**record, "composition": composition_record}),
            seed=item.seed,
            timings=jsonable(timings),
            gpu_seconds=item.gpu_seconds,
            peak_memory_bytes=peak_memory(item.generation),
            memory_kind=memory_kind(item.generation),
            cost_usd=item.cost_usd,
            verdict=report.verdict,
            manifest_sha256=manifest_sha256,
            created_at=datetime.now(UTC),
        )
        checks = check_rows(image_id, report.checks)
        digest = seal_image(image, checks)
        try:
            with self.parts.sessions() as session, session.begin():
                if session.scalar(
                    select(Image.id).where(Image.request_id == request.id, Image.index == item.index)
                ) is not None:
                    log.warning(
                        "image %d already recorded; not recording it twice", item.index,
                        extra={"event": "image.duplicate", "request_id": request.id},
                    )
                    return False
                session.execute(
                    update(Request)
                    .where(Request.id == request.id)
                    .values(gpu_seconds=Request.gpu_seconds + item.gpu_seconds,
                            cost_usd=Request.cost_usd + item.cost_usd)
                )
                record_image(
                    session,
                    image,
                    checks,
                    digest=digest,
                    actor="worker",
                    kind="image.exported" if job.parent is not None else "image.created",
                    payload={
                        "request_id": request.id,
                        "index": item.index,
                        "sha256": sha256,
                        "manifest_sha256": manifest_sha256,
                        "verdict": report.verdict,
                        "failed_checks": [c.id for c in report.checks if c.status in ("fail", "error")],
                        "unverified_checks": [c.id for c in report.checks if c.undecided],
                        "accepted_unverified": [c.id for c in report.checks if c.accepted],
                        "seed": item.seed,
                        "gpu_seconds": round(item.gpu_seconds, 6),
                        "cost_usd": round(item.cost_usd, 6),
                        "profile": job.profile.name,
                        "profile_hash": job.profile.content_hash(),
                        "parent_image_id": job.parent.id if job.parent is not None else None,
                        # an HQ export of a flagged or unverified preview names the decision that allowed it
                        **({"approval": {"decision": job.approval.decision, "decided_by": job.approval.decided_by,
                                         "decided_at": as_utc(job.approval.decided_at).isoformat(),
                                         "reason": job.approval.reason}} if job.approval is not None else {}),
                    },
                )
        except IntegrityError:
            # A second worker recorded the same index between our check and our insert.
            log.warning("image %d recorded by another attempt", item.index,
                        extra={"event": "image.duplicate", "request_id": request.id})
            return False
        return True

    def _collect_finishing_timings(self, job: Job, timings: dict[str, float]) -> None:
        with self.parts.sessions() as session:
            rows = session.scalars(select(Image.timings).where(Image.request_id == job.request.id)).all()
        for row in rows:
            for stage in ("composing", "checking", "signing", "storing", "recording"):
                if stage in row:
                    timings[stage] = timings.get(stage, 0.0) + float(row[stage])

    def _recorded_ids(self, request_id: str) -> list[str]:
        with self.parts.sessions() as session:
            return list(session.scalars(
                select(Image.id).where(Image.request_id == request_id).order_by(Image.index)
            ).all())

    # ------------------------------------------------------------------ endings

    def _finish_done(self, job: Job, timings: dict[str, float], image_ids: list[str]) -> RunResult:
        request_id = job.request.id
        try:
            with self.parts.sessions() as session, session.begin():
                row = session.get(Request, request_id)
                assert row is not None
                lifecycle.finish(session, row, timings)
                cost = row.cost_usd
        except Exception as exc:
            if is_database_outage(exc):
                raise DatabaseUnavailable(f"database unavailable while finishing: {first_line(exc)}") from exc
            raise
        log.info("request done", extra={"event": "request.done", "request_id": request_id,
                                        "images": len(image_ids), "cost_usd": cost})
        return RunResult(request_id, "done", image_ids=tuple(image_ids), cost_usd=cost)

    def _finish_stopped(self, request_id: str, job: Job | None, state: str, stage: str | None,
                        reason: str, timings: dict[str, float], spend: Spend) -> RunResult:
        """Failed or cancelled (`reason` is then who asked): keep what was recorded, charge what was spent."""
        kit = job.kit.name if job is not None else "unknown"
        try:
            with self.parts.sessions() as session, session.begin():
                row = session.get(Request, request_id)
                if row is None:
                    return RunResult(request_id, state, stage, reason)
                if state == "cancelled":
                    images = lifecycle.cancel(
                        session, row, reason, unrecorded_gpu_seconds=spend.gpu_seconds,
                        unrecorded_cost_usd=spend.cost_usd, timings=timings)
                else:
                    images = lifecycle.fail(
                        session, row, stage, reason, unrecorded_gpu_seconds=spend.gpu_seconds,
                        unrecorded_cost_usd=spend.cost_usd, timings=timings)
                cost = row.cost_usd
                final_reason = row.failure_reason
        except Exception as exc:
            if is_database_outage(exc):
                raise DatabaseUnavailable(f"database unavailable while recording {state}: {first_line(exc)}") \
                    from exc
            raise
        if spend.gpu_seconds > 0:
            self.hooks.spent(kit, spend.gpu_seconds, spend.cost_usd)
        return RunResult(request_id, state, stage, final_reason, tuple(images), cost)


class StopSignal(threading.Event):
    """An Event the generator polls each denoising step; also set by a cancel or an abort."""

    def __init__(self, also: Callable[[], bool]) -> None:
        super().__init__()
        self._also = also

    def is_set(self) -> bool:
        return super().is_set() or self._also()

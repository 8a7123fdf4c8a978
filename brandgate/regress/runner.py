"""Running a suite through the job queue like real traffic, recorded render by render so it can resume."""

from __future__ import annotations

import hashlib
import logging
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from PIL import UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from brandgate.db.models import GoldenOutput, Image, ModelProfileRow, RegressionOutput, RegressionRun, Request
from brandgate.errors import UserError
from brandgate.jobs.contract import BriefRefused, JobQueue, RequestStatus, Submission
from brandgate.regress.measures import (
    CheckOutcome,
    Output,
    Pixels,
    Stability,
    mean_abs_difference,
    per_pixel_spread,
    ssim,
    stability,
    summarise,
)
from brandgate.regress.report import BriefText, RunView
from brandgate.regress.suite import Suite, SuiteBrief, load_suite
from brandgate.requests.states import TERMINAL_STATES
from brandgate.settings import Settings
from pipeline.profiles import load_profile
from policies.checks import builtin_specs

log = logging.getLogger(__name__)

REQUESTED_BY = "regress"
POLL_S = 1.0


class RunInterrupted(Exception):
    """The run stopped before every render finished; it is recorded as incomplete and can resume."""

    def __init__(self, run_id: str) -> None:
        super().__init__(
            f"regression run {run_id} interrupted; resume it with `brandgate regress run --resume {run_id}`"
        )
        self.run_id = run_id


@dataclass(frozen=True)
class Render:
    """One planned render: a suite brief at one of the run's seeds, first or watchdog repeat."""

    position: int
    brief: SuiteBrief
    seed_index: int
    seed: int
    repeat: int

    def key(self, run_id: str) -> str:
        return f"regress:{run_id}:{self.brief.id}:{self.seed_index}:{self.repeat}"


def _size(value: Any) -> tuple[int, int] | None:
    return (int(value[0]), int(value[1])) if isinstance(value, list | tuple) and len(value) == 2 else None


def seed_for(brief_id: str, seed_index: int, base: int) -> int:
    """The same brief and seed index always get the same seed, so two profiles meet the same noise."""
    digest = hashlib.sha256(f"{base}:{brief_id}:{seed_index}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def plan_renders(suite: Suite, seeds: int, seed_base: int, watchdog: bool) -> list[Render]:
    """Every brief at every seed, in suite order; the watchdog re-renders each brief's first seed."""
    if seeds < 1:
        raise UserError(f"--seeds must be at least 1, got {seeds}")
    renders: list[Render] = []
    for brief in suite.briefs:
        for k in range(seeds):
            renders.append(Render(len(renders), brief, k, seed_for(brief.id, k, seed_base), 0))
        if watchdog and brief.expect == "pass":  # screening spends no GPU: nothing to re-render
            renders.append(Render(len(renders), brief, 0, seed_for(brief.id, 0, seed_base), 1))
    return renders


@dataclass(frozen=True)
class RunOptions:
    seeds: int = 2
    concurrency: int = 2
    seed_base: int = 0
    watchdog: bool = True
    tolerance: float = 0.5
    timeout_s: float = 600.0
    warmup: bool = True
    baseline_run_id: str | None = None
    triggered_by: str = "cli"
    # Render size of the briefs without their own; None: the profile's resolution, so a suite
    # meets the model at the size it serves (tests scale a suite down by giving one).
    size: tuple[int, int] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "size": list(self.size) if self.size else None,
            "seeds": self.seeds,
            "concurrency": self.concurrency,
            "seed_base": self.seed_base,
            "watchdog": self.watchdog,
            "tolerance": self.tolerance,
            "timeout_s": self.timeout_s,
            "warmup": self.warmup,
        }


class SuiteRunner:
    """Submits a suite's renders to a job queue with at most `concurrency` in flight and records each."""

    def __init__(
        self,
        settings: Settings,
        sessions: sessionmaker[Session],
        queue: JobQueue,
        *,
        stop: threading.Event | None = None,
        on_output: Callable[[Output], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
    ) -> None:
        self.settings = settings
        self.sessions = sessions
        self.queue = queue
        self.stop = stop or threading.Event()
        self.on_output = on_output
        # (renders finished, renders this execution has to do): for a progress display
        self.on_progress = on_progress
        self._finished = 0
        self._todo = 0
        self._counting = threading.Lock()

    # --- the run's life: start, resume, finish ---------------------------------------------------

    def start(self, suite: Suite, profile: str, options: RunOptions, profile_hash: str | None = None) -> str:
        """Record a new run (status running) and return its ID."""
        if options.concurrency < 1:
            raise UserError(f"--concurrency must be at least 1, got {options.concurrency}")
        run_id = uuid.uuid4().hex
        with self.sessions.begin() as session:
            session.add(
                RegressionRun(
                    id=run_id,
                    suite=str(suite.path)[-200:],
                    suite_hash=suite.content_hash,
                    profile_name=profile,
                    profile_hash=profile_hash,
                    baseline_run_id=options.baseline_run_id,
                    status="running",
                    seeds=options.seeds,
                    concurrency=options.concurrency,
                    plan={
                        **options.to_json(),
                        "brief_ids": [b.id for b in suite.briefs],
                        # what each brief asked for, so the report names it even after the suite changes
                        "briefs": {
                            b.id: {"prompt": b.brief.prompt, "headline": b.brief.headline} for b in suite.briefs
                        },
                        "problems": [p.to_json() for p in suite.problems],
                    },
                    triggered_by=options.triggered_by,
                )
            )
        return run_id

    def execute(self, run_id: str, suite: Suite) -> RunView:
        """Render what the run still lacks, then measure and summarise; interrupted → incomplete."""
        run, options = self._load(run_id)
        wanted = set(run.plan.get("brief_ids") or [])
        chosen = Suite(
            suite.name, suite.path, suite.content_hash, tuple(b for b in suite.briefs if b.id in wanted), suite.problems
        )
        renders = plan_renders(chosen, options.seeds, options.seed_base, options.watchdog)
        done = self._recorded(run_id)
        todo = [r for r in renders if (r.brief.id, r.seed_index, r.repeat) not in done]
        self._finished, self._todo = 0, len(todo)
        if self.on_progress is not None:
            self.on_progress(0, len(todo))
        started = time.perf_counter()
        previous_wall = float((run.summary or {}).get("wall_s") or 0.0)
        self._set_status(run_id, "running")
        interrupted = False
        try:
            first = next((r for r in todo if r.brief.expect == "pass"), None)
            if first is not None and options.warmup:
                self._warm_up(run_id, first, options)
            self._render_all(run_id, todo, options)
        except KeyboardInterrupt:
            self.stop.set()
            interrupted = True
        interrupted = interrupted or self.stop.is_set()
        wall = previous_wall + (time.perf_counter() - started)
        view = self.finish(run_id, renders, wall_s=wall, interrupted=interrupted)
        if interrupted:
            raise RunInterrupted(run_id)
        return view

    def finish(self, run_id: str, renders: Sequence[Render], *, wall_s: float, interrupted: bool) -> RunView:
        """Measure stability, spread and drift, store the summary and the run's final status."""
        run, options = self._load(run_id)
        rows = self._rows(run_id)
        outputs = _with_missing(rows, renders)
        outputs = self._measure_stability(outputs, options.tolerance)
        goldens = self._goldens(run.profile_name)
        outputs = [_with_drift(o, goldens.get((o.brief_id, o.seed)) if o.seed is not None else None) for o in outputs]
        self._store_measurements(run_id, outputs)
        psd = _spread_by_brief(outputs)
        summary = summarise(
            outputs, outputs_expected=sum(1 for r in renders if r.repeat == 0), wall_s=wall_s, psd_by_brief=psd
        )
        made_any = any(o.image_id is not None for o in outputs)
        wanted_any = any(r.brief.expect == "pass" for r in renders)
        if interrupted or not summary.complete:
            status = "incomplete"
        elif wanted_any and not made_any:
            status = "failed"  # not one image: a broken setup (keys, model folder), not a measurement
        elif not summary.watchdog_clean:
            status = "flagged"
        else:
            status = "complete"
        finished = datetime.now(UTC)
        with self.sessions.begin() as session:
            row = session.get(RegressionRun, run_id)
            assert row is not None
            row.summary = summary.to_json()
            row.status = status
            row.finished_at = finished if status != "incomplete" else None
        if status == "complete":
            self._record_goldens(run_id, run.profile_name, outputs)
        return load_view(self.sessions, run_id)

    # --- rendering -----------------------------------------------------------------------------------

    def _render_all(self, run_id: str, todo: Sequence[Render], options: RunOptions) -> None:
        if not todo:
            return
        with ThreadPoolExecutor(max_workers=options.concurrency, thread_name_prefix="regress") as pool:
            pending: set[Future[None]] = set()
            queue_of_work = list(todo)
            try:
                while queue_of_work or pending:
                    while queue_of_work and len(pending) < options.concurrency and not self.stop.is_set():
                        render = queue_of_work.pop(0)
                        pending.add(pool.submit(self._render_one, run_id, render, options))
                    if not pending:
                        break
                    finished, pending = wait(pending, timeout=POLL_S, return_when=FIRST_COMPLETED)
                    for future in finished:
                        future.result()
                    if self.stop.is_set():
                        queue_of_work.clear()
            except BaseException:
                self.stop.set()
                raise

    def _warm_up(self, run_id: str, render: Render, options: RunOptions) -> None:
        """One unrecorded render first, so loading the model is not billed to the first brief's latency.

        Real traffic meets a warm worker; without this the profile whose model is loaded second
        would look slower in an A/B comparison for no reason of its own.
        """
        brief = render.brief.brief_at(self._size(run_id, options), render.seed)
        try:
            accepted = self.queue.submit(
                Submission(
                    brief=brief,
                    requested_by=REQUESTED_BY,
                    source="regress",
                    idempotency_key=f"regress:{run_id}:warm-up",
                    profile=self._profile(run_id),
                    pin_profile=True,
                )
            )
        except BriefRefused:
            return  # refused at intake: nothing loads the model, so nothing to warm
        deadline = time.perf_counter() + options.timeout_s
        status = self.queue.status(accepted.request_id)
        while status.state not in TERMINAL_STATES and not self.stop.is_set() and time.perf_counter() < deadline:
            status = self.queue.wait(accepted.request_id, timeout=POLL_S)

    def _render_one(self, run_id: str, render: Render, options: RunOptions) -> None:
        brief = render.brief.brief_at(self._size(run_id, options), render.seed)
        submitted = time.perf_counter()
        try:
            accepted = self.queue.submit(
                Submission(
                    brief=brief,
                    requested_by=REQUESTED_BY,
                    source="regress",
                    idempotency_key=render.key(run_id),
                    profile=self._profile(run_id),
                    pin_profile=True,
                )
            )
        except BriefRefused as exc:
            # Screening at intake stopped it: a measured outcome (what `expect: reject` briefs want).
            self._finished_output(run_id, render, self._refused_output(render, exc))
            return
        deadline = submitted + options.timeout_s
        status = self.queue.status(accepted.request_id)
        while status.state not in TERMINAL_STATES:
            if self.stop.is_set() or time.perf_counter() > deadline:
                # not recorded: a resumed run picks the same request up again by its idempotency key
                return
            status = self.queue.wait(accepted.request_id, timeout=POLL_S)
        latency = time.perf_counter() - submitted if not accepted.duplicate else None
        self._finished_output(run_id, render, self._output_of(render, status, latency))

    def _refused_output(self, render: Render, refused: BriefRefused) -> Output:
        return Output(
            brief_id=render.brief.id,
            family=render.brief.family,
            expect=render.brief.expect,
            seed_index=render.seed_index,
            repeat=render.repeat,
            state="refused",
            seed=render.seed,
            checks=tuple(CheckOutcome(check_id, "safety", "fail") for check_id in refused.check_ids),
            failure_reason=refused.reason,
        )

    def _finished_output(self, run_id: str, render: Render, output: Output) -> None:
        self._record(run_id, render, output)
        if self.on_output is not None:
            self.on_output(output)
        if self.on_progress is not None:
            with self._counting:
                self._finished += 1
                self.on_progress(self._finished, self._todo)

    def _output_of(self, render: Render, status: RequestStatus, latency: float | None) -> Output:
        families = {spec.id: spec.family for spec in builtin_specs()}
        view = status.images[0] if status.images else None
        checks: tuple[CheckOutcome, ...] = ()
        memory: int | None = None
        memory_kind: str | None = None
        if view is not None:
            with self.sessions() as session:
                image = session.get(Image, view.image_id)
                if image is not None:
                    checks = tuple(
                        CheckOutcome(c.check_id, families.get(c.check_id, "other"), c.status) for c in image.checks
                    )
                    memory, memory_kind = image.peak_memory_bytes, image.memory_kind
        elif status.failure_reason and "BG501" in status.failure_reason:
            checks = (CheckOutcome("BG501", "safety", "fail"),)
        return Output(
            brief_id=render.brief.id,
            family=render.brief.family,
            expect=render.brief.expect,
            seed_index=render.seed_index,
            repeat=render.repeat,
            state=status.state,
            seed=view.seed if view is not None else render.seed,
            request_id=status.request_id,
            image_id=view.image_id if view is not None else None,
            verdict=view.verdict if view is not None else None,
            artifact_path=view.artifact_path if view is not None else None,
            latency_s=latency,
            cost_usd=float(status.cost_usd),
            peak_memory_bytes=memory,
            memory_kind=memory_kind,
            checks=checks,
            failure_reason=status.failure_reason,
        )

    # --- the database -------------------------------------------------------------------------------

    def _size(self, run_id: str, options: RunOptions) -> tuple[int, int]:
        """The run's render size: the options' explicit one, else the profile's resolution."""
        if options.size is not None:
            return options.size
        return load_profile(self._profile(run_id), self.settings).resolution

    def _profile(self, run_id: str) -> str:
        with self.sessions() as session:
            row = session.get(RegressionRun, run_id)
            assert row is not None
            return row.profile_name

    def _load(self, run_id: str) -> tuple[RegressionRun, RunOptions]:
        with self.sessions() as session:
            run = session.get(RegressionRun, run_id)
            if run is None:
                raise UserError(f"no regression run {run_id!r}; `brandgate regress list` shows the runs")
            plan = run.plan or {}
            options = RunOptions(
                seeds=run.seeds,
                concurrency=run.concurrency,
                seed_base=int(plan.get("seed_base", 0)),
                watchdog=bool(plan.get("watchdog", True)),
                tolerance=float(plan.get("tolerance", 0.5)),
                timeout_s=float(plan.get("timeout_s", 600.0)),
                warmup=bool(plan.get("warmup", True)),
                size=_size(plan.get("size")),
                baseline_run_id=run.baseline_run_id,
                triggered_by=run.triggered_by or "cli",
            )
            return run, options

    def _set_status(self, run_id: str, status: str) -> None:
        with self.sessions.begin() as session:
            row = session.get(RegressionRun, run_id)
            assert row is not None
            row.status = status

    def _recorded(self, run_id: str) -> set[tuple[str, int, int]]:
        with self.sessions() as session:
            rows = session.execute(
                select(RegressionOutput.brief_id, RegressionOutput.seed_index, RegressionOutput.repeat).where(
                    RegressionOutput.run_id == run_id
                )
            ).all()
        return {(r.brief_id, r.seed_index, r.repeat) for r in rows}

    def _record(self, run_id: str, render: Render, output: Output) -> None:
        with self.sessions.begin() as session:
            session.add(
                RegressionOutput(
                    run_id=run_id,
                    position=render.position,
                    brief_id=output.brief_id,
                    family=output.family,
                    expect=output.expect,
                    seed_index=output.seed_index,
                    repeat=output.repeat,
                    seed=output.seed if output.seed is not None else render.seed,
                    request_id=output.request_id,
                    image_id=output.image_id,
                    state=output.state,
                    verdict=output.verdict,
                    artifact_path=output.artifact_path,
                    latency_s=output.latency_s,
                    cost_usd=output.cost_usd,
                    peak_memory_bytes=output.peak_memory_bytes,
                    memory_kind=output.memory_kind,
                    checks=[[c.id, c.family, c.status] for c in output.checks],
                    failure_reason=output.failure_reason,
                )
            )

    def _rows(self, run_id: str) -> list[RegressionOutput]:
        with self.sessions() as session:
            return list(
                session.scalars(
                    select(RegressionOutput)
                    .where(RegressionOutput.run_id == run_id)
                    .order_by(RegressionOutput.position)
                )
            )

    def _store_measurements(self, run_id: str, outputs: Sequence[Output]) -> None:
        by_key = {(o.brief_id, o.seed_index, o.repeat): o for o in outputs}
        with self.sessions.begin() as session:
            for row in session.scalars(select(RegressionOutput).where(RegressionOutput.run_id == run_id)):
                output = by_key.get((row.brief_id, row.seed_index, row.repeat))
                if output is None:
                    continue
                row.stability = output.stability.to_json() if output.stability is not None else None
                row.drift_mad = output.drift_mad
                row.drift_ssim = output.drift_ssim

    def _measure_stability(self, outputs: Sequence[Output], tolerance: float) -> list[Output]:
        """Compare each watchdog repeat with the first render of the same seed."""
        repeats = {(o.brief_id, o.seed_index): o for o in outputs if o.repeat == 1 and o.state != "missing"}
        measured = []
        for o in outputs:
            twin = repeats.get((o.brief_id, o.seed_index)) if o.repeat == 0 and o.state != "missing" else None
            if twin is not None:
                o = replace(o, stability=_compare_renders(o, twin, tolerance))
            measured.append(o)
        return measured

    def _goldens(self, profile_name: str) -> dict[tuple[str, int], str]:
        """(brief, seed) → golden image path, stored for the active profile."""
        with self.sessions() as session:
            active = session.scalars(select(ModelProfileRow).where(ModelProfileRow.status == "active")).first()
            if active is None:
                return {}
            rows = session.scalars(select(GoldenOutput).where(GoldenOutput.profile_id == active.id)).all()
            return {(g.brief_id, int(g.seed)): g.artifact_path for g in rows if g.artifact_path}

    def _record_goldens(self, run_id: str, profile_name: str, outputs: Sequence[Output]) -> None:
        """A clean, complete run of the active profile fills in golden outputs it does not have yet."""
        with self.sessions.begin() as session:
            active = session.scalars(
                select(ModelProfileRow).where(ModelProfileRow.status == "active", ModelProfileRow.name == profile_name)
            ).first()
            if active is None:
                return
            have = {
                (g.brief_id, int(g.seed))
                for g in session.scalars(select(GoldenOutput).where(GoldenOutput.profile_id == active.id))
            }
            for o in outputs:
                if o.repeat or o.image_id is None or o.seed is None or (o.brief_id, o.seed) in have:
                    continue
                image = session.get(Image, o.image_id)
                if image is None:
                    continue
                session.add(
                    GoldenOutput(
                        profile_id=active.id,
                        brief_id=o.brief_id,
                        seed=o.seed,
                        sha256=image.sha256,
                        artifact_path=o.artifact_path,
                        regression_run_id=run_id,
                    )
                )
                have.add((o.brief_id, o.seed))


def _compare_renders(first: Output, second: Output, tolerance: float) -> Stability:
    a, b = _pixels(first.artifact_path), _pixels(second.artifact_path)
    if a is None and b is None and first.image_id is None and second.image_id is None:
        # neither made an image (both screened or both failed): nothing differs
        return Stability(0.0, 0.0, tolerance)
    if a is None or b is None:
        return Stability(float("inf"), float("inf"), tolerance)
    return stability(a, b, tolerance)


def _pixels(path: str | None) -> Pixels | None:
    if not path:
        return None
    try:
        with PILImage.open(path) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, UnidentifiedImageError):
        return None


def _with_drift(output: Output, golden_path: str | None) -> Output:
    if golden_path is None or output.image_id is None or output.repeat:
        return output
    mine, golden = _pixels(output.artifact_path), _pixels(golden_path)
    if mine is None or golden is None:
        return output
    return replace(output, drift_mad=mean_abs_difference(mine, golden), drift_ssim=ssim(mine, golden))


def _spread_by_brief(outputs: Sequence[Output]) -> dict[str, float | None]:
    by_brief: dict[str, list[Pixels]] = defaultdict(list)
    order: list[str] = []
    for o in outputs:
        if o.repeat or o.image_id is None:
            continue
        if o.brief_id not in by_brief:
            order.append(o.brief_id)
        pixels = _pixels(o.artifact_path)
        if pixels is not None:
            by_brief[o.brief_id].append(pixels)
    return {brief_id: per_pixel_spread(by_brief[brief_id]) for brief_id in order}


def _row_output(row: RegressionOutput) -> Output:
    stab = row.stability
    return Output(
        brief_id=row.brief_id,
        family=row.family,
        expect=row.expect,
        seed_index=row.seed_index,
        repeat=row.repeat,
        state=row.state,
        seed=int(row.seed),
        request_id=row.request_id,
        image_id=row.image_id,
        verdict=row.verdict,
        artifact_path=row.artifact_path,
        latency_s=row.latency_s,
        cost_usd=row.cost_usd,
        peak_memory_bytes=row.peak_memory_bytes,
        memory_kind=row.memory_kind,
        checks=tuple(CheckOutcome(str(c[0]), str(c[1]), str(c[2])) for c in (row.checks or [])),
        failure_reason=row.failure_reason,
        stability=(
            Stability(
                float("inf") if stab.get("mean_abs_diff") is None else float(stab["mean_abs_diff"]),
                float("inf") if stab.get("max_abs_diff") is None else float(stab["max_abs_diff"]),
                float(stab["tolerance"]),
            )
            if stab
            else None
        ),
        drift_mad=row.drift_mad,
        drift_ssim=row.drift_ssim,
    )


def _with_missing(rows: Sequence[RegressionOutput], renders: Sequence[Render]) -> list[Output]:
    """Outputs in plan order; a planned render with no row is `missing` (shown, never a pass)."""
    by_key = {(r.brief_id, r.seed_index, r.repeat): r for r in rows}
    outputs = []
    for render in renders:
        row = by_key.get((render.brief.id, render.seed_index, render.repeat))
        if row is not None:
            outputs.append(_row_output(row))
        else:
            outputs.append(
                Output(
                    render.brief.id,
                    render.brief.family,
                    render.brief.expect,
                    render.seed_index,
                    render.repeat,
                    "missing",
                    seed=render.seed,
                    failure_reason="never finished",
                )
            )
    return outputs


def load_view(sessions: sessionmaker[Session], run_id: str) -> RunView:
    """A recorded run as the report shows it, from the database alone."""
    with sessions() as session:
        run = session.get(RegressionRun, run_id)
        if run is None:
            raise UserError(f"no regression run {run_id!r}; `brandgate regress list` shows the runs")
        rows = list(
            session.scalars(
                select(RegressionOutput).where(RegressionOutput.run_id == run_id).order_by(RegressionOutput.position)
            )
        )
        outputs = [_row_output(r) for r in rows]
        summary = dict(run.summary or {})
        expected = summary.get("outputs_expected")
        if run.status == "running" and expected is None:
            summary = summarise(
                outputs, outputs_expected=len(run.plan.get("brief_ids") or []) * run.seeds, wall_s=0.0
            ).to_json()
        briefs = _brief_texts(session, run, outputs)
        return RunView(
            run_id=run.id,
            suite=run.suite,
            profile=run.profile_name,
            status=run.status,
            seeds=run.seeds,
            concurrency=run.concurrency,
            started_at=run.started_at,
            finished_at=run.finished_at,
            summary=summary,
            outputs=outputs,
            briefs=briefs,
        )


def _brief_texts(session: Session, run: RegressionRun, outputs: Sequence[Output]) -> dict[str, BriefText]:
    """Each brief's prompt and headline: from the run's plan, or (runs recorded before the plan kept
    them) from the requests its renders submitted."""
    texts = {
        brief_id: BriefText(str(text.get("prompt") or ""), text.get("headline"))
        for brief_id, text in ((run.plan or {}).get("briefs") or {}).items()
        if isinstance(text, dict)
    }
    wanted = {o.request_id: o.brief_id for o in outputs if o.request_id and o.brief_id not in texts}
    if wanted:
        for request_id, brief in session.execute(
            select(Request.id, Request.brief).where(Request.id.in_(list(wanted)))
        ):
            if isinstance(brief, dict) and brief.get("prompt"):
                texts.setdefault(wanted[request_id], BriefText(str(brief["prompt"]), brief.get("headline")))
    return texts


def find_run(sessions: sessionmaker[Session], run_id: str) -> str:
    """A full run ID from a unique prefix of at least 6 characters."""
    if len(run_id) < 6:
        raise UserError(f"run ID {run_id!r} is too short; give at least 6 characters")
    with sessions() as session:
        ids = list(session.scalars(select(RegressionRun.id).where(RegressionRun.id.startswith(run_id)).limit(3)))
    if not ids:
        raise UserError(f"no regression run {run_id!r}; `brandgate regress list` shows the runs")
    if len(ids) > 1:
        raise UserError(f"run ID prefix {run_id!r} is ambiguous; give more characters")
    return ids[0]


def suite_for_run(
    sessions: sessionmaker[Session], run_id: str, path: Path | None = None, settings: Settings | None = None
) -> Suite:
    """The suite file a run was started with; refused when it changed since (results would mix)."""
    with sessions() as session:
        run = session.get(RegressionRun, run_id)
        if run is None:
            raise UserError(f"no regression run {run_id!r}")
        suite_path = path or Path(run.suite)
        expected = run.suite_hash
    suite = load_suite(suite_path, settings)
    if suite.content_hash != expected:
        raise UserError(f"{suite_path} changed since run {run_id} started; a resumed run must use the same suite file")
    return suite

"""The model gate end to end: real tiny models through the local job queue, the registry and the audit trail.

Latency and cost limits are loosened to 3x here: the test machine is shared and noisy, and
what these tests pin down is the gate's decisions (a 12x slower profile is still refused),
not this machine's timing. `tests/regress/test_regress_gate_criteria.py` tests the exact limits.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.models import AuditEvent, GoldenOutput, ModelProfileRow, RegressionOutput
from brandgate.errors import UserError
from brandgate.regress import actions
from brandgate.regress.gate import evaluate
from brandgate.regress.suite import load_suite
from brandgate.settings import Settings
from tests.fake_slack import FakeSlack, fake_token
from tests.regress.gate_world import GateWorld, build_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> GateWorld:
    return build_world(tmp_path_factory.mktemp("gate-world"))


@pytest.fixture
def gate(world: GateWorld, tmp_path: Path) -> Iterator[tuple[Settings, sessionmaker[Session]]]:
    """A fresh database per test over the module's models and profiles."""
    from brandgate.db.schema import upgrade

    settings = world.settings.model_copy(
        update={
            "database_url": f"sqlite:///{tmp_path / 'gate.db'}",
            "artifacts_dir": tmp_path / "artifacts",
            "regress_reports_dir": tmp_path / "reports",
            "gate_max_p95_ratio": 3.0,
            "gate_max_cost_ratio": 3.0,
        }
    )
    upgrade(settings)
    engine = make_engine(settings)
    try:
        yield settings, make_sessionmaker(engine)
    finally:
        engine.dispose()


def _statuses(sessions: sessionmaker[Session]) -> dict[str, str]:
    with sessions() as session:
        return {r.name: r.status for r in session.scalars(select(ModelProfileRow))}


def _events(sessions: sessionmaker[Session]) -> list[tuple[str, str | None]]:
    with sessions() as session:
        return [(e.kind, e.subject_id) for e in session.scalars(select(AuditEvent).order_by(AuditEvent.seq))]


def test_gate_refuses_bad_candidates_promotes_a_good_one_and_rolls_back(
    world: GateWorld, gate: tuple[Settings, sessionmaker[Session]]
) -> None:
    settings, sessions = gate
    suite = load_suite(world.suite_path)
    options = actions.options_from(settings, 1, 2)

    slow = actions.promote(settings, sessions, "cand-slow", suite, options, actor="test")
    assert not slow.promoted
    # 15x the denoising steps: 15x the GPU-seconds billed, whatever the shared machine's latency noise
    assert "cost per usable image" in slow.comparison.failed
    slow_p95 = slow.comparison.candidate.summary["latency_s"]["p95"]
    assert slow_p95 > slow.comparison.baseline.summary["latency_s"]["p95"]

    blank = actions.promote(settings, sessions, "cand-blank", suite, options, actor="test")
    assert not blank.promoted
    # every blank image is rejected by BG601, so the technical checks' pass rate collapses
    assert "check family pass rates" in blank.comparison.failed
    blank_outputs = [o for o in blank.comparison.candidate.outputs if o.image_id is not None]
    assert blank_outputs and all("BG601" in o.failed_check_ids for o in blank_outputs)

    good = actions.promote(settings, sessions, "cand-same", suite, options, actor="test")
    assert good.promoted, [(c.name, c.detail) for c in good.comparison.criteria if not c.ok]
    # The counts check family was not measured (BG402 had no hand models): by default, that alone
    # refuses the promotion; only the allowance in this world's settings let it through.
    summary = good.comparison.candidate.summary
    assert summary["pass_rate_by_check_family"]["counts"] is None
    assert summary["unmeasured_by_check_family"]["counts"].startswith("not measured: BG402 unverified")
    strict = evaluate(good.comparison.candidate, good.comparison.baseline,
                      settings.model_copy(update={"gate_allow_unmeasured": []}))  # fmt: skip
    assert "check family pass rates" in strict.failed
    family = next(c for c in strict.criteria if c.name == "check family pass rates")
    assert "counts: not measured: BG402 unverified" in family.detail
    assert _statuses(sessions) == {
        "base": "retired",
        "cand-slow": "candidate",
        "cand-blank": "candidate",
        "cand-same": "active",
    }
    # both runs used the same seeds, brief by brief
    seeds = {(o.brief_id, o.seed) for o in good.comparison.candidate.outputs}
    assert seeds == {(o.brief_id, o.seed) for o in good.comparison.baseline.outputs}
    assert good.reports[0].is_file() and "side-by-side" in good.reports[0].read_text()

    assert actions.rollback(settings, sessions, "test", "testing rollback") == ("cand-same", "base")
    assert _statuses(sessions)["base"] == "active"
    with pytest.raises(UserError, match="no previous active profile"):
        actions.rollback(settings, sessions, "test", "again")

    kinds = [k for k, _ in _events(sessions) if k.startswith("model.")]
    assert kinds == [
        "model.activated",
        "model.promotion_refused",
        "model.promotion_refused",
        "model.promoted",
        "model.rolled_back",
    ]


def test_promote_refuses_unknown_and_already_active_profiles(
    world: GateWorld, gate: tuple[Settings, sessionmaker[Session]]
) -> None:
    settings, sessions = gate
    suite = load_suite(world.suite_path)
    options = actions.options_from(settings, 1, 1)
    with pytest.raises(UserError, match="no profile named 'cand-nope'"):
        actions.promote(settings, sessions, "cand-nope", suite, options, actor="test")
    with pytest.raises(UserError, match="already active"):
        actions.promote(settings, sessions, "base", suite, options, actor="test")
    with pytest.raises(UserError, match="no previous active profile"):
        actions.rollback(settings, sessions, "test", "nothing to roll back to")


def test_interrupted_run_is_incomplete_and_resumes_without_duplicates(
    world: GateWorld, gate: tuple[Settings, sessionmaker[Session]]
) -> None:
    import threading

    from brandgate.regress.runner import RunInterrupted, load_view

    settings, sessions = gate
    suite = load_suite(world.suite_path)
    options = actions.options_from(settings, 2, 1)
    stop = threading.Event()
    with actions.suite_runner(settings, sessions, 1, stop) as runner:
        runner.on_output = lambda _output: stop.set()  # stop after the first finished render
        run_id = runner.start(suite, "base", options)
        with pytest.raises(RunInterrupted):
            runner.execute(run_id, suite)
    half = load_view(sessions, run_id)
    assert half.status == "incomplete" and not half.is_pass
    assert half.summary["complete"] is False
    assert "INCOMPLETE" in half.headline()

    view = actions.resume_run(settings, sessions, run_id)
    assert view.status == "complete" and view.is_pass
    expected = 2 * 2 + 1  # two seeds per brief, one watchdog repeat for the brief that renders
    assert len(view.outputs) == expected
    with sessions() as session:
        rows = session.scalars(select(RegressionOutput).where(RegressionOutput.run_id == run_id)).all()
    assert len(rows) == expected
    with pytest.raises(UserError, match="already complete"):
        actions.resume_run(settings, sessions, run_id)


@pytest.mark.slow
def test_report_of_a_real_run_has_one_tile_per_output_and_goldens_are_kept(
    world: GateWorld, gate: tuple[Settings, sessionmaker[Session]]
) -> None:
    from brandgate.regress.report import render_html

    settings, sessions = gate
    suite = load_suite(world.suite_path)
    first = actions.run_suite(settings, sessions, suite, "base", actions.options_from(settings, 1, 2))
    assert first.status == "complete"
    html = render_html(first)
    sheet = html.split('id="contact-sheet"')[1].split("</div>\n\n")[0]
    assert sheet.count('class="tile"') == len(first.outputs) == 3
    with sessions() as session:
        goldens = session.scalars(select(GoldenOutput)).all()
    assert {g.brief_id for g in goldens} == {"eggs-a"}

    # the next run of the same model on the same seeds does not drift from its goldens
    second = actions.run_suite(settings, sessions, suite, "base", actions.options_from(settings, 1, 2))
    assert second.summary["drift"]["images_compared"] == 1
    assert second.summary["drift"]["mean_abs_diff"] == 0.0
    assert second.summary["drift"]["min_ssim"] == pytest.approx(1.0)


def _live_profile(world: GateWorld, settings: Settings, tmp_path: Path) -> tuple[Settings, Path, dict[str, object]]:
    """A profiles folder of its own with `base` and `cand-live` (the base profile renamed), whose
    file a test may change under the registry's feet; auto-rollback on."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    same = yaml.safe_load((world.settings.profiles_dir / "cand-same.yaml").read_text())
    (profiles / "cand-live.yaml").write_text(yaml.safe_dump({**same, "name": "cand-live"}))
    (profiles / "base.yaml").write_text((world.settings.profiles_dir / "base.yaml").read_text())
    return settings.model_copy(update={"profiles_dir": profiles, "auto_rollback": True}), profiles, same


@pytest.mark.slow
def test_nightly_run_that_breaks_the_criteria_rolls_back_and_alerts(
    world: GateWorld, gate: tuple[Settings, sessionmaker[Session]], tmp_path: Path
) -> None:
    settings, sessions = gate
    settings, profiles, same = _live_profile(world, settings, tmp_path)
    suite = load_suite(world.suite_path)
    options = actions.options_from(settings, 1, 2)
    # the promotion's own run of cand-live is the last good run the nightly run is held to
    live = actions.promote(settings, sessions, "cand-live", suite, options, actor="test")
    assert live.promoted, [c.detail for c in live.comparison.criteria if not c.ok]

    # someone "upgrades" the live profile by config: the step cap goes, every image costs 15x
    (profiles / "cand-live.yaml").write_text(
        yaml.safe_dump({**same, "name": "cand-live", "steps": 60, "max_steps": 150})
    )
    with FakeSlack() as slack:
        noisy = settings.model_copy(
            update={
                "slack_api_url": slack.api_url,
                "slack_bot_token": SecretStr(fake_token()),
                "slack_report_channel": "C1",
                "regress_seeds": 1,
            }
        )
        night = actions.nightly(noisy, sessions, suite)
    assert night.rolled_back == ("cand-live", "base")
    assert _statuses(sessions)["base"] == "active"
    alert, summary = slack.calls_to("chat.postMessage")
    # 15x the steps is 15x the GPU time per image; whether p95 latency also breaks its ratio depends on
    # how much of a tiny-model render is fixed cost on this machine, so the alert is held to what broke
    assert night.comparison is not None and "cost per usable image" in night.comparison.failed
    assert "rolled back cand-live → base" in alert.params["text"]
    assert all(name in alert.params["text"] for name in night.comparison.failed), night.comparison.failed
    assert all(name in json.dumps(summary.params["blocks"]) for name in night.comparison.failed)
    assert slack.calls_to("files.completeUploadExternal")
    assert _events(sessions)[-1] == ("model.rolled_back", "base")


def test_nightly_run_that_drifts_from_its_goldens_rolls_back_and_alerts(
    world: GateWorld, gate: tuple[Settings, sessionmaker[Session]], tmp_path: Path
) -> None:
    """The fast twin of the slow test above, decided by pixels, not by this machine's clock.

    The live profile's model is swapped by config for one whose decoder draws a flat grey: every
    image drifts from the goldens its last good run stored and fails the checks, so the families'
    pass rates drop, the nightly run rolls back and alerts in Slack.
    """
    from brandgate import model_registry

    settings, sessions = gate
    settings, profiles, same = _live_profile(world, settings, tmp_path)
    suite = load_suite(world.suite_path)
    with sessions.begin() as session:
        model_registry.ensure_active(session, settings, "test")
        model_registry.make_active(session, model_registry.register(session, "cand-live", settings), "test", {})
    # the live profile's first complete, clean run: its goldens and the last good run to hold it to
    good = actions.run_suite(settings, sessions, suite, "cand-live", actions.options_from(settings, 1, 2))
    assert good.status == "complete" and good.is_pass
    with sessions() as session:
        assert {g.brief_id for g in session.scalars(select(GoldenOutput))} == {"eggs-a"}

    (profiles / "cand-live.yaml").write_text(
        yaml.safe_dump({**same, "name": "cand-live", "model": "tiny-sd-blank"})
    )
    with FakeSlack() as slack:
        noisy = settings.model_copy(
            update={"slack_api_url": slack.api_url, "slack_bot_token": SecretStr(fake_token()),
                    "slack_report_channel": "C1", "regress_seeds": 1}
        )
        night = actions.nightly(noisy, sessions, suite)
    drift = night.run.summary["drift"]
    assert drift["images_compared"] == 1
    assert drift["mean_abs_diff"] > 0 and drift["min_ssim"] < 1.0
    # grey images fail the checks, so a family's pass rate drops (which family counts them is the
    # checks' business): the rollback does not hang on this machine's clock
    assert night.comparison is not None
    assert any(name.endswith("family pass rates") for name in night.comparison.failed), night.comparison.failed
    assert night.rolled_back == ("cand-live", "base")
    assert _statuses(sessions)["base"] == "active"
    alert, summary = slack.calls_to("chat.postMessage")
    assert "rolled back cand-live → base" in alert.params["text"] and "family pass rates" in alert.params["text"]
    # the summary: tonight beside the night before (the live profile's good run), the criteria it broke
    blocks = summary.params["blocks"]
    fields = [f["text"] for b in blocks for f in b.get("fields", [])]
    assert fields[:2] == ["*Tonight*", "*Last night*"]
    assert f"last night: run `{good.run_id[:12]}`" in blocks[1]["elements"][0]["text"]
    assert "family pass rates" in blocks[-1]["text"]["text"] and "broken" in blocks[-1]["text"]["text"]
    assert 'id="gate"' in night.reports[0].read_text()
    assert slack.calls_to("files.completeUploadExternal")
    assert _events(sessions)[-1] == ("model.rolled_back", "base")


def test_watchdog_trips_on_a_non_deterministic_generator(
    world: GateWorld, gate: tuple[Settings, sessionmaker[Session]]
) -> None:
    """A model whose output changes from call to call (here: unseeded noise on top) is caught."""
    import numpy as np
    from PIL import Image

    from brandgate.jobs.local import LocalQueue
    from brandgate.regress.runner import RunOptions, SuiteRunner
    from brandgate.requests.run import WorkerParts
    from pipeline.generation import Generator
    from pipeline.profiles import load_profile

    settings, sessions = gate

    class Shaky(Generator):
        def generate(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            made = super().generate(*args, **kwargs)
            rng = np.random.default_rng()  # deliberately unseeded
            for item in made:
                pixels = np.asarray(item.image, dtype=np.int16)
                noise = rng.integers(-40, 41, pixels.shape)
                item.image = Image.fromarray(np.clip(pixels + noise, 0, 255).astype(np.uint8))
            return made

    queue_settings = actions.queue_settings(settings, 2)
    parts = WorkerParts.from_settings(queue_settings, sessions)
    profile = load_profile("cand-same", settings)
    parts._generators[profile.content_hash()] = Shaky(profile, settings)
    queue = LocalQueue(queue_settings, parts=parts)
    try:
        runner = SuiteRunner(settings, sessions, queue)
        suite = load_suite(world.suite_path)
        options = RunOptions(seeds=1, concurrency=2, tolerance=settings.watchdog_tolerance)
        run_id = runner.start(suite, "cand-same", options)
        view = runner.execute(run_id, suite)
    finally:
        queue.close()
    assert view.status == "flagged" and not view.is_pass
    assert view.summary["watchdog_clean"] is False
    unstable = {u["brief_id"] for u in view.summary["unstable"]}
    assert unstable == {"eggs-a"}
    first_renders = [o for o in view.outputs if o.repeat == 0 and o.image_id is not None]
    assert all(o.final_verdict == "reject" and "pixel-stability" in o.failed_check_ids for o in first_renders)
    assert view.summary["usable_images"] == 0

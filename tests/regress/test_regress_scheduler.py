"""The scheduler: the nightly job lives in our database, survives restarts, and never runs twice."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from brandgate.db.engine import make_engine
from brandgate.errors import ConfigError
from brandgate.scheduler import (
    NIGHTLY_JOB_ID,
    build_scheduler,
    claim_occurrence,
    job_lock,
    latest_fire_time,
    run_guarded,
    stop_scheduler,
    stored_next_run,
)
from brandgate.settings import Settings
from tests.regress import scheduler_probe

PROBE = "tests.regress.scheduler_probe:record"


def _migrated(settings: Settings) -> Engine:
    try:
        from brandgate.db.schema import upgrade

        upgrade(settings)
    except ImportError:  # before the migrations land: the same tables from the models
        from brandgate.db.models import Base

        Base.metadata.create_all(make_engine(settings))
    return make_engine(settings)


@pytest.fixture
def engine(settings: Settings) -> Engine:
    eng = _migrated(settings)
    yield eng
    eng.dispose()


def _stored_as_if_down_since(settings: Settings, engine: Engine, job_ref: str, when: datetime) -> None:
    """Leave the job in the store as a scheduler that stopped before `when` would have left it."""
    sched = build_scheduler(settings, engine, job_ref=job_ref)
    sched.modify_job(NIGHTLY_JOB_ID, next_run_time=when)
    stop_scheduler(sched, wait=False)


def test_nightly_job_persists_across_a_restart(settings: Settings, engine: Engine) -> None:
    first = build_scheduler(settings, engine)
    next_run = first.get_job(NIGHTLY_JOB_ID).next_run_time
    assert next_run.hour == 2 and next_run.minute == 0
    stop_scheduler(first, wait=False)
    assert stored_next_run(engine) == next_run

    second = build_scheduler(settings, engine)
    try:
        job = second.get_job(NIGHTLY_JOB_ID)
        assert job is not None and job.next_run_time == next_run
        assert [j.id for j in second.get_jobs()] == [NIGHTLY_JOB_ID]
    finally:
        stop_scheduler(second, wait=False)


def test_changed_cron_reschedules_the_stored_job(settings: Settings, engine: Engine) -> None:
    stop_scheduler(build_scheduler(settings, engine), wait=False)
    later = settings.model_copy(update={"nightly_cron": "30 4 * * *"})
    sched = build_scheduler(later, engine)
    try:
        job = sched.get_job(NIGHTLY_JOB_ID)
        assert (job.next_run_time.hour, job.next_run_time.minute) == (4, 30)
    finally:
        stop_scheduler(sched, wait=False)


def test_bad_cron_is_a_config_error(settings: Settings, engine: Engine) -> None:
    with pytest.raises(ConfigError, match="not a crontab line"):
        build_scheduler(settings.model_copy(update={"nightly_cron": "at two"}), engine)


def test_runs_missed_while_down_fire_once_within_grace(settings: Settings, engine: Engine) -> None:
    every_minute = settings.model_copy(update={"nightly_cron": "* * * * *", "scheduler_misfire_grace_s": 600})
    # the process was down for five minutes: five runs were missed
    _stored_as_if_down_since(every_minute, engine, PROBE, datetime.now(UTC) - timedelta(minutes=5))
    scheduler_probe.CALLS.clear()
    sched = build_scheduler(every_minute, engine, job_ref=PROBE)
    sched.resume()
    try:
        deadline = time.time() + 10
        while not scheduler_probe.CALLS and time.time() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
    finally:
        stop_scheduler(sched, wait=True)
    assert len(scheduler_probe.CALLS) == 1
    assert stored_next_run(engine) > datetime.now(UTC)


def test_run_missed_beyond_grace_is_skipped(settings: Settings, engine: Engine) -> None:
    every_minute = settings.model_copy(update={"nightly_cron": "0 * * * *", "scheduler_misfire_grace_s": 60})
    _stored_as_if_down_since(every_minute, engine, PROBE, datetime.now(UTC) - timedelta(hours=2))
    scheduler_probe.CALLS.clear()
    sched = build_scheduler(every_minute, engine, job_ref=PROBE)
    sched.resume()
    time.sleep(1.5)
    stop_scheduler(sched, wait=True)
    assert scheduler_probe.CALLS == []


def test_latest_fire_time_names_the_occurrence() -> None:
    now = datetime(2026, 11, 23, 9, 15, tzinfo=UTC)
    assert latest_fire_time("0 2 * * *", now) == datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert latest_fire_time("0 2 * * *", datetime(2026, 11, 23, 1, 0, tzinfo=UTC)) == datetime(
        2026, 11, 22, 2, 0, tzinfo=UTC
    )


def test_an_occurrence_is_claimed_once(engine: Engine) -> None:
    when = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    assert claim_occurrence(engine, NIGHTLY_JOB_ID, when, "a")
    assert not claim_occurrence(engine, NIGHTLY_JOB_ID, when, "b")
    assert claim_occurrence(engine, NIGHTLY_JOB_ID, when + timedelta(days=1), "b")


def test_lock_row_excludes_a_second_holder_until_released(engine: Engine) -> None:
    with job_lock(engine, "job", "a") as first:
        assert first
        with job_lock(engine, "job", "b") as second:
            assert not second
    with job_lock(engine, "job", "b") as again:
        assert again


def test_two_schedulers_racing_the_same_run_do_the_work_once(settings: Settings, engine: Engine) -> None:
    other = make_engine(settings)
    ran: list[str] = []
    barrier = threading.Barrier(2)
    now = datetime.now(UTC)

    def contender(name: str, eng: Engine) -> None:
        barrier.wait()
        run_guarded(settings, eng, NIGHTLY_JOB_ID, lambda: ran.append(name), now=now)

    threads = [threading.Thread(target=contender, args=(n, e)) for n, e in (("a", engine), ("b", other))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.dispose()
    assert len(ran) == 1
    # and the run that finished does not let a late scheduler repeat the same occurrence
    assert not run_guarded(settings, engine, NIGHTLY_JOB_ID, lambda: ran.append("late"), now=now)
    assert len(ran) == 1


def test_two_started_schedulers_run_a_due_job_once(
    settings: Settings, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    every_minute = settings.model_copy(update={"nightly_cron": "* * * * *"})
    log = tmp_path / "runs.log"
    monkeypatch.setenv("PROBE_DATABASE_URL", settings.database_url)
    monkeypatch.setenv("PROBE_LOG", str(log))
    ref = "tests.regress.scheduler_probe:guarded"
    _stored_as_if_down_since(every_minute, engine, ref, datetime.now(UTC) - timedelta(seconds=1))
    second_engine = make_engine(settings)
    schedulers = [
        build_scheduler(every_minute, engine, job_ref=ref),
        build_scheduler(every_minute, second_engine, job_ref=ref),
    ]
    for s in schedulers:
        s.resume()
    deadline = time.time() + 10
    while not log.exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(1.5)
    for s in schedulers:
        stop_scheduler(s, wait=True)
    second_engine.dispose()
    assert len(log.read_text().splitlines()) == 1

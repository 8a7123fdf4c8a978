"""Structured logs and Prometheus metrics."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.models import Request
from brandgate.db.schema import upgrade
from brandgate.logs import JsonFormatter
from brandgate.metrics import Metrics
from brandgate.settings import Settings


def test_a_log_event_is_one_json_line_with_its_ids() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("brandgate.test.observability")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.INFO)
    try:
        logger.info("image %d/%d %s", 1, 4, "flag",
                    extra={"event": "image.recorded", "request_id": "r1", "image_id": "i1", "cost_usd": 0.5})
        try:
            raise ValueError("bad\nthing")
        except ValueError:
            logger.exception("it broke", extra={"event": "request.crashed", "request_id": "r1"})
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "image 1/4 flag" and first["level"] == "info"
    assert (first["event"], first["request_id"], first["image_id"], first["cost_usd"]) == \
        ("image.recorded", "r1", "i1", 0.5)
    assert first["ts"].endswith("+00:00")
    assert second["event"] == "request.crashed" and "ValueError: bad" in second["exception"]


def test_metrics_report_jobs_from_the_database_and_work_done_here(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'm.db'}")
    upgrade(settings)
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)
    with sessions() as session, session.begin():
        for index, (state, queue) in enumerate(
            [("queued", "preview"), ("queued", "preview"), ("queued", "export"), ("running", "preview"),
             ("done", "preview")]
        ):
            session.add(Request(
                id=f"r{index}", requested_by="ana", kit_name="acme", kit_hash="k", brief={}, brief_hash="b",
                profile_name="preview", seed=1, n_images=1, queue=queue, state=state, attempts=0,
                stage_timings={}, gpu_seconds=0.0, cost_usd=0.0,
            ))
    metrics = Metrics()
    metrics.watch_jobs(sessions)
    metrics.stage("checking", 0.3)
    metrics.check_failed("BG101", "fail")
    metrics.spent("acme", 12.0, 0.0083)
    metrics.image("flag")
    text = metrics.exposition().decode()
    engine.dispose()
    assert 'brandgate_jobs{state="queued"} 3.0' in text
    assert 'brandgate_jobs{state="running"} 1.0' in text
    assert 'brandgate_jobs{state="failed"} 0.0' in text
    assert 'brandgate_queue_depth{queue="preview"} 2.0' in text
    assert 'brandgate_queue_depth{queue="export"} 1.0' in text
    assert 'brandgate_stage_seconds_bucket{le="0.5",stage="checking"} 1.0' in text
    assert 'brandgate_check_failures_total{check_id="BG101",status="fail"} 1.0' in text
    assert 'brandgate_cost_usd_total{kit="acme"} 0.0083' in text
    assert 'brandgate_images_total{verdict="flag"} 1.0' in text


def test_metrics_still_answer_while_the_database_is_away(tmp_path: Path) -> None:
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'missing' / 'nothing-here.db'}")
    engine = make_engine(settings)
    metrics = Metrics()
    metrics.watch_jobs(make_sessionmaker(engine))
    text = metrics.exposition().decode()
    engine.dispose()
    assert "brandgate_stage_seconds" in text and "brandgate_jobs{" not in text

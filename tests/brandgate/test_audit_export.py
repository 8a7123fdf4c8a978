"""`brandgate audit export`: filters, both formats, one row per image with checks, approval and cost."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from brandgate.db.approvals import decide
from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.export import CSV_COLUMNS, ExportFilter, export_records, write_csv
from brandgate.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DAY = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)


@pytest.fixture
def trail(db_settings: Settings, add_image: Any) -> dict[str, str]:
    """Five images over three days and two kits; one approved, one rejected by a manager."""
    engine = make_engine(db_settings)
    sessions = make_sessionmaker(engine)
    ids: dict[str, str] = {}
    with sessions.begin() as session:
        ids["acme_day1_a"] = add_image(session, kit="acme", created_at=DAY, request_id="req1").id
        ids["acme_day1_b"] = add_image(
            session, kit="acme", created_at=DAY, request_id="req1", verdict="pass", checks=[("BG101", "pass", "flag")]
        ).id
        ids["nord_day2"] = add_image(
            session, kit="nordwind", created_at=DAY + timedelta(days=1), headline='=HYPERLINK("http://evil")'
        ).id
        ids["acme_day3"] = add_image(
            session,
            kit="acme",
            created_at=DAY + timedelta(days=2),
            verdict="reject",
            checks=[("BG601", "fail", "reject"), ("BG101", "error", "flag")],
        ).id
        ids["nord_day3"] = add_image(session, kit="nordwind", created_at=DAY + timedelta(days=2, hours=5)).id
    decide(sessions, ids["acme_day1_a"], "approved", "U1ALICE", "fine")
    decide(sessions, ids["nord_day2"], "rejected", "U2BOB", "-colour off")
    engine.dispose()
    return ids


def _ids(engine: Engine, filters: ExportFilter, batch: int = 2) -> list[str]:
    return [record["image_id"] for record in export_records(engine, filters, batch=batch)]


def test_export_records_carry_checks_approval_and_cost(db_settings: Settings, trail: dict[str, str]) -> None:
    engine = make_engine(db_settings)
    try:
        records = {r["image_id"]: r for r in export_records(engine, batch=2)}
    finally:
        engine.dispose()
    assert len(records) == 5
    approved = records[trail["acme_day1_a"]]
    assert approved["status"] == "approved" and approved["verdict"] == "flag"
    assert approved["approval"]["decided_by"] == "U1ALICE" and approved["approval"]["reason"] == "fine"
    assert [c["id"] for c in approved["checks"]] == ["BG101", "BG601"]
    assert approved["failed_checks"] == ["BG101"]
    assert approved["cost_usd"] == pytest.approx(0.012) and approved["gpu_seconds"] == pytest.approx(1.5)
    assert approved["kit"] == "acme" and approved["requested_by"] == "U123MARKETER"
    assert approved["created_at"] == "2026-11-20T09:30:00.000000Z"
    assert "evidence" not in approved["checks"][0]
    assert approved["prompt"] == "five red apples" and approved["headline"] == "Fresh Deals Friday"
    rejected = records[trail["acme_day3"]]
    assert rejected["status"] == "reject" and rejected["approval"] is None
    assert rejected["failed_checks"] == ["BG101", "BG601"]


def test_export_with_evidence_carries_each_checks_evidence(db_settings: Settings, trail: dict[str, str]) -> None:
    engine = make_engine(db_settings)
    try:
        records = {r["image_id"]: r for r in export_records(engine, ExportFilter(request_id="req1"), evidence=True)}
    finally:
        engine.dispose()
    record = records[trail["acme_day1_a"]]
    assert [c["evidence"] for c in record["checks"]] == [{"score": 0.5}, {"score": 0.5}]


def test_export_filters_by_time_kit_and_request(db_settings: Settings, trail: dict[str, str]) -> None:
    engine = make_engine(db_settings)
    try:
        everything = _ids(engine, ExportFilter())
        # oldest first, the same order whatever the batch size
        assert everything == _ids(engine, ExportFilter(), batch=1000)
        assert everything[-1] == trail["nord_day3"] and set(everything[:2]) == {
            trail["acme_day1_a"],
            trail["acme_day1_b"],
        }
        assert _ids(engine, ExportFilter(kit="nordwind")) == [trail["nord_day2"], trail["nord_day3"]]
        assert set(_ids(engine, ExportFilter(request_id="req1"))) == {trail["acme_day1_a"], trail["acme_day1_b"]}
        day2 = DAY.replace(hour=0, minute=0) + timedelta(days=1)
        assert _ids(engine, ExportFilter(since=day2, until=day2 + timedelta(days=1))) == [trail["nord_day2"]]
        assert _ids(engine, ExportFilter(since=DAY + timedelta(days=2), kit="acme")) == [trail["acme_day3"]]
        # since is inclusive, until exclusive, to the microsecond
        assert _ids(engine, ExportFilter(until=DAY)) == []
        assert len(_ids(engine, ExportFilter(since=DAY, until=DAY + timedelta(microseconds=1)))) == 2
        assert _ids(engine, ExportFilter(kit="no-such-kit")) == []
    finally:
        engine.dispose()


def test_csv_has_one_row_per_image_and_defuses_formulas(db_settings: Settings, trail: dict[str, str]) -> None:
    engine = make_engine(db_settings)
    out = io.StringIO()
    try:
        assert write_csv(export_records(engine), out) == 5
    finally:
        engine.dispose()
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert list(rows[0]) == CSV_COLUMNS and len(rows) == 5
    nord = next(r for r in rows if r["image_id"] == trail["nord_day2"])
    assert nord["headline"].startswith("'=HYPERLINK")
    assert nord["approval_reason"] == "'-colour off" and nord["approval_by"] == "U2BOB"
    assert [c["id"] for c in json.loads(nord["checks"])] == ["BG101", "BG601"]
    assert nord["failed_checks"] == "BG101" and float(nord["cost_usd"]) == pytest.approx(0.012)


def _cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "BRANDGATE_DATABASE_URL": settings.database_url}
    return subprocess.run(
        [sys.executable, "-m", "brandgate", "audit", "export", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("db_settings", ["sqlite"], indirect=True)
def test_export_cli_jsonl_to_stdout_and_csv_to_file(
    db_settings: Settings, trail: dict[str, str], tmp_path: Path, run_cli: Any
) -> None:
    done = _cli(db_settings, "--kit", "nordwind", "--since", "2026-11-21", "--until", "2026-11-21")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [json.loads(line)["image_id"] for line in lines] == [trail["nord_day2"]]
    assert "exported 1 image" in done.stderr
    target = tmp_path / "out" / "trail.csv"
    target.parent.mkdir()
    code, out, err = run_cli(
        db_settings, "audit", "export", "--format", "csv", "--out", str(target), "--since", "2026-11-22T00:00:00Z"
    )
    assert code == 0, err
    assert out == "" and f"exported 2 images to {target}" in err
    rows = list(csv.DictReader(target.open(encoding="utf-8")))
    assert {r["image_id"] for r in rows} == {trail["acme_day3"], trail["nord_day3"]}
    assert [p.name for p in target.parent.iterdir()] == ["trail.csv"]  # no temp file left behind


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "last tuesday"], "--since 'last tuesday' is not a date"),
        (["--until", "2026-13-01"], "--until '2026-13-01' is not a date"),
        (["--since", "2026-11-22", "--until", "2026-11-20"], "is not before --until"),
        (["--format", "xml"], "xml"),
        (["--out", "/nonexistent-folder/x.jsonl"], "folder /nonexistent-folder does not exist"),
    ],
)
def test_export_cli_bad_input_exits_2(settings: Settings, run_cli: Any, args: list[str], message: str) -> None:
    code, out, err = run_cli(settings, "audit", "export", *args)
    assert code == 2, (out, err)
    assert message in err and out == ""


def test_export_cli_refuses_a_database_behind_head(settings: Settings, run_cli: Any) -> None:
    code, _, err = run_cli(settings, "audit", "export")
    assert code == 1
    assert "run `brandgate db upgrade`" in err

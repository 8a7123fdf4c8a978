"""`brandgate review list|approve|reject` through the real CLI on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage
from sqlalchemy import select

from brandgate.db.audit import verify_chain
from brandgate.db.engine import make_engine, make_sessionmaker
from brandgate.db.models import Approval, AuditEvent
from brandgate.settings import Settings
from policies.perceptual import phash_hex


def _seed(settings: Settings, add_image: Any) -> dict[str, str]:
    now = datetime.now(UTC)
    engine = make_engine(settings)
    try:
        with make_sessionmaker(engine).begin() as session:
            ids = {
                "new_flag": add_image(session, verdict="flag", created_at=now - timedelta(hours=1)).id,
                "old_unverified": add_image(
                    session,
                    verdict="unverified",
                    created_at=now - timedelta(hours=30),
                    checks=[("BG401", "unverified", "flag"), ("BG101", "pass", "flag"), ("BG104", "fail", "flag")],
                ).id,
                "nordwind": add_image(session, kit="nordwind", verdict="flag", created_at=now - timedelta(hours=5)).id,
                "passed": add_image(session, verdict="pass", created_at=now - timedelta(hours=40)).id,
                "rejected_by_checks": add_image(session, verdict="reject", created_at=now - timedelta(hours=40)).id,
            }
    finally:
        engine.dispose()
    return ids


def test_list_shows_waiting_images_oldest_first_with_failed_checks(
    db_settings: Settings, add_image: Any, run_cli: Any
) -> None:
    ids = _seed(db_settings, add_image)
    code, out, err = run_cli(db_settings, "review", "list", "--json")
    assert code == 0, err
    items = json.loads(out)["items"]
    assert [i["image_id"] for i in items] == [ids["old_unverified"], ids["nordwind"], ids["new_flag"]]
    first = items[0]
    assert set(first) == {"image_id", "request_id", "kit", "verdict", "checks", "requested_by", "waiting_s"}
    assert first["verdict"] == "unverified" and first["kit"] == "acme" and first["requested_by"] == "U123MARKETER"
    # the passing check is not shown; the failed and the undecided are, in check ID order
    assert first["checks"] == [
        {"id": "BG104", "status": "fail", "message": "BG104 said fail"},
        {"id": "BG401", "status": "unverified", "message": "BG401 said unverified"},
    ]
    assert 30 * 3600 - 60 < first["waiting_s"] < 30 * 3600 + 600

    code, out, _ = run_cli(db_settings, "review", "list", "--kit", "nordwind", "--json")
    assert code == 0 and [i["image_id"] for i in json.loads(out)["items"]] == [ids["nordwind"]]


def test_approve_and_reject_record_decisions_as_cli_users(db_settings: Settings, add_image: Any, run_cli: Any) -> None:
    ids = _seed(db_settings, add_image)
    code, out, err = run_cli(db_settings, "review", "approve", ids["new_flag"], "--by", "anna")
    assert code == 0, err
    assert f"image {ids['new_flag']} approved by cli:anna" in out
    code, _, err = run_cli(
        db_settings, "review", "reject", ids["old_unverified"], "--by", "bob", "--reason", "counts are wrong"
    )
    assert code == 0, err

    engine = make_engine(db_settings)
    try:
        with make_sessionmaker(engine)() as session:
            decided = {a.image_id: (a.decision, a.decided_by, a.reason) for a in session.scalars(select(Approval))}
            events = session.scalars(select(AuditEvent).where(AuditEvent.kind.like("image.%ed"))).all()
        assert decided == {
            ids["new_flag"]: ("approved", "cli:anna", None),
            ids["old_unverified"]: ("rejected", "cli:bob", "counts are wrong"),
        }
        assert {(e.kind, e.actor) for e in events if e.kind in ("image.approved", "image.rejected")} == {
            ("image.approved", "cli:anna"),
            ("image.rejected", "cli:bob"),
        }
        assert verify_chain(engine).intact
    finally:
        engine.dispose()
    # decided images leave the queue
    code, out, _ = run_cli(db_settings, "review", "list", "--json")
    assert [i["image_id"] for i in json.loads(out)["items"]] == [ids["nordwind"]]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("reject", "{new_flag}", "--by", "anna"), "a rejection needs a reason"),
        (("reject", "{new_flag}", "--by", "anna", "--reason", "  "), "a rejection needs a reason"),
        (("approve", "{passed}", "--by", "anna"), "only flagged or unverified images wait"),
        (("approve", "{rejected_by_checks}", "--by", "anna"), "only flagged or unverified images wait"),
        (("approve", "0" * 32, "--by", "anna"), "there is no image"),
        (("approve", "{new_flag}", "--by", "an na"), "--by 'an na': give a name"),
        (("list", "--kit", "acmee"), "acmee"),
    ],
)
def test_anything_else_exits_2_with_one_line_and_records_nothing(
    db_settings: Settings, add_image: Any, run_cli: Any, args: tuple[str, ...], message: str
) -> None:
    ids = _seed(db_settings, add_image)
    code, _, err = run_cli(db_settings, "review", *(a.format(**ids) for a in args))
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: ") and message in err, err
    engine = make_engine(db_settings)
    try:
        with make_sessionmaker(engine)() as session:
            assert session.scalars(select(Approval)).all() == []
    finally:
        engine.dispose()


def test_first_decision_wins_and_the_second_is_told_who(db_settings: Settings, add_image: Any, run_cli: Any) -> None:
    ids = _seed(db_settings, add_image)
    first = run_cli(db_settings, "review", "reject", ids["new_flag"], "--by", "anna", "--reason", "logo too small")
    assert first[0] == 0
    code, _, err = run_cli(db_settings, "review", "approve", ids["new_flag"], "--by", "bob")
    assert code == 2
    assert f"image {ids['new_flag']} was already rejected by cli:anna; nothing changed" in err


def test_a_stripped_copy_is_matched_to_its_image_and_names_the_decision(
    db_settings: Settings, add_image: Any, run_cli: Any, tmp_path: Path
) -> None:
    preview, export = (tmp_path / "preview.png"), (tmp_path / "export.png")
    hashes = []
    for path, colour in ((preview, (200, 30, 40)), (export, (20, 160, 60))):
        picture = PILImage.new("RGB", (96, 96), colour)
        for x in range(0, 96, 12):
            picture.paste((250, 250, 250), (x, x, x + 12, 96 - x if colour[1] > 100 else x + 12))
        picture.save(path)  # no credentials: a copy with its manifest stripped
        hashes.append(phash_hex(np.asarray(picture)))
    engine = make_engine(db_settings)
    try:
        with make_sessionmaker(engine).begin() as session:
            flagged = add_image(session, verdict="flag", phash=hashes[0]).id
            hq = add_image(session, verdict="pass", phash=hashes[1], kind="export", parent_image_id=flagged).id
    finally:
        engine.dispose()
    assert run_cli(db_settings, "review", "approve", flagged, "--by", "anna")[0] == 0
    code, out, _ = run_cli(db_settings, "verify", str(preview))
    # exit 6: no credentials, but a stripped copy of one of ours, shown with its verdict and decision
    assert code == 6 and f"visually matches image {flagged}" in out and ", approved by cli:anna at " in out
    code, out, _ = run_cli(db_settings, "verify", str(export), "--json")
    match = json.loads(out)["lookup"]["match"]
    assert code == 6 and match["image_id"] == hq
    assert (match["decision"], match["decided_by"]) == ("approved", "cli:anna") and match["decided_at"]
    assert match["decided_on_preview"] == flagged
